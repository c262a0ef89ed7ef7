/**
 * Whether two JSON values hold the same data: key order aside (jsonb keeps its own), and whatever their objects'
 * prototypes (a GraphQL literal's JSON objects have none, a parsed body's and a row's have Object's), which
 * `isDeepStrictEqual` would count as a difference. Recursive: values reach it checked by `parseStorableJson` (bounded
 * depth) or read from a jsonb column they were stored in that way.
 */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, index) => sameJson(item, b[index]));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left);
  return keys.length === Object.keys(right).length && keys.every((key) => Object.hasOwn(right, key) && sameJson(left[key], right[key]));
}
