import deepmerge from 'deepmerge';

/**
 * The effective configuration of an experiment made from a template: objects merge recursively, while scalars and
 * arrays from the override replace the template's (a feature list is replaced whole, never concatenated). The result
 * shares nothing with the inputs: deepmerge copies objects but hands arrays over by reference, so it is cloned whole.
 */
export function mergeConfiguration<T extends object>(base: T, override: object): T {
  const merged = deepmerge<T>(base, override, {
    arrayMerge: (_target, source: unknown[]) => source,
    isMergeableObject: (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
  });
  return structuredClone(merged);
}
