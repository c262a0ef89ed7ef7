import type { FieldError } from '../errors/domain-error';
import { parseStorableJson, parseStorableText } from '../validation/storable';
import type { SqlValues } from './sql';

/**
 * Conditions on what a JSON document holds (a template's configuration, an experiment's documents): containment
 * (`contains`, PostgreSQL's `@>`) and conditions on the values at JSON pointers. A pointer is parsed here into its
 * segments and bound as a `text[]` parameter of `#>`: no client text ever becomes SQL, a jsonpath or an identifier.
 */
export interface JsonFilter {
  contains?: Record<string, unknown> | null;
  paths?: JsonPathCondition[] | null;
}

export interface JsonPathCondition {
  path: string;
  /** The value at `path` is this JSON value (null: JSON null). */
  equals?: unknown;
  /** The value at `path` is one of these. */
  in?: unknown[] | null;
  /** true: `path` leads to a value (JSON null included); false: it leads nowhere. */
  exists?: boolean | null;
}

export const JSON_FILTER_MAX_PATHS = 20;
export const JSON_FILTER_MAX_IN = 50;
export const JSON_POINTER_MAX_SEGMENTS = 32;
export const JSON_POINTER_MAX_LENGTH = 500;

type Test = { equals: unknown } | { in: unknown[] } | { exists: boolean };

/** A filter checked and ready for SQL: pointers as their segments. */
export interface ParsedJsonFilter {
  contains?: Record<string, unknown>;
  conditions: Array<{ segments: string[]; test: Test }>;
}

/** The filter at `path` (e.g. `/filter/configuration`), or undefined with its problems in `errors`. */
export function parseJsonFilter(filter: JsonFilter | null | undefined, path: string, errors: FieldError[]): ParsedJsonFilter | undefined {
  if (!filter) return undefined;
  const before = errors.length;
  const parsed: ParsedJsonFilter = { conditions: [] };
  if (filter.contains !== undefined && filter.contains !== null) {
    parsed.contains = parseStorableJson(filter.contains, `${path}/contains`, errors);
  }
  const conditions = filter.paths ?? [];
  if (conditions.length > JSON_FILTER_MAX_PATHS) {
    errors.push({ path: `${path}/paths`, message: `must hold at most ${JSON_FILTER_MAX_PATHS} conditions (got ${conditions.length})` });
    return undefined;
  }
  conditions.forEach((condition, index) => {
    const at = `${path}/paths/${index}`;
    const segments = parseJsonPointer(condition.path, `${at}/path`, errors);
    const test = parseTest(condition, at, errors);
    if (segments && test) parsed.conditions.push({ segments, test });
  });
  return errors.length === before ? parsed : undefined;
}

/**
 * RFC 6901: "" is the whole document (use `contains` for that), otherwise "/" before each segment, with "~1" for a
 * "/" and "~0" for a "~" inside a segment.
 */
