import { MAX_JSON_DEPTH } from '../../src/validation/storable';
import { dataOf, useApi } from '../support/api';
import { createTemplateViaApi, validConfiguration, type TestUser } from '../support/factories';
import { Deep, fingerprint, send } from './fuzz-support';

/**
 * What PostgreSQL cannot store, field by field: a NUL character (text and jsonb refuse it), a lone surrogate (jsonb
 * refuses its escape) and JSON nested too deep (the stack overflows before SQL). Each is BAD_USER_INPUT with the
 * field's path, and nothing is written; before the fix they reached the database and came back as a masked 500.
 */

const NUL = 'bad\u0000value';
const LONE = 'bad\ud800value';

function configurationWith(change: (configuration: any) => void): Record<string, unknown> {
  const configuration = structuredClone(validConfiguration()) as any;
  change(configuration);
  return configuration;
}

/** Nested objects `depth` levels deep: small enough for the client's JSON.stringify, deeper than the limit. */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = { leaf: 1 };
  for (let i = 0; i < depth; i += 1) value = { a: value };
  return value;
}

describe('text, JSON and timestamps that PostgreSQL cannot store', () => {
  const api = useApi();
  let owner: TestUser;
  let templateId: string;
  let experimentId: string;

  beforeAll(async () => {
    owner = await api.user('owner');
    templateId = (await createTemplateViaApi(api, owner)).id;
    experimentId = dataOf(
      await api.graphql('mutation($input: CreateExperimentInput!) { createExperiment(input: $input) { id } }', {
        as: owner,
        variables: { input: { name: 'Draft', configuration: { dataset: validConfiguration().dataset } } },
      }),
    ).createExperiment.id;
  });

  const CREATE_TEMPLATE = 'mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { id } }';
  const UPDATE_TEMPLATE =
    'mutation($id: ID!, $input: UpdateTemplateInput!, $changeNote: String) { updateTemplate(id: $id, input: $input, changeNote: $changeNote) { id } }';
  const REVERT_TEMPLATE =
    'mutation($id: ID!, $changeNote: String) { revertTemplate(id: $id, toVersion: 1, changeNote: $changeNote) { id } }';
  const CLONE_TEMPLATE = 'mutation($id: ID!, $name: String) { cloneTemplate(id: $id, name: $name) { id } }';
  const FROM_TEMPLATE = 'mutation($input: CreateExperimentFromTemplateInput!) { createExperimentFromTemplate(input: $input) { id } }';
  const CREATE_EXPERIMENT = 'mutation($input: CreateExperimentInput!) { createExperiment(input: $input) { id } }';
  const SAVE_STEP = 'mutation($id: ID!, $input: SaveWizardStepInput!) { saveWizardStep(id: $id, input: $input) { id } }';
  const ANALYSIS = 'mutation($id: ID!, $input: AnalysisMetadataInput!) { writeAnalysisMetadata(id: $id, input: $input) { id } }';
  const TEMPLATES =
    'query($filter: TemplateFilter, $orderBy: TemplateOrder, $after: String) { templates(filter: $filter, orderBy: $orderBy, after: $after) { totalCount } }';
  const EXPERIMENTS = 'query($filter: ExperimentFilter) { experiments(filter: $filter) { totalCount } }';
  const EXPERIMENTS_AFTER = 'query($after: String) { experiments(after: $after) { totalCount } }';

  const template = (input: Record<string, unknown>) => ({
    input: { name: 'T', category: 'OTHER', configuration: validConfiguration(), ...input },
  });
  const cursor = (values: unknown[]) => Buffer.from(JSON.stringify(values)).toString('base64url');

  // [what, query, variables (ids filled in when run), the expected path]
  const cases: Array<[string, string, () => Record<string, unknown>, string]> = [
    ['createTemplate name', CREATE_TEMPLATE, () => template({ name: NUL }), '/name'],
    ['createTemplate name, lone surrogate', CREATE_TEMPLATE, () => template({ name: LONE }), '/name'],
    ['createTemplate description', CREATE_TEMPLATE, () => template({ description: NUL }), '/description'],
    ['createTemplate tag', CREATE_TEMPLATE, () => template({ tags: ['ok', NUL] }), '/tags/1'],
    ['createTemplate change note', CREATE_TEMPLATE, () => template({ changeNote: NUL }), '/changeNote'],
    [
      'createTemplate configuration string',
      CREATE_TEMPLATE,
      () => template({ configuration: configurationWith((c) => (c.dataset.source = NUL)) }),
      '/configuration/dataset/source',
    ],
    [
      'createTemplate configuration string, lone surrogate',
      CREATE_TEMPLATE,
      () => template({ configuration: configurationWith((c) => (c.model.hyperparameters.note = LONE)) }),
      '/configuration/model/hyperparameters/note',
    ],
    [
      'createTemplate configuration key',
      CREATE_TEMPLATE,
      () => template({ configuration: configurationWith((c) => (c.model.hyperparameters['k\u0000'] = 1)) }),
      '/configuration/model/hyperparameters/k\u0000',
    ],
    [
      'createTemplate configuration array item',
      CREATE_TEMPLATE,
      () => template({ configuration: configurationWith((c) => (c.validation.metrics = ['f1', NUL])) }),
      '/configuration/validation/metrics/1',
    ],
    ['updateTemplate name', UPDATE_TEMPLATE, () => ({ id: templateId, input: { name: NUL } }), '/name'],
    ['updateTemplate description', UPDATE_TEMPLATE, () => ({ id: templateId, input: { description: NUL } }), '/description'],
    [
      'updateTemplate configuration',
      UPDATE_TEMPLATE,
      () => ({ id: templateId, input: { configuration: configurationWith((c) => (c.features[0].name = NUL)) } }),
      '/configuration/features/0/name',
    ],
    ['updateTemplate change note', UPDATE_TEMPLATE, () => ({ id: templateId, input: { name: 'Renamed' }, changeNote: NUL }), '/changeNote'],
    ['revertTemplate change note', REVERT_TEMPLATE, () => ({ id: templateId, changeNote: NUL }), '/changeNote'],
    ['cloneTemplate name', CLONE_TEMPLATE, () => ({ id: templateId, name: NUL }), '/name'],
    ['createExperimentFromTemplate name', FROM_TEMPLATE, () => ({ input: { templateId, name: NUL } }), '/name'],
    ['createExperimentFromTemplate description', FROM_TEMPLATE, () => ({ input: { templateId, description: NUL } }), '/description'],
    [
      'createExperimentFromTemplate overrides',
      FROM_TEMPLATE,
      () => ({ input: { templateId, overrides: { model: { type: NUL } } } }),
      '/overrides/model/type',
    ],
    [
      'createExperimentFromTemplate overrides, lone surrogate',
      FROM_TEMPLATE,
      () => ({ input: { templateId, overrides: { dataset: { target: LONE } } } }),
      '/overrides/dataset/target',
    ],
    ['createExperiment name', CREATE_EXPERIMENT, () => ({ input: { name: NUL } }), '/name'],
    [
      'createExperiment configuration',
      CREATE_EXPERIMENT,
      () => ({ input: { name: 'D', configuration: { dataset: { source: NUL } } } }),
      '/configuration/dataset/source',
    ],
    ['saveWizardStep state', SAVE_STEP, () => ({ id: experimentId, input: { step: 1, state: { note: NUL } } }), '/state/note'],
    ['saveWizardStep state key', SAVE_STEP, () => ({ id: experimentId, input: { step: 1, state: { [LONE]: true } } }), `/state/${LONE}`],
    [
      'saveWizardStep value',
      SAVE_STEP,
      () => ({ id: experimentId, input: { step: 1, section: 'MODEL', value: { type: NUL } } }),
      '/value/type',
    ],
    [
      'writeAnalysisMetadata',
      ANALYSIS,
      () => ({ id: experimentId, input: { datasetStatistics: { columns: ['a', NUL] } } }),
      '/datasetStatistics/columns/1',
    ],
    ['templates search', TEMPLATES, () => ({ filter: { search: NUL } }), '/filter/search'],
    ['templates tags', TEMPLATES, () => ({ filter: { tags: { anyOf: ['ok', LONE] } } }), '/filter/tags/anyOf/1'],
    ['templates name cursor', TEMPLATES, () => ({ orderBy: { field: 'NAME' }, after: cursor(['NAME:ASC', NUL, templateId]) }), '/after'],
    ['experiments status', EXPERIMENTS, () => ({ filter: { status: NUL } }), '/filter/status'],
    // Cursors are data from the client too: timestamps PostgreSQL would refuse are malformed cursors.
    ['experiments cursor, month 15', EXPERIMENTS_AFTER, () => ({ after: cursor(['2026-15-24T13:21:09.711000Z', experimentId]) }), '/after'],
    ['experiments cursor, year 0', EXPERIMENTS_AFTER, () => ({ after: cursor(['0000-01-01T00:00:00.000000Z', experimentId]) }), '/after'],
    [
      'templates cursor, year 0',
      TEMPLATES,
      () => ({ after: cursor(['UPDATED_AT:DESC', '0000-01-01T00:00:00.000000Z', templateId]) }),
      '/after',
    ],
    [
      'templates cursor, February 30',
      TEMPLATES,
      () => ({
        orderBy: { field: 'LAST_USED', direction: 'ASC' },
        after: cursor(['LAST_USED:ASC', '2025-02-30T00:00:00.000000Z', templateId]),
      }),
      '/after',
    ],
  ];

  it.each(cases)('%s: BAD_USER_INPUT at its path, nothing written', async (_what, query, variables, path) => {
    const before = await fingerprint(api);
    const response = await api.graphql(query, { as: owner, variables: variables() });
    expect(response.status).toBe(200);
    const [error] = response.body.errors ?? [];
    expect(error?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(error.extensions!.validationErrors.map((e: { path: string }) => e.path)).toContain(path);
    expect(await fingerprint(api)).toEqual(before);
  });

  it.each([
    [
      'createTemplate configuration',
      CREATE_TEMPLATE,
      (deep: unknown) => template({ configuration: configurationWith((c) => (c.model.hyperparameters = deep)) }),
      '/configuration/model/hyperparameters',
    ],
    [
      'createExperimentFromTemplate overrides',
      FROM_TEMPLATE,
      (deep: unknown) => ({ input: { templateId, overrides: { model: { hyperparameters: deep } } } }),
      '/overrides/model/hyperparameters',
    ],
    ['saveWizardStep state', SAVE_STEP, (deep: unknown) => ({ id: experimentId, input: { step: 1, state: deep } }), '/state'],
    [
      'writeAnalysisMetadata',
      ANALYSIS,
      (deep: unknown) => ({ id: experimentId, input: { featureImportance: deep } }),
      '/featureImportance',
    ],
  ] as const)('%s nested too deep: BAD_USER_INPUT under its path, at any depth', async (_what, query, variables, path) => {
    for (const deep of [nested(MAX_JSON_DEPTH + 1), { a: new Deep(100_000, 'array') }]) {
      const before = await fingerprint(api);
      const response = await send(api, query, variables(deep), owner);
      expect(response.status).toBe(200);
      const [error] = response.body?.errors ?? [];
      expect(error?.extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
      const [problem] = error.extensions!.validationErrors as Array<{ path: string; message: string }>;
      expect(problem.path.startsWith(path)).toBe(true);
      expect(problem.message).toMatch(/levels deep/);
      expect(await fingerprint(api)).toEqual(before);
    }
  });

  describe('a JSONObject argument given something else than an object', () => {
    const VALIDATE = 'query($configuration: JSONObject!) { validateConfiguration(configuration: $configuration) { valid } }';
    const limitAt = (depth: number) => '/0'.repeat(depth);

    it.each([
      ['an array nested 100,000 levels deep', new Deep(100_000, 'array')],
      ['an array nested one level too deep', new Deep(MAX_JSON_DEPTH + 1, 'array')],
    ])('%s: BAD_USER_INPUT with the nesting limit, at the path where it is passed', async (_case, deep) => {
      const response = await send(api, VALIDATE, { configuration: deep }, null);
      expect(response.status).toBe(400);
      expect(response.body?.errors).toEqual([
        {
          message: `Variable "$configuration" got invalid value [[[Array]]]; JSONObject must not nest objects and arrays more than ${MAX_JSON_DEPTH} levels deep`,
          locations: [{ line: 1, column: 7 }],
          extensions: {
            code: 'BAD_USER_INPUT',
            validationErrors: [
              { path: limitAt(MAX_JSON_DEPTH), message: `must not nest objects and arrays more than ${MAX_JSON_DEPTH} levels deep` },
            ],
          },
        },
      ]);
    });

    it.each([
      ['an array', [1, 2, 3]],
      ['a string', 'text'],
      ['a number', 42],
    ])('%s: BAD_USER_INPUT "must be a JSON object"', async (_case, value) => {
      const response = await send(api, VALIDATE, { configuration: value }, null);
      expect(response.status).toBe(400);
      const [error] = response.body?.errors ?? [];
      expect(error?.message).toMatch(/; JSONObject must be a JSON object$/);
      expect(error?.extensions).toEqual({ code: 'BAD_USER_INPUT', validationErrors: [{ path: '', message: 'must be a JSON object' }] });
    });

    it('a literal that is not an object: refused as invalid, without printing it into the message', async () => {
      const response = await send(api, '{ validateConfiguration(configuration: [[[[1, 2, 3]]]]) { valid } }', {}, null);
      expect(response.status).toBe(400);
      expect(response.body?.errors).toEqual([
        expect.objectContaining({
          message: 'JSONObject must be a JSON object',
          extensions: expect.objectContaining({ code: 'GRAPHQL_VALIDATION_FAILED' }),
        }),
      ]);
    });
  });

  it('a configuration nested to the limit is fine', async () => {
    const deep = nested(MAX_JSON_DEPTH - 4);
    const response = await api.graphql(CREATE_TEMPLATE, {
      as: owner,
      variables: template({ configuration: configurationWith((c) => (c.model.hyperparameters = deep)) }),
    });
    const [row] = await api.db.query('select configuration from experiment_templates where id = $1', [dataOf(response).createTemplate.id]);
    expect(row.configuration.model.hyperparameters).toEqual(deep);
  });

  it('validateConfiguration reports them as data, with their paths', async () => {
    const response = await api.graphql(
      'query($configuration: JSONObject!) { validateConfiguration(configuration: $configuration) { valid errors { path message } } }',
      { variables: { configuration: configurationWith((c) => ((c.dataset.source = NUL), (c.model.type = LONE))) } },
    );
    const { validateConfiguration } = dataOf(response);
    expect(validateConfiguration.valid).toBe(false);
    expect(validateConfiguration.errors.map((e: { path: string }) => e.path).sort()).toEqual(['/dataset/source', '/model/type']);
  });

  it('seconds too small for plain notation (1e-7) are stored, at the microseconds an interval keeps', async () => {
    const RECORD =
      'mutation($id: ID!, $seconds: Float!) { recordTrainingTime(id: $id, actualTrainingSeconds: $seconds) { actualTrainingSeconds } }';
    for (const [seconds, stored] of [
      [1e-7, 0],
      [5e-324, 0],
      [2.5e-6, 0.000003],
      [1234.5678915, 1234.567892],
    ]) {
      const response = await api.graphql(RECORD, { as: owner, variables: { id: experimentId, seconds } });
      expect(dataOf(response).recordTrainingTime.actualTrainingSeconds).toBeCloseTo(stored, 6);
    }
  });

  it('well-formed unicode (emoji, accents, right-to-left marks) is stored as sent', async () => {
    const name = 'Modèle 😀 \u202edata 田中';
    const created = dataOf(
      await api.graphql(CREATE_TEMPLATE, {
        as: owner,
        variables: template({ name, configuration: configurationWith((c) => (c.dataset.target = '👩‍👩‍👧')) }),
      }),
    );
    const [row] = await api.db.query('select name, configuration from experiment_templates where id = $1', [created.createTemplate.id]);
    expect(row.name).toBe(name);
    expect(row.configuration.dataset.target).toBe('👩‍👩‍👧');
  });
});
