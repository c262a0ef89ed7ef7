import fc from 'fast-check';
import { isUuid } from '../../src/db/uuid';
import { useApi } from '../support/api';
import { createTemplateViaApi, insertExperiments, insertTemplates, validConfiguration, type TestUser } from '../support/factories';
import {
  ABSENT,
  failuresOf,
  fuzz,
  hostile,
  idValue,
  nastyString,
  objectValue,
  oddNumber,
  textValue,
  variantOf,
  type FuzzReport,
} from './fuzz-support';

/**
 * Every template mutation, over HTTP, with generated and mutated variables: the answer is data or a client error,
 * never a 5xx or INTERNAL_SERVER_ERROR, and a rejected call leaves the database exactly as it was.
 */

const TEMPLATE_FIELDS =
  'id name description category tags version isActive isPublic usageCount owner { id } sharedWith { id } versions(first: 2) { version changeNote }';

const CREATE = `mutation($input: CreateTemplateInput!) { createTemplate(input: $input) { ${TEMPLATE_FIELDS} } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateTemplateInput!, $expectedVersion: Int, $changeNote: String) {
  updateTemplate(id: $id, input: $input, expectedVersion: $expectedVersion, changeNote: $changeNote) { ${TEMPLATE_FIELDS} } }`;
const REVERT = `mutation($id: ID!, $toVersion: Int!, $expectedVersion: Int, $changeNote: String) {
  revertTemplate(id: $id, toVersion: $toVersion, expectedVersion: $expectedVersion, changeNote: $changeNote) { ${TEMPLATE_FIELDS} } }`;
const CLONE = `mutation($id: ID!, $name: String) { cloneTemplate(id: $id, name: $name) { ${TEMPLATE_FIELDS} } }`;
const DEACTIVATE = `mutation($id: ID!) { deactivateTemplate(id: $id) { id isActive } }`;
const REACTIVATE = `mutation($id: ID!) { reactivateTemplate(id: $id) { id isActive } }`;
const DELETE = `mutation($id: ID!) { deleteTemplate(id: $id) }`;
const SHARE = `mutation($id: ID!, $userIds: [ID!]!) { shareTemplate(id: $id, userIds: $userIds) { id sharedWith { id } } }`;
const UNSHARE = `mutation($id: ID!, $userIds: [ID!]!) { unshareTemplate(id: $id, userIds: $userIds) { id sharedWith { id } } }`;
const SET_PUBLIC = `mutation($id: ID!, $isPublic: Boolean!) { setTemplatePublic(id: $id, isPublic: $isPublic) { id isPublic } }`;

const CATEGORIES = [
  'CLASSIFICATION',
  'REGRESSION',
  'CLUSTERING',
  'TIME_SERIES',
  'ANOMALY_DETECTION',
  'NLP',
  'COMPUTER_VISION',
  'RECOMMENDATION',
  'REINFORCEMENT_LEARNING',
  'OTHER',
];

const categoryValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...CATEGORIES) },
  { weight: 1, arbitrary: fc.constantFrom('classification', 'Classification', 'FOO', '', 'CLASSIFICATION\u0000') },
  { weight: 1, arbitrary: hostile },
);

const tagsValue = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.array(fc.oneof(fc.string({ maxLength: 12 }), nastyString, fc.constantFrom('Deep Learning', 'ML', 'a'.repeat(51))), {
      maxLength: 5,
    }),
  },
  { weight: 1, arbitrary: fc.constant(Array.from({ length: 31 }, (_, i) => `tag${i}`)) },
  { weight: 1, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: hostile },
);

/** A valid change of content, of any subset of the fields. */
const validPatch = fc.record(
  {
    name: fc.string({ minLength: 1, maxLength: 20 }).map((name) => `Template ${name}`),
    description: fc.oneof(fc.string({ maxLength: 30 }), fc.constant(null)),
    category: fc.constantFrom(...CATEGORIES),
    tags: fc.array(fc.constantFrom('a', 'b', 'Deep Learning', 'ML'), { maxLength: 3 }),
    configuration: fc.integer().map((seed) => validConfiguration({ parameters: { seed } })),
  },
  { requiredKeys: [] },
);

/** The version a client would send: the current one (looked up when sent), a stale or odd number, or junk. */
const CURRENT = 'CURRENT_VERSION';
const expectedVersionValue = fc.oneof(
  { weight: 3, arbitrary: fc.constant(ABSENT) },
  { weight: 3, arbitrary: fc.constant(CURRENT) },
  { weight: 2, arbitrary: oddNumber },
  { weight: 1, arbitrary: hostile },
);

