import { configurationSchemaOf, LATEST_CONFIGURATION_SCHEMA_VERSION } from '../../src/template/configuration-schema';
import { dataOf, useApi } from '../support/api';
import { validConfiguration } from '../support/factories';

const VALIDATE = `
  query Validate($configuration: JSONObject!, $section: ConfigurationSection) {
    validateConfiguration(configuration: $configuration, section: $section) { valid errors { path message } }
  }`;

describe('configuration schema and validation over HTTP', () => {
  const api = useApi();

  async function validate(configuration: unknown, section?: string) {
    const { validateConfiguration } = dataOf(await api.graphql(VALIDATE, { variables: { configuration, section } }));
    return {
      valid: validateConfiguration.valid as boolean,
      paths: (validateConfiguration.errors as Array<{ path: string }>).map((error) => error.path).sort(),
      errors: validateConfiguration.errors as Array<{ path: string; message: string }>,
    };
  }

  it('publishes the JSON Schema the server validates with, unchanged, to anonymous callers', async () => {
    const { configurationSchema: published } = dataOf(await api.graphql('{ configurationSchema }'));
    expect(published).toEqual(JSON.parse(JSON.stringify(configurationSchemaOf(LATEST_CONFIGURATION_SCHEMA_VERSION))));
    expect(published.required).toEqual(['dataset', 'features', 'model']);
  });

  it('accepts a valid configuration anonymously, with no errors', async () => {
    expect(await validate(validConfiguration())).toEqual({ valid: true, paths: [], errors: [] });
  });

  it('reports every problem of an invalid configuration as data, with JSON-pointer paths', async () => {
    const { features: _features, ...withoutFeatures } = validConfiguration();
    const result = await validate({
      ...withoutFeatures,
      model: { type: 'random_forest', framework: 'scikit' },
      dataset: { source: 's3://x', split: { train: 2 } },
      extra: true,
    });
    expect(result.valid).toBe(false);
    expect(result.paths).toEqual(['/dataset/split/train', '/extra', '/features', '/model/framework']);
    expect(result.errors.find((error) => error.path === '/features')!.message).toBe('is required');
    expect(result.errors.find((error) => error.path === '/model/framework')!.message).toMatch(/^must be one of: sklearn, /);
  });

  it('checks only the given section, as one wizard step does', async () => {
    const { model } = validConfiguration();
    // Only the model step is done: the missing dataset and features are not this step's problem.
    expect(await validate({ model }, 'MODEL')).toMatchObject({ valid: true, paths: [] });
    expect(await validate({ model: { framework: 'sklearn' }, dataset: 'broken' }, 'MODEL')).toMatchObject({
      valid: false,
      paths: ['/model/type'],
    });
    expect((await validate({ features: [{ name: 'age', type: 'number' }] }, 'FEATURES')).paths).toEqual(['/features/0/type']);
    expect((await validate({ parameters: { epochs: 0 } }, 'PARAMETERS')).paths).toEqual(['/parameters/epochs']);
  });

  it('reports a missing required section for its step, but not a missing optional one', async () => {
    expect(await validate({}, 'DATASET')).toMatchObject({ valid: false, errors: [{ path: '/dataset', message: 'is required' }] });
    expect(await validate({}, 'VALIDATION')).toMatchObject({ valid: true });
  });

  it('answers the same for a signed-in caller', async () => {
    const ada = await api.user('ada');
    const response = await api.graphql(VALIDATE, { variables: { configuration: {}, section: null }, as: ada });
    expect(
      dataOf(response)
        .validateConfiguration.errors.map((e: { path: string }) => e.path)
        .sort(),
    ).toEqual(['/dataset', '/features', '/model']);
  });
});
