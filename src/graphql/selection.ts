import { Kind, type GraphQLResolveInfo, type SelectionNode } from 'graphql';

/**
 * Whether the client selected `name` directly under the field being resolved (through fragments too), so that a
 * resolver can skip work nobody reads. `@skip` / `@include` are not evaluated: a conditional selection counts.
 */
export function selectsField(info: GraphQLResolveInfo, name: string): boolean {
  const selects = (selections: readonly SelectionNode[]): boolean =>
    selections.some((selection) => {
      switch (selection.kind) {
        case Kind.FIELD:
          return selection.name.value === name;
        case Kind.INLINE_FRAGMENT:
          return selects(selection.selectionSet.selections);
        case Kind.FRAGMENT_SPREAD:
          return selects(info.fragments[selection.name.value]?.selectionSet.selections ?? []);
      }
    });
  return info.fieldNodes.some((node) => selects(node.selectionSet?.selections ?? []));
}
