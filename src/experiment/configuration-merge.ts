import deepmerge from 'deepmerge';

type JsonObject = Record<string, unknown>;

/**
 * The effective configuration of an experiment made from a template: objects merge recursively, while scalars and
 * arrays from the override replace the template's (a feature list is replaced whole, never concatenated).
 */
export function mergeConfiguration<T extends JsonObject>(base: T, override: JsonObject): T {
  return deepmerge(base, override, {
    arrayMerge: (_target, source) => source,
    isMergeableObject: (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  }) as T;
}