export function parseJsonPointer(pointer: string, path: string, errors: FieldError[]): string[] | undefined {
  if (parseStorableText(pointer, path, errors) === undefined) return undefined;
  if (pointer.length > JSON_POINTER_MAX_LENGTH) {
    errors.push({ path, message: `must be at most ${JSON_POINTER_MAX_LENGTH} characters` });
    return undefined;
  }
  if (!pointer.startsWith('/')) {
    errors.push({ path, message: 'must be a JSON pointer starting with "/", e.g. "/model/type"' });
    return undefined;
  }
  const segments = pointer.slice(1).split('/');
  if (segments.length > JSON_POINTER_MAX_SEGMENTS) {
    errors.push({ path, message: `must have at most ${JSON_POINTER_MAX_SEGMENTS} segments` });
    return undefined;
  }
  if (segments.some((segment) => /~(?![01])/.test(segment))) {
    errors.push({ path, message: 'may escape only "~" as "~0" and "/" as "~1"' });
    return undefined;
  }
  return segments.map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parseTest(condition: JsonPathCondition, path: string, errors: FieldError[]): Test | undefined {
  const given = (['equals', 'in', 'exists'] as const).filter(
    (name) => condition[name] !== undefined && (name === 'equals' || condition[name] !== null),
  );
  if (given.length !== 1) {
    errors.push({ path, message: `must have exactly one of equals, in, exists (got ${given.length === 0 ? 'none' : given.join(', ')})` });
    return undefined;
  }
  switch (given[0]) {
    case 'equals': {
      const before = errors.length;
      parseStorableJson(condition.equals, `${path}/equals`, errors);
      return errors.length === before ? { equals: condition.equals } : undefined;
    }
    case 'in': {
      const candidates = condition.in!;
      if (candidates.length === 0 || candidates.length > JSON_FILTER_MAX_IN) {
        errors.push({ path: `${path}/in`, message: `must hold 1 to ${JSON_FILTER_MAX_IN} values (got ${candidates.length})` });
        return undefined;
      }
      const before = errors.length;
      parseStorableJson(candidates, `${path}/in`, errors);
      return errors.length === before ? { in: candidates } : undefined;
    }
    case 'exists':
      return { exists: condition.exists! };
  }
}

/**
 * A path into a JSON column that has an index of its own on `column #> '{...}'` (a btree, so PostgreSQL also keeps
 * statistics of the values there): object keys only, as letters, digits and "_", so that it can be written into SQL
 * as a constant, which the index's expression must match.
 */
export type IndexedJsonPath = readonly string[];

/**
 * The filter as SQL conditions on `column` (AND-ed by the caller). A value at a pointer is compared exactly, with `#>`
 * and jsonb equality; where the pointer names object keys only and the value is a scalar, the same condition is also
 * written as a containment, which a GIN index (`jsonb_path_ops`) on the column can serve: the index finds the
 * candidates, the exact comparison decides.
 *
 * On an `indexed` path the comparison is written with the path as a constant instead, and alone: the planner then
 * serves it from that path's btree index and estimates it from the statistics of the values there (it has none for a
 * containment inside a document, and guesses). A containment is split the same way: each scalar it holds at an
 * indexed path becomes an equality there, which is exact (below the top level a scalar contains only itself, and a
 * path leads through objects only), and the rest stays a containment.
 */
export function jsonFilterConditions(
  column: string,
  filter: ParsedJsonFilter,
  values: SqlValues,
  indexed: readonly IndexedJsonPath[] = [],
): string[] {
  const conditions: string[] = [];
  if (filter.contains) {
    const { rest, leaves } = splitContainment(filter.contains, indexed);
    if (rest) conditions.push(`${column} @> ${values.bind(JSON.stringify(rest))}::jsonb`);
    for (const { path, value } of leaves) conditions.push(`${indexedValue(column, path)} = ${values.bind(JSON.stringify(value))}::jsonb`);
  }
  for (const { segments, test } of filter.conditions) {
    const path = indexed.find((candidate) => samePath(candidate, segments));
    const at = path ? indexedValue(column, path) : `${column} #> ${values.bind(segments)}::text[]`;
    if ('exists' in test) {
      conditions.push(`${at} is ${test.exists ? 'not ' : ''}null`);
      continue;
    }
    const candidates = 'equals' in test ? [test.equals] : test.in;
    const exact =
      candidates.length === 1
        ? `${at} = ${values.bind(JSON.stringify(candidates[0]))}::jsonb`
        : `${at} = any(${values.bind(candidates.map((candidate) => JSON.stringify(candidate)))}::jsonb[])`;
    if (!path && segments.every(isObjectKey) && candidates.every(isScalar)) {
      const contained = candidates.map((candidate) => `${column} @> ${values.bind(JSON.stringify(nested(segments, candidate)))}::jsonb`);
      conditions.push(contained.length === 1 ? contained[0] : `(${contained.join(' or ')})`);
    }
    conditions.push(exact);
  }
  return conditions;
}

/**
 * Whether one plan serves the filter for any values: a single equality (or a list of one value) at an indexed path,
 * which that path's btree index answers in page order whatever the value, or no condition at all. A containment (the
 * GIN index, whose best use depends on how common the document is), a list of values or several conditions are
 * planned with their values.
 */
export function jsonFilterPlanFitsEveryValue(filter: ParsedJsonFilter, indexed: readonly IndexedJsonPath[]): boolean {
  if (filter.contains) {
    const { rest, leaves } = splitContainment(filter.contains, indexed);
    return rest === undefined && leaves.length === 1 && filter.conditions.length === 0;
  }
  if (filter.conditions.length === 0) return true;
  if (filter.conditions.length !== 1) return false;
  const [{ segments, test }] = filter.conditions;
  return ('equals' in test || ('in' in test && test.in.length === 1)) && indexed.some((path) => samePath(path, segments));
}

/** A list of two or more values at an indexed path, and the filter without it. */
export interface IndexedValueList {
  path: IndexedJsonPath;
  candidates: unknown[];
  rest: ParsedJsonFilter;
}

/**
 * The filter's first list of values at an indexed path, taken out of it: a caller can read that path's index once per
 * value, each in page order, rather than have PostgreSQL merge or sort what one scan of all the values finds.
 */
export function takeIndexedValueList(filter: ParsedJsonFilter, indexed: readonly IndexedJsonPath[]): IndexedValueList | undefined {
  for (const [position, { segments, test }] of filter.conditions.entries()) {
    const path = indexed.find((candidate) => samePath(candidate, segments));
    if (path && 'in' in test && test.in.length > 1) {
      const conditions = filter.conditions.filter((_, other) => other !== position);
      return { path, candidates: test.in, rest: { ...filter, conditions } };
    }
  }
  return undefined;
}

/** Whether the filter holds no condition. */
export function isEmptyJsonFilter(filter: ParsedJsonFilter): boolean {
  return filter.contains === undefined && filter.conditions.length === 0;
}

/** `column #> '{model,type}'`, exactly as an index on that path spells its expression. */
export function indexedValue(column: string, path: IndexedJsonPath): string {
  if (path.length === 0 || !path.every((key) => /^[A-Za-z0-9_]+$/.test(key) && isObjectKey(key))) {
    throw new Error(`not a path an index can be declared on: ${JSON.stringify(path)}`);
  }
  return `(${column} #> '{${path.join(',')}}'::text[])`;
}

function samePath(path: IndexedJsonPath, segments: readonly string[]): boolean {
  return path.length === segments.length && path.every((key, index) => key === segments[index]);
}

/**
 * `contains` as the scalars it holds at indexed paths and the containment of everything else (undefined when nothing
 * else is left). An object left empty once those scalars are out goes too: an equality below it implies it is an object.
 */
function splitContainment(
  contains: Record<string, unknown>,
  indexed: readonly IndexedJsonPath[],
): { rest?: Record<string, unknown>; leaves: Array<{ path: IndexedJsonPath; value: unknown }> } {
  const leaves: Array<{ path: IndexedJsonPath; value: unknown }> = [];
  const take = (object: Record<string, unknown>, prefix: string[]): Record<string, unknown> | undefined => {
    const rest: Record<string, unknown> = {};
    let taken = false;
    for (const [key, value] of Object.entries(object)) {
      const at = [...prefix, key];
      const path = indexed.find((candidate) => samePath(candidate, at));
      if (path && isScalar(value)) {
        leaves.push({ path, value });
        taken = true;
      } else if (isPlainObject(value) && Object.keys(value).length > 0 && indexed.some((candidate) => startsWith(candidate, at))) {
        const inner = take(value, at);
        if (inner) rest[key] = inner;
        else taken = true;
      } else rest[key] = value;
    }
    return taken && Object.keys(rest).length === 0 ? undefined : rest;
  };
  return { rest: take(contains, []), leaves };
}

function startsWith(path: IndexedJsonPath, prefix: readonly string[]): boolean {
  return prefix.length < path.length && prefix.every((key, index) => key === path[index]);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** A segment that can only name an object's key: an array index is digits. */
function isObjectKey(segment: string): boolean {
  return !/^\d+$/.test(segment) && segment !== '-';
}

function isScalar(value: unknown): boolean {
  return value === null || typeof value !== 'object';
}

/** `{"a": {"b": value}}` for segments ["a", "b"]. */
function nested(segments: string[], value: unknown): unknown {
  return segments.reduceRight<unknown>((inner, key) => ({ [key]: inner }), value);
}
