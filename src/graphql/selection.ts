import { Kind, type FieldNode, type FragmentDefinitionNode, type GraphQLResolveInfo, type SelectionNode } from 'graphql';

/** The field nodes named `name` among `selections`, looking through inline fragments and fragment spreads. */
function fieldNodesNamed(
  selections: readonly SelectionNode[],
  name: string,
  fragments: Record<string, FragmentDefinitionNode>,
): FieldNode[] {
  const found: FieldNode[] = [];
  const visit = (list: readonly SelectionNode[]): void => {
    for (const selection of list) {
      switch (selection.kind) {
        case Kind.FIELD:
          if (selection.name.value === name) found.push(selection);
          break;
        case Kind.INLINE_FRAGMENT:
          visit(selection.selectionSet.selections);
          break;
        case Kind.FRAGMENT_SPREAD:
          visit(fragments[selection.name.value]?.selectionSet.selections ?? []);
          break;
      }
    }
  };
  visit(selections);
  return found;
}

/** The sub-selections of the fields named `name` among `selections` (see `fieldNodesNamed`). */
function fieldsNamed(
  selections: readonly SelectionNode[],
  name: string,
  fragments: Record<string, FragmentDefinitionNode>,
): Array<readonly SelectionNode[] | undefined> {
  return fieldNodesNamed(selections, name, fragments).map((node) => node.selectionSet?.selections);
}

/** The fields named `name` selected directly under the field being resolved, through aliases and fragments. */
export function selectedFieldNodes(info: GraphQLResolveInfo, name: string): FieldNode[] {
  return info.fieldNodes.flatMap((node) => fieldNodesNamed(node.selectionSet?.selections ?? [], name, info.fragments));
}

/** Whether `node` selects `name` directly (through fragments). */
export function nodeSelects(info: GraphQLResolveInfo, node: FieldNode, name: string): boolean {
  return fieldNodesNamed(node.selectionSet?.selections ?? [], name, info.fragments).length > 0;
}

/**
 * Whether the client selected `name` directly under the field being resolved (through fragments too), so that a
 * resolver can skip work nobody reads. `@skip` / `@include` are not evaluated: a conditional selection counts.
 */
export function selectsField(info: GraphQLResolveInfo, name: string): boolean {
  return selectsPath(info, [name]);
}

/**
 * Whether the client selected the field at `path` below the field being resolved, e.g. `['edges', 'node',
 * 'configuration']` under a connection, through aliases and fragments at every level. Like `selectsField`,
 * `@skip` / `@include` are not evaluated: a conditional selection counts.
 */
export function selectsPath(info: GraphQLResolveInfo, path: readonly string[]): boolean {
  let levels: Array<readonly SelectionNode[]> = info.fieldNodes.map((node) => node.selectionSet?.selections ?? []);
  for (const [index, name] of path.entries()) {
    const next = levels.flatMap((selections) => fieldsNamed(selections, name, info.fragments));
    if (next.length === 0) return false;
    if (index === path.length - 1) return true;
    levels = next.filter((selections): selections is readonly SelectionNode[] => selections !== undefined);
  }
  return path.length === 0;
}

/** Which of `names` the client selected at `path` below the field being resolved (see `selectsPath`). */
export function selectedAmong<Name extends string>(info: GraphQLResolveInfo, path: readonly string[], names: readonly Name[]): Name[] {
  return names.filter((name) => selectsPath(info, [...path, name]));
}
