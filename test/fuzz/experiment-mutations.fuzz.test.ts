import fc from 'fast-check';
import { dataOf, useApi } from '../support/api';
import { createTemplateViaApi, insertExperiments, insertTemplates, validConfiguration, type TestUser } from '../support/factories';
import {
  ABSENT,
  anyJson,
  failuresOf,
  fuzz,
  hostile,
  idValue,
  mutatedConfiguration,
  nastyString,
  objectValue,
  oddNumber,
  textValue,
  variantOf,
  type FuzzReport,
} from './fuzz-support';

/**
 * Every experiment mutation, and the paginated queries with random cursors, over HTTP with generated and mutated
 * variables: the answer is data or a client error, never a 5xx or INTERNAL_SERVER_ERROR, and a rejected call leaves
 * the database exactly as it was.
 */

const FIELDS = `id name description status configuration templateVersion wizardCompleted wizardStepCompleted wizardState
  configurationMetadata datasetStatistics estimatedTrainingSeconds actualTrainingSeconds template { id usageCount } hasNewerTemplateVersion`;

const CREATE_FROM_TEMPLATE = `mutation($input: CreateExperimentFromTemplateInput!) { createExperimentFromTemplate(input: $input) { ${FIELDS} } }`;
const CREATE = `mutation($input: CreateExperimentInput!) { createExperiment(input: $input) { ${FIELDS} } }`;
const SAVE_STEP = `mutation($id: ID!, $input: SaveWizardStepInput!) { saveWizardStep(id: $id, input: $input) { ${FIELDS} } }`;
const COMPLETE = `mutation($id: ID!) { completeWizard(id: $id) { ${FIELDS} } }`;
const WRITE_ANALYSIS = `mutation($id: ID!, $input: AnalysisMetadataInput!) { writeAnalysisMetadata(id: $id, input: $input) {
  ${FIELDS} featureImportance modelRecommendations resourceRequirements } }`;
const RECORD_TIME = `mutation($id: ID!, $seconds: Float!) { recordTrainingTime(id: $id, actualTrainingSeconds: $seconds) { ${FIELDS} } }`;

const TEMPLATES = `query($first: Int!, $after: String, $filter: TemplateFilter, $orderBy: TemplateOrder) {
  templates(first: $first, after: $after, filter: $filter, orderBy: $orderBy) {
    edges { cursor node { id name usageCount } } pageInfo { hasNextPage endCursor } totalCount } }`;
const EXPERIMENTS = `query($first: Int!, $after: String, $filter: ExperimentFilter) {
  experiments(first: $first, after: $after, filter: $filter) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } totalCount } }`;
const TEMPLATE = `query($id: ID!, $first: Int!, $after: String, $versions: Int, $version: Int!, $from: Int!, $to: Int!) {
  template(id: $id) {
    id experiments(first: $first, after: $after) { edges { cursor } totalCount }
    versions(first: $versions) { version } versionSnapshot(version: $version) { version } diff(from: $from, to: $to) { op path }
  } }`;

const SECTIONS = ['dataset', 'features', 'model', 'parameters', 'validation'] as const;
const CATEGORIES = ['CLASSIFICATION', 'REGRESSION', 'NLP', 'OTHER'];

/** Some sections of a configuration, valid or mutated: a draft's configuration, or a template's overrides. */
const partialConfiguration = fc
  .tuple(
    fc.oneof(fc.constant(validConfiguration() as unknown as Record<string, unknown>), mutatedConfiguration),
    fc.subarray([...SECTIONS]),
  )
  .map(([configuration, sections]) =>
    Object.fromEntries(
      Object.entries(configuration).filter(([key]) => !(SECTIONS as readonly string[]).includes(key) || sections.includes(key as never)),
    ),
  );

const seconds = fc.oneof(
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 100_000 }) },
  { weight: 1, arbitrary: oddNumber },
  { weight: 1, arbitrary: hostile },
);

