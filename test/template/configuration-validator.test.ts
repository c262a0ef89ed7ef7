import { mergeConfiguration } from '../../src/experiment/configuration-merge';
import type { FieldError } from '../../src/errors/domain-error';
import type { ConfigurationSection } from '../../src/template/configuration-schema';
import { parseConfiguration, parseConfigurationSection, parseDraftConfiguration } from '../../src/template/configuration-validator';
import { MAX_JSON_BYTES as MAX_CONFIGURATION_BYTES } from '../../src/validation/storable';
import { validConfiguration } from '../support/factories';

/**
 * The problems a parser reports for a value, paths from the configuration's root: where the input is the configuration
 * itself, each problem's pointer inside the configuration is its path.
 */
function problemsOf(parse: (errors: FieldError[]) => unknown): FieldError[] {
  const errors: FieldError[] = [];
  parse(errors);
  return errors.map(({ configurationPointer, ...problem }) => {
    expect(configurationPointer).toBe(problem.path);
    return problem;
  });
}
const validateConfiguration = (value: unknown) => problemsOf((errors) => parseConfiguration(value, '', errors));
const validateConfigurationSection = (section: ConfigurationSection, value: unknown) =>
  problemsOf((errors) => parseConfigurationSection(section, value, `/${section}`, errors));
const validateDraftConfiguration = (value: unknown) => problemsOf((errors) => parseDraftConfiguration(value, '', errors));

/** A valid configuration with one part replaced (or removed, with `undefined`). */
function withPart(key: string, value: unknown): Record<string, unknown> {
  const configuration: Record<string, unknown> = { ...validConfiguration() };
  if (value === undefined) delete configuration[key];
  else configuration[key] = value;
  return configuration;
}