describe('fuzzing template mutations over HTTP', () => {
  const api = useApi();
  let owner: TestUser;
  let friend: TestUser;
  let stranger: TestUser;
  let service: TestUser;
  /** owned: the owner's active template; the rest are other people's or deactivated. */
  const ids = {} as Record<'owned' | 'ownedInactive' | 'shared' | 'public' | 'hidden', string>;
  const reports: FuzzReport[] = [];

  beforeAll(async () => {
    [owner, friend, stranger, service] = await Promise.all([
      api.user('owner'),
      api.user('friend'),
      api.user('stranger'),
      api.user('svc', ['service']),
    ]);
    ids.owned = (await createTemplateViaApi(api, owner)).id;
    ids.ownedInactive = (await createTemplateViaApi(api, owner, { name: 'Inactive' })).id;
    await api.db.query('update experiment_templates set is_active = false where id = $1', [ids.ownedInactive]);
    [ids.shared, ids.public, ids.hidden] = await insertTemplates(api, [
      { ownerId: friend.id, name: 'Shared with owner', sharedWith: [owner.id] },
      { ownerId: friend.id, name: 'Public', isPublic: true },
      { ownerId: stranger.id, name: 'Hidden' },
    ]);
  });

  afterAll(() => {
    const total = reports.reduce((sum, r) => ({ runs: sum.runs + r.runs, failures: sum.failures + r.failures.length }), {
      runs: 0,
      failures: 0,
    });
    console.log(`fuzz template mutations: ${reports.length} mutations, ${total.runs} runs, ${total.failures} failures`);
  });

  const templateId = () => idValue(Object.values(ids));
  const caller = () =>
    fc.oneof(
      { weight: 6, arbitrary: fc.constant(owner) },
      { weight: 1, arbitrary: fc.constant(friend) },
      { weight: 1, arbitrary: fc.constant(stranger) },
      { weight: 1, arbitrary: fc.constant(service) },
      { weight: 1, arbitrary: fc.constant(null) },
    );
  /** A variables object whose `input` may itself be of the wrong type. */
  const inputOr = (input: fc.Arbitrary<Record<string, unknown>>) =>
    fc.oneof({ weight: 9, arbitrary: input }, { weight: 1, arbitrary: hostile });

  async function withCurrentVersion(variables: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (variables.expectedVersion !== CURRENT) return variables;
    const [row] = isUuid(variables.id) ? await api.db.query('select version from experiment_templates where id = $1', [variables.id]) : [];
    return { ...variables, expectedVersion: row?.version ?? 1 };
  }

  async function check(report: FuzzReport) {
    reports.push(report);
    expect(failuresOf(report)).toEqual([]);
  }

  it('createTemplate', async () => {
    const base = fc.record({
      name: fc.string({ minLength: 1, maxLength: 20 }).map((name) => `Template ${name}`),
      description: fc.string({ maxLength: 30 }),
      category: fc.constantFrom(...CATEGORIES),
      tags: fc.array(fc.constantFrom('fuzz', 'Deep Learning'), { maxLength: 2 }),
      configuration: fc.integer().map((seed) => validConfiguration({ parameters: { seed } })),
      isPublic: fc.boolean(),
      changeNote: fc.string({ maxLength: 20 }),
    });
    const plan = fc.record({
      as: caller(),
      input: inputOr(
        variantOf(base, {
          name: textValue,
          description: textValue,
          category: categoryValue,
          tags: tagsValue,
          configuration: objectValue,
          isPublic: fc.oneof(fc.boolean(), hostile),
          changeNote: textValue,
        }),
      ),
    });
    await check(
      await fuzz(api, { field: 'createTemplate', query: CREATE, plan, prepare: ({ as, input }) => ({ as, variables: { input } }) }),
    );
  });

  it('updateTemplate', async () => {
    // A valid update of the owner's template with one or two arguments made bad: each bad value gets as far as it can.
    const plan = fc.record({
      as: caller(),
      variables: variantOf(
        fc.record({
          id: fc.constant(ids.owned),
          input: validPatch,
          expectedVersion: fc.constantFrom(ABSENT, CURRENT),
          changeNote: fc.string({ maxLength: 20 }),
        }),
        {
          id: templateId(),
          input: inputOr(
            variantOf(validPatch, {
              name: textValue,
              description: fc.oneof(textValue, fc.constant(null)),
              category: categoryValue,
              tags: tagsValue,
              configuration: objectValue,
            }),
          ),
          expectedVersion: expectedVersionValue,
          changeNote: textValue,
        },
        { extraKeys: false },
      ),
    });
    await check(
      await fuzz(api, {
        field: 'updateTemplate',
        query: UPDATE,
        plan,
        prepare: async ({ as, variables }) => ({ as, variables: await withCurrentVersion(variables) }),
      }),
    );
  });

  it('revertTemplate', async () => {
    const plan = fc.record({
      as: caller(),
      variables: variantOf(
        fc.record({
          id: fc.constant(ids.owned),
          toVersion: fc.integer({ min: 1, max: 3 }),
          expectedVersion: fc.constantFrom(ABSENT, CURRENT),
          changeNote: fc.string({ maxLength: 20 }),
        }),
        {
          id: templateId(),
          toVersion: fc.oneof(
            { weight: 1, arbitrary: fc.integer({ min: 0, max: 50 }) },
            { weight: 2, arbitrary: oddNumber },
            { weight: 2, arbitrary: hostile },
          ),
          expectedVersion: expectedVersionValue,
          changeNote: textValue,
        },
        { extraKeys: false },
      ),
    });
    await check(
      await fuzz(api, {
        field: 'revertTemplate',
        query: REVERT,
        plan,
        prepare: async ({ as, variables }) => ({ as, variables: await withCurrentVersion(variables) }),
      }),
    );
  });

  it('cloneTemplate', async () => {
    const plan = fc.record({ as: caller(), id: templateId(), name: fc.oneof(fc.constant(ABSENT), textValue) });
    await check(await fuzz(api, { field: 'cloneTemplate', query: CLONE, plan, prepare: ({ as, ...variables }) => ({ as, variables }) }));
  });

  it('deactivateTemplate', async () => {
    const plan = fc.record({ as: caller(), id: templateId() });
    await check(
      await fuzz(api, { field: 'deactivateTemplate', query: DEACTIVATE, plan, prepare: ({ as, id }) => ({ as, variables: { id } }) }),
    );
  });

  it('reactivateTemplate', async () => {
    const plan = fc.record({ as: caller(), id: templateId() });
    await check(
      await fuzz(api, { field: 'reactivateTemplate', query: REACTIVATE, plan, prepare: ({ as, id }) => ({ as, variables: { id } }) }),
    );
  });

  it('shareTemplate and unshareTemplate', async () => {
    const userId = () => idValue([friend.id, stranger.id, owner.id, service.id]);
    const userIds = fc.oneof(
      { weight: 6, arbitrary: fc.array(userId(), { maxLength: 4 }) },
      { weight: 1, arbitrary: fc.array(fc.uuid(), { minLength: 101, maxLength: 103 }) },
      { weight: 1, arbitrary: fc.constant(Array.from({ length: 100 }, () => friend.id)) },
      { weight: 2, arbitrary: hostile },
    );
    const plan = fc.record({
      as: caller(),
      variables: variantOf(
        fc.record({ id: fc.constant(ids.owned), userIds: fc.subarray([friend.id, stranger.id, service.id], { minLength: 1 }) }),
        { id: templateId(), userIds },
        { extraKeys: false },
      ),
    });
    await check(await fuzz(api, { field: 'shareTemplate', query: SHARE, plan, prepare: ({ as, variables }) => ({ as, variables }) }));
    await check(await fuzz(api, { field: 'unshareTemplate', query: UNSHARE, plan, prepare: ({ as, variables }) => ({ as, variables }) }));
  });

  it('setTemplatePublic', async () => {
    const plan = fc.record({
      as: caller(),
      id: templateId(),
      isPublic: fc.oneof({ weight: 3, arbitrary: fc.boolean() }, { weight: 1, arbitrary: hostile }),
    });
    await check(
      await fuzz(api, { field: 'setTemplatePublic', query: SET_PUBLIC, plan, prepare: ({ as, ...variables }) => ({ as, variables }) }),
    );
  });

  // Last: it deletes. Its valid targets are fresh templates made for the purpose, so the others' fixtures survive.
  it('deleteTemplate', async () => {
    const FRESH = 'FRESH_TEMPLATE';
    const plan = fc.record({
      as: caller(),
      id: fc.oneof({ weight: 2, arbitrary: fc.constant(FRESH) }, { weight: 3, arbitrary: idValue([ids.shared, ids.public, ids.hidden]) }),
    });
    await check(
      await fuzz(api, {
        field: 'deleteTemplate',
        query: DELETE,
        plan,
        prepare: async ({ as, id }) => {
          if (id !== FRESH) return { as, variables: { id } };
          const [fresh] = await insertTemplates(api, [{ ownerId: owner.id, name: 'To delete', sharedWith: [friend.id] }]);
          await insertExperiments(api, [{ ownerId: owner.id, name: 'from it', templateId: fresh, templateVersion: 1, configuration: {} }]);
          return { as, variables: { id: fresh }, changed: true };
        },
      }),
    );
  });
});