const base64url = (text: string) => Buffer.from(text).toString('base64url');

describe('fuzzing experiment mutations over HTTP', () => {
  const api = useApi();
  let owner: TestUser;
  let friend: TestUser;
  let stranger: TestUser;
  let service: TestUser;
  const templates = {} as Record<'owned' | 'inactive' | 'shared' | 'public' | 'hidden', string>;
  const experiments = {} as Record<'draft' | 'completed' | 'foreign', string>;
  const realCursors: string[] = [];
  const reports: FuzzReport[] = [];

  beforeAll(async () => {
    [owner, friend, stranger, service] = await Promise.all([
      api.user('owner'),
      api.user('friend'),
      api.user('stranger'),
      api.user('svc', ['service']),
    ]);
    templates.owned = (await createTemplateViaApi(api, owner)).id;
    [templates.inactive, templates.shared, templates.public, templates.hidden] = await insertTemplates(api, [
      { ownerId: owner.id, name: 'Inactive', isActive: false },
      { ownerId: friend.id, name: 'Shared with owner', sharedWith: [owner.id] },
      { ownerId: friend.id, name: 'Public', isPublic: true },
      { ownerId: stranger.id, name: 'Hidden' },
    ]);
    experiments.draft = await draft(owner, { dataset: validConfiguration().dataset });
    experiments.completed = await draft(owner, validConfiguration() as unknown as Record<string, unknown>);
    dataOf(await api.graphql(COMPLETE, { as: owner, variables: { id: experiments.completed } }));
    experiments.foreign = await draft(stranger, {});
    for (let i = 0; i < 3; i += 1) {
      dataOf(
        await api.graphql(CREATE_FROM_TEMPLATE, { as: owner, variables: { input: { templateId: templates.owned, name: `run ${i}` } } }),
      );
    }
    for (const query of [TEMPLATES, EXPERIMENTS]) {
      const page = dataOf(await api.graphql(query, { as: owner, variables: { first: 2 } }));
      realCursors.push(...(page.templates ?? page.experiments).edges.map((edge: { cursor: string }) => edge.cursor));
    }
  });

  afterAll(() => {
    const total = reports.reduce((sum, r) => ({ runs: sum.runs + r.runs, failures: sum.failures + r.failures.length }), {
      runs: 0,
      failures: 0,
    });
    console.log(`fuzz experiment mutations and queries: ${reports.length} operations, ${total.runs} runs, ${total.failures} failures`);
  });

  async function draft(as: TestUser, configuration: Record<string, unknown>): Promise<string> {
    return dataOf(await api.graphql(CREATE, { as, variables: { input: { name: 'Draft', configuration } } })).createExperiment.id;
  }

  const caller = (weights: { owner?: number; service?: number } = {}) =>
    fc.oneof(
      { weight: weights.owner ?? 6, arbitrary: fc.constant(owner) },
      { weight: 1, arbitrary: fc.constant(stranger) },
      { weight: weights.service ?? 1, arbitrary: fc.constant(service) },
      { weight: 1, arbitrary: fc.constant(null) },
    );
  const inputOr = (input: fc.Arbitrary<Record<string, unknown>>) =>
    fc.oneof({ weight: 9, arbitrary: input }, { weight: 1, arbitrary: hostile });
  const experimentId = () => idValue(Object.values(experiments));
  const templateId = () => idValue(Object.values(templates));

  /** Cursors: real ones, real ones tampered with, well-formed ones holding junk, and junk. */
  const cursor = () =>
    fc.oneof(
      { weight: 2, arbitrary: fc.constant(ABSENT) },
      { weight: 1, arbitrary: fc.constant(null) },
      { weight: 2, arbitrary: fc.constantFrom(...realCursors) },
      {
        weight: 2,
        arbitrary: fc
          .tuple(fc.constantFrom(...realCursors), fc.nat(), fc.string({ minLength: 1, maxLength: 1 }))
          .map(([c, at, ch]) => c.slice(0, at % c.length) + ch + c.slice((at % c.length) + 1)),
      },
      {
        weight: 3,
        arbitrary: fc
          .tuple(
            fc.oneof(fc.constantFrom('UPDATED_AT:DESC', 'NAME:ASC', 'USAGE_COUNT:DESC', 'LAST_USED:ASC', 'CREATED_AT:ASC'), nastyString),
            fc.oneof(
              anyJson,
              nastyString,
              fc.constantFrom('2024-01-01T00:00:00.000000Z', '9999-12-31T23:59:59.999999Z', '0000-01-01T00:00:00.000000Z'),
            ),
            fc.oneof(fc.uuid(), nastyString),
          )
          .chain(([tag, value, id]) => fc.constantFrom([tag, value, id], [value, id], [tag, value, id, 1], [value]))
          .map((values) => base64url(JSON.stringify(values))),
      },
      { weight: 2, arbitrary: fc.oneof(nastyString, fc.base64String({ maxLength: 40 })) },
    );
  const pageSize = () =>
    fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 1, max: 100 }) },
      { weight: 1, arbitrary: oddNumber },
      { weight: 1, arbitrary: hostile },
    );

  async function check(report: FuzzReport) {
    reports.push(report);
    expect(failuresOf(report)).toEqual([]);
  }

  it('createExperimentFromTemplate', async () => {
    const base = fc.record({
      templateId: fc.constantFrom(templates.owned, templates.shared, templates.public),
      name: fc.string({ minLength: 1, maxLength: 20 }).map((name) => `Run ${name}`),
      description: fc.string({ maxLength: 20 }),
      overrides: fc.constantFrom({}, { model: { hyperparameters: { maxDepth: 4 } } }, { features: [{ name: 'age', type: 'numeric' }] }),
      estimatedTrainingSeconds: fc.integer({ min: 0, max: 100_000 }),
    });
    const plan = fc.record({
      as: caller(),
      input: inputOr(
        variantOf(base, {
          templateId: templateId(),
          name: textValue,
          description: textValue,
          overrides: fc.oneof(partialConfiguration, objectValue),
          estimatedTrainingSeconds: seconds,
        }),
      ),
    });
    await check(
      await fuzz(api, {
        field: 'createExperimentFromTemplate',
        query: CREATE_FROM_TEMPLATE,
        plan,
        prepare: ({ as, input }) => ({ as, variables: { input } }),
      }),
    );
  });

  it('createExperiment', async () => {
    const base = fc.record({
      name: fc.string({ minLength: 1, maxLength: 20 }).map((name) => `Draft ${name}`),
      description: fc.string({ maxLength: 20 }),
      configuration: partialConfiguration,
      estimatedTrainingSeconds: fc.integer({ min: 0, max: 100_000 }),
    });
    const plan = fc.record({
      as: caller(),
      input: inputOr(
        variantOf(base, { name: textValue, description: textValue, configuration: objectValue, estimatedTrainingSeconds: seconds }),
      ),
    });
    await check(
      await fuzz(api, { field: 'createExperiment', query: CREATE, plan, prepare: ({ as, input }) => ({ as, variables: { input } }) }),
    );
  });

  it('saveWizardStep', async () => {
    const base = fc
      .tuple(
        fc.integer({ min: 0, max: 10 }),
        fc.constantFrom(...SECTIONS),
        fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }),
      )
      .map(([step, section, state]) => ({ step, state, section: section.toUpperCase(), value: validConfiguration()[section] }));
    const plan = fc.record({
      as: caller(),
      variables: variantOf(
        fc.record({ id: fc.constant(experiments.draft), input: base }),
        {
          id: experimentId(),
          input: inputOr(
            variantOf(base, {
              step: fc.oneof(oddNumber, hostile),
              state: fc.oneof(objectValue, fc.constant(null)),
              section: fc.oneof(fc.constantFrom('DATASET', 'MODEL', 'model', 'TARGET', ''), hostile),
              value: fc.oneof(
                anyJson,
                objectValue,
                mutatedConfiguration.map((c) => c.model),
              ),
            }),
          ),
        },
        { maxChanges: 1, extraKeys: false },
      ),
    });
    await check(await fuzz(api, { field: 'saveWizardStep', query: SAVE_STEP, plan, prepare: ({ as, variables }) => ({ as, variables }) }));
  });

  it('completeWizard', async () => {
    const plan = fc.record({
      as: caller(),
      id: fc.oneof({ weight: 2, arbitrary: fc.constantFrom('FRESH_COMPLETE', 'FRESH_PARTIAL') }, { weight: 3, arbitrary: experimentId() }),
    });
    await check(
      await fuzz(api, {
        field: 'completeWizard',
        query: COMPLETE,
        plan,
        prepare: async ({ as, id }) => {
          if (id !== 'FRESH_COMPLETE' && id !== 'FRESH_PARTIAL') return { as, variables: { id } };
          const configuration = id === 'FRESH_COMPLETE' ? validConfiguration() : { dataset: validConfiguration().dataset };
          const [fresh] = await insertExperiments(api, [{ ownerId: owner.id, name: 'Fresh', configuration }]);
          return { as, variables: { id: fresh }, changed: true };
        },
      }),
    );
  });

  it('writeAnalysisMetadata', async () => {
    const base = fc.record(
      {
        configurationMetadata: fc.constant({ source: 'fuzz' }),
        datasetStatistics: fc.record({ rows: fc.nat() }),
        featureImportance: fc.constant({ tenure: 0.7, plan: 0.3 }),
        estimatedTrainingSeconds: fc.integer({ min: 0, max: 100_000 }),
      },
      { requiredKeys: [] },
    );
    const plan = fc.record({
      as: caller({ owner: 4, service: 3 }),
      variables: variantOf(
        fc.record({ id: fc.constantFrom(experiments.draft, experiments.completed), input: base }),
        {
          id: experimentId(),
          input: inputOr(
            variantOf(base, {
              configurationMetadata: objectValue,
              datasetStatistics: objectValue,
              featureImportance: objectValue,
              modelRecommendations: objectValue,
              resourceRequirements: objectValue,
              estimatedTrainingSeconds: seconds,
            }),
          ),
        },
        { maxChanges: 1, extraKeys: false },
      ),
    });
    await check(
      await fuzz(api, { field: 'writeAnalysisMetadata', query: WRITE_ANALYSIS, plan, prepare: ({ as, variables }) => ({ as, variables }) }),
    );
  });

  it('recordTrainingTime', async () => {
    const plan = fc.record({
      as: caller({ owner: 4, service: 3 }),
      variables: variantOf(
        fc.record({ id: fc.constantFrom(experiments.draft, experiments.completed), seconds: fc.double({ min: 0, max: 1e6, noNaN: true }) }),
        { id: experimentId(), seconds },
        { extraKeys: false },
      ),
    });
    await check(
      await fuzz(api, { field: 'recordTrainingTime', query: RECORD_TIME, plan, prepare: ({ as, variables }) => ({ as, variables }) }),
    );
  });

  it('templates, experiments and template(id) with random cursors, filters and page sizes', async () => {
    // A valid query with one or two of its arguments made bad: each bad value then gets as far as it can.
    const validFilter = fc.record(
      {
        categories: fc.array(fc.constantFrom(...CATEGORIES), { maxLength: 2 }),
        tags: fc.record(
          {
            allOf: fc.array(fc.constantFrom('churn', 'tabular'), { maxLength: 1 }),
            anyOf: fc.array(fc.constantFrom('churn', 'x'), { maxLength: 2 }),
          },
          { requiredKeys: [] },
        ),
        search: fc.string({ maxLength: 8 }),
        scope: fc.constantFrom('MINE', 'SHARED_WITH_ME', 'PUBLIC', 'ALL_VISIBLE'),
        activeState: fc.constantFrom('ACTIVE', 'INACTIVE', 'ALL'),
      },
      { requiredKeys: [] },
    );
    const badFilter = variantOf(
      validFilter,
      {
        categories: fc.oneof(fc.array(fc.oneof(fc.constantFrom(...CATEGORIES), nastyString), { maxLength: 3 }), hostile),
        tags: fc.oneof(
          fc.record(
            {
              allOf: fc.array(fc.oneof(fc.string({ maxLength: 8 }), nastyString), { maxLength: 3 }),
              anyOf: fc.array(nastyString, { maxLength: 3 }),
            },
            { requiredKeys: [] },
          ),
          hostile,
        ),
        search: textValue,
        scope: hostile,
        activeState: hostile,
      },
      { maxChanges: 1 },
    );
    const validOrder = fc.record(
      { field: fc.constantFrom('UPDATED_AT', 'CREATED_AT', 'NAME', 'USAGE_COUNT', 'LAST_USED'), direction: fc.constantFrom('ASC', 'DESC') },
      { requiredKeys: [] },
    );
    const templatesPlan = fc.record({
      as: caller(),
      variables: variantOf(
        fc.record({ first: fc.integer({ min: 1, max: 50 }), filter: validFilter, orderBy: validOrder }, { requiredKeys: ['first'] }),
        { first: pageSize(), after: cursor(), filter: badFilter, orderBy: fc.oneof(validOrder, hostile) },
        { maxChanges: 2, extraKeys: false },
      ),
    });
    await check(
      await fuzz(api, {
        field: 'templates',
        query: TEMPLATES,
        plan: templatesPlan,
        writes: false,
        prepare: ({ as, variables }) => ({ as, variables }),
      }),
    );

    const validExperimentFilter = fc.record(
      {
        templateId: fc.constantFrom(...Object.values(templates)),
        templateCategory: fc.constantFrom(...CATEGORIES),
        status: fc.constantFrom('draft', 'queued'),
        wizardCompleted: fc.boolean(),
      },
      { requiredKeys: [] },
    );
    const experimentsPlan = fc.record({
      as: caller(),
      variables: variantOf(
        fc.record({ first: fc.integer({ min: 1, max: 50 }), filter: validExperimentFilter }, { requiredKeys: ['first'] }),
        {
          first: pageSize(),
          after: cursor(),
          filter: variantOf(
            validExperimentFilter,
            {
              templateId: templateId(),
              templateCategory: hostile,
              status: textValue,
              wizardCompleted: hostile,
            },
            { maxChanges: 1 },
          ),
        },
        { maxChanges: 2, extraKeys: false },
      ),
    });
    await check(
      await fuzz(api, {
        field: 'experiments',
        query: EXPERIMENTS,
        plan: experimentsPlan,
        writes: false,
        prepare: ({ as, variables }) => ({ as, variables }),
      }),
    );

    const version = () =>
      fc.oneof(
        { weight: 3, arbitrary: fc.integer({ min: 0, max: 3 }) },
        { weight: 1, arbitrary: oddNumber },
        { weight: 1, arbitrary: hostile },
      );
    const templatePlan = fc.record({
      as: caller(),
      variables: variantOf(
        fc.record({
          id: fc.constantFrom(...Object.values(templates)),
          first: fc.integer({ min: 1, max: 20 }),
          version: fc.integer({ min: 1, max: 2 }),
          from: fc.constant(1),
          to: fc.constant(1),
        }),
        { id: templateId(), first: pageSize(), after: cursor(), versions: pageSize(), version: version(), from: version(), to: version() },
        { maxChanges: 2, extraKeys: false },
      ),
    });
    await check(
      await fuzz(api, {
        field: 'template',
        query: TEMPLATE,
        plan: templatePlan,
        writes: false,
        nullable: true,
        prepare: ({ as, variables }) => ({ as, variables }),
      }),
    );
  });
});