describe('configuration validator', () => {
  describe('whole configuration', () => {
    it('accepts a valid configuration, with and without the optional sections', () => {
      expect(validateConfiguration(validConfiguration())).toEqual([]);
      const { parameters: _p, validation: _v, ...required } = validConfiguration();
      expect(validateConfiguration(required)).toEqual([]);
      expect(validateConfiguration({ dataset: { source: 'x' }, features: [], model: { type: 'kmeans' } })).toEqual([]);
    });

    it('reports a missing required section at its path', () => {
      expect(validateConfiguration(withPart('dataset', undefined))).toEqual([{ path: '/dataset', message: 'is required' }]);
      expect(validateConfiguration(withPart('model', undefined))).toEqual([{ path: '/model', message: 'is required' }]);
    });

    it('rejects an unknown top-level key', () => {
      expect(validateConfiguration(withPart('extra', { anything: true }))).toEqual([
        { path: '/extra', message: 'is not an allowed property' },
      ]);
    });

    it('escapes unknown keys as JSON pointers', () => {
      expect(validateConfiguration(withPart('a/b~c', 1))).toEqual([{ path: '/a~1b~0c', message: 'is not an allowed property' }]);
    });

    it('reports a wrong type at its path', () => {
      expect(validateConfiguration(withPart('features', { name: 'tenure' }))).toEqual([{ path: '/features', message: 'must be array' }]);
      expect(validateConfiguration(withPart('dataset', 'churn.csv'))).toEqual([{ path: '/dataset', message: 'must be object' }]);
    });

    it('rejects a non-object configuration', () => {
      for (const value of [null, [], 'config', 42]) {
        expect(validateConfiguration(value).map((e) => e.path)).toEqual(['']);
      }
    });

    it('reports a nested enum violation with the allowed values', () => {
      const errors = validateConfiguration(withPart('model', { type: 'random_forest', framework: 'nope' }));
      expect(errors).toEqual([{ path: '/model/framework', message: expect.stringContaining('must be one of: sklearn') }]);
    });

    it('reports a missing nested required property inside an array item', () => {
      const errors = validateConfiguration(withPart('features', [{ name: 'tenure', type: 'numeric' }, { type: 'numeric' }]));
      expect(errors).toEqual([{ path: '/features/1/name', message: 'is required' }]);
      expect(validateConfiguration(withPart('features', [{ type: 'numeric' }]))).toEqual([
        { path: '/features/0/name', message: 'is required' },
      ]);
    });

    it('checks number bounds', () => {
      for (const folds of [1, 101, 2.5]) {
        const errors = validateConfiguration(withPart('validation', { strategy: 'kfold', folds }));
        expect(errors.map((e) => e.path)).toEqual(['/validation/folds']);
      }
      for (const folds of [2, 100]) {
        expect(validateConfiguration(withPart('validation', { strategy: 'kfold', folds }))).toEqual([]);
      }
      expect(validateConfiguration(withPart('parameters', { learningRate: 0 })).map((e) => e.path)).toEqual(['/parameters/learningRate']);
    });

    it('reports every problem at once', () => {
      const errors = validateConfiguration({
        features: [{ name: 'x' }],
        model: { type: 'rf', framework: 'nope' },
        validation: { folds: 0 },
        extra: 1,
      });
      expect(errors.map((e) => e.path).sort()).toEqual(['/dataset', '/extra', '/features/0/type', '/model/framework', '/validation/folds']);
    });

    it(`rejects a configuration over ${MAX_CONFIGURATION_BYTES} bytes of JSON, and accepts one just under`, () => {
      const blob = (n: number) => withPart('model', { type: 'rf', hyperparameters: { blob: 'x'.repeat(n) } });
      const overhead = Buffer.byteLength(JSON.stringify(blob(0)));
      expect(validateConfiguration(blob(MAX_CONFIGURATION_BYTES - overhead))).toEqual([]);
      const errors = validateConfiguration(blob(MAX_CONFIGURATION_BYTES - overhead + 1));
      expect(errors).toEqual([{ path: '', message: expect.stringContaining(`at most ${MAX_CONFIGURATION_BYTES} bytes`) }]);
    });
  });

  describe('one section', () => {
    it('accepts a valid section', () => {
      expect(validateConfigurationSection('model', { type: 'xgboost', framework: 'xgboost' })).toEqual([]);
      expect(validateConfigurationSection('features', [{ name: 'age', type: 'numeric' }])).toEqual([]);
    });

    it('reports paths from the configuration root', () => {
      expect(validateConfigurationSection('model', { framework: 'sklearn' })).toEqual([{ path: '/model/type', message: 'is required' }]);
      expect(validateConfigurationSection('features', [{ name: 'age', type: 'weird' }]).map((e) => e.path)).toEqual(['/features/0/type']);
      expect(validateConfigurationSection('validation', { folds: 1 }).map((e) => e.path)).toEqual(['/validation/folds']);
      expect(validateConfigurationSection('dataset', 'nope')).toEqual([{ path: '/dataset', message: 'must be object' }]);
    });

    it('rejects an oversize section at the section path', () => {
      const errors = validateConfigurationSection('dataset', { source: 'x', notes: 'y'.repeat(MAX_CONFIGURATION_BYTES) });
      expect(errors.map((e) => e.path)).toEqual(['/dataset']);
    });
  });

  describe('draft', () => {
    it('allows missing sections', () => {
      expect(validateDraftConfiguration({})).toEqual([]);
      expect(validateDraftConfiguration({ dataset: { source: 's3://x' } })).toEqual([]);
    });

    it('still checks the sections that are present', () => {
      expect(validateDraftConfiguration({ dataset: { source: 's3://x' }, model: {} })).toEqual([
        { path: '/model/type', message: 'is required' },
      ]);
    });

    it('rejects unknown sections', () => {
      expect(validateDraftConfiguration({ dataset: { source: 's3://x' }, extra: {} })).toEqual([
        { path: '/extra', message: 'is not an allowed property' },
      ]);
    });

    it('rejects a draft that is not an object', () => {
      for (const value of [null, [], 'x', 3]) expect(validateDraftConfiguration(value).map((e) => e.path)).toEqual(['']);
    });
  });

  describe('mergeConfiguration', () => {
    it('merges objects recursively; arrays and scalars from the override win; inputs are not mutated', () => {
      const base = validConfiguration();
      const override = {
        dataset: { format: 'csv', split: { test: 0.3 } },
        features: [{ name: 'age', type: 'numeric' }],
        model: { hyperparameters: { maxDepth: 4, subsample: 0.5 } },
        validation: { metrics: ['accuracy'] },
      };
      const baseCopy = structuredClone(base);
      const overrideCopy = structuredClone(override);

      const merged = mergeConfiguration(base, override);

      expect(merged).toEqual({
        dataset: { source: 's3://datasets/churn.parquet', format: 'csv', target: 'churned', split: { train: 0.8, test: 0.3 } },
        features: [{ name: 'age', type: 'numeric' }],
        model: { type: 'random_forest', framework: 'sklearn', hyperparameters: { nEstimators: 200, maxDepth: 4, subsample: 0.5 } },
        parameters: { seed: 42 },
        validation: { strategy: 'kfold', folds: 5, metrics: ['accuracy'] },
      });
      expect(base).toEqual(baseCopy);
      expect(override).toEqual(overrideCopy);
      // The result shares no mutable structure with the inputs.
      (merged.model.hyperparameters as Record<string, unknown>).maxDepth = 99;
      (merged.features as unknown[]).push({ name: 'z', type: 'numeric' });
      expect(base).toEqual(baseCopy);
      expect(override).toEqual(overrideCopy);
    });

    it('an empty array in the override replaces the base array; an empty override changes nothing', () => {
      const base = validConfiguration();
      expect(mergeConfiguration(base, { features: [] }).features).toEqual([]);
      expect(mergeConfiguration(base, {})).toEqual(base);
    });

    it('arrays kept from the base are copies too', () => {
      const base = validConfiguration();
      const baseCopy = structuredClone(base);
      const merged = mergeConfiguration(base, { model: { type: 'xgboost' } });
      (merged.features as unknown[]).push({ name: 'z', type: 'numeric' });
      (merged.validation!.metrics as string[]).push('mae');
      expect(base).toEqual(baseCopy);
    });

    it('a scalar replaces an object and an object replaces a scalar', () => {
      expect(mergeConfiguration({ a: { b: 1 } }, { a: 2 })).toEqual({ a: 2 });
      expect(mergeConfiguration({ a: 2 }, { a: { b: 1 } })).toEqual({ a: { b: 1 } });
      expect(mergeConfiguration({ a: [1, 2] }, { a: { b: 1 } })).toEqual({ a: { b: 1 } });
    });
  });
});
