import { randomUUID } from 'node:crypto';
import { dataOf, errorOf, useApi } from '../support/api';
import { createTemplateViaApi, insertTemplates, listIds, uniqueTag, type TestUser } from '../support/factories';

const TEMPLATE = /* GraphQL */ `
  query Template($id: ID!) {
    template(id: $id) {
      id
      name
      description
      category
      tags
      version
      isActive
      isPublic
      usageCount
      lastUsed
      configuration
    }
  }
`;

describe('template queries over HTTP', () => {
  const api = useApi();

  async function people() {
    const [owner, friend, stranger] = await Promise.all(['owner', 'friend', 'stranger'].map((name) => api.user(name)));
    return { owner, friend, stranger };
  }

  const templateAs = (id: string, as: TestUser | null) => api.graphql(TEMPLATE, { as, variables: { id } });

  describe('template(id)', () => {
    it('answers the owner, a user it is shared with, and anyone when public', async () => {
      const { owner, friend, stranger } = await people();
      const [privateId, sharedId, publicId] = await insertTemplates(api, [
        { ownerId: owner.id, name: 'private one' },
        { ownerId: owner.id, name: 'shared one', sharedWith: [friend.id] },
        { ownerId: owner.id, name: 'public one', isPublic: true },
      ]);
      const seen = async (id: string, as: TestUser | null) => dataOf(await templateAs(id, as)).template?.id ?? null;

      expect(await seen(privateId, owner)).toBe(privateId);
      expect(await seen(privateId, friend)).toBeNull();
      expect(await seen(sharedId, friend)).toBe(sharedId);
      expect(await seen(sharedId, stranger)).toBeNull();
      expect(await seen(publicId, stranger)).toBe(publicId);
      expect(await seen(publicId, null)).toBe(publicId);
      expect(await seen(sharedId, null)).toBeNull();
    });

    it('answers a hidden template exactly like an unknown or malformed id', async () => {
      const { owner, stranger } = await people();
      const [hiddenId] = await insertTemplates(api, [{ ownerId: owner.id }]);
      const hidden = await templateAs(hiddenId, stranger);
      const unknown = await templateAs(randomUUID(), stranger);
      const malformed = await templateAs('not-a-uuid', stranger);

      expect(hidden).toEqual({ status: 200, body: { data: { template: null } } });
      expect(unknown).toEqual(hidden);
      expect(malformed).toEqual(hidden);
    });

    it('returns the content as stored, deactivated templates included', async () => {
      const { owner } = await people();
      const created = await createTemplateViaApi(api, owner, { name: 'Fraud detector', tags: ['Deep Learning', 'fraud'] });
      await api.db.query('update experiment_templates set is_active = false where id = $1', [created.id]);
      const { template } = dataOf(await templateAs(created.id, owner));
      expect(template).toMatchObject({
        id: created.id,
        name: 'Fraud detector',
        category: 'CLASSIFICATION',
        tags: ['deep-learning', 'fraud'],
        version: 1,
        isActive: false,
        isPublic: false,
        usageCount: 0,
        lastUsed: null,
      });
      expect(template.configuration.model.type).toBe('random_forest');
    });
  });

  describe('templates filters', () => {
    it('filters by category, any of several', async () => {
      const { owner } = await people();
      const tag = uniqueTag();
      const [classification, regression, nlp] = await insertTemplates(api, [
        { ownerId: owner.id, category: 'classification', tags: [tag] },
        { ownerId: owner.id, category: 'regression', tags: [tag] },
        { ownerId: owner.id, category: 'nlp', tags: [tag] },
      ]);
      const list = (categories: string[]) => listIds(api, owner, { filter: { tags: { allOf: [tag] }, categories } });

      expect((await list(['REGRESSION'])).ids).toEqual([regression]);
      expect(new Set((await list(['REGRESSION', 'NLP'])).ids)).toEqual(new Set([regression, nlp]));
      expect(new Set((await list([])).ids)).toEqual(new Set([classification, regression, nlp]));
    });

    it('filters by tags: all of, any of, both, normalised like stored tags', async () => {
      const { owner } = await people();
      const [a, b, c] = [uniqueTag('a'), uniqueTag('b'), uniqueTag('c')];
      const [ab, onlyA, bc, none] = await insertTemplates(api, [
        { ownerId: owner.id, tags: [a, b] },
        { ownerId: owner.id, tags: [a] },
        { ownerId: owner.id, tags: [b, c] },
        { ownerId: owner.id, tags: [] },
      ]);
      const list = async (tags: unknown) => new Set((await listIds(api, owner, { filter: { tags } })).ids);

      expect(await list({ allOf: [a, b] })).toEqual(new Set([ab]));
      expect(await list({ allOf: [a] })).toEqual(new Set([ab, onlyA]));
      expect(await list({ anyOf: [a, c] })).toEqual(new Set([ab, onlyA, bc]));
      expect(await list({ allOf: [b], anyOf: [a, c] })).toEqual(new Set([ab, bc]));
      expect(await list({ allOf: [` ${a.toUpperCase()} `] })).toEqual(new Set([ab, onlyA]));
      expect(await list({ anyOf: [uniqueTag('nobody')] })).toEqual(new Set());
      expect((await list({ allOf: [a, b, c] })).has(none)).toBe(false);
    });

    it('searches name and description case-insensitively, taking % and _ literally', async () => {
      const { owner } = await people();
      const tag = uniqueTag();
      const [percent, plain, underscore, lookalike, inDescription] = await insertTemplates(api, [
        { ownerId: owner.id, tags: [tag], name: 'Recall at 100% precision' },
        { ownerId: owner.id, tags: [tag], name: 'Recall at 1000 precision' },
        { ownerId: owner.id, tags: [tag], name: 'snake_case features' },
        { ownerId: owner.id, tags: [tag], name: 'snakeXcase features' },
        { ownerId: owner.id, tags: [tag], name: 'Something', description: 'Gradient BOOSTED trees' },
      ]);
      const search = async (text: string) => new Set((await listIds(api, owner, { filter: { tags: { allOf: [tag] }, search: text } })).ids);

      expect(await search('100%')).toEqual(new Set([percent]));
      expect(await search('recall AT')).toEqual(new Set([percent, plain]));
      expect(await search('e_c')).toEqual(new Set([underscore]));
      expect(await search('boosted')).toEqual(new Set([inDescription]));
      expect(await search('features')).toEqual(new Set([underscore, lookalike]));
      expect(await search('   ')).toEqual(new Set([percent, plain, underscore, lookalike, inDescription]));
    });

    it('refuses an overlong search and too many tags with BAD_USER_INPUT at the field', async () => {
      const { owner } = await people();
      const longSearch = errorOf(
        await api.graphql('query($s: String) { templates(filter: { search: $s }) { totalCount } }', {
          as: owner,
          variables: { s: 'x'.repeat(201) },
        }),
      );
      expect(longSearch.code).toBe('BAD_USER_INPUT');
      expect(longSearch.extensions.validationErrors).toEqual([{ path: '/filter/search', message: expect.any(String) }]);

      const manyTags = errorOf(
        await api.graphql('query($t: [String!]) { templates(filter: { tags: { anyOf: $t } }) { totalCount } }', {
          as: owner,
          variables: { t: Array.from({ length: 31 }, (_, i) => `tag${i}`) },
        }),
      );
      expect(manyTags.extensions.validationErrors).toEqual([{ path: '/filter/tags/anyOf', message: expect.any(String) }]);
    });

    it('lists by scope, never beyond what the caller may see', async () => {
      const { owner: me, friend: other, stranger } = await people();
      const tag = uniqueTag();
      const [mine, myPublic, sharedWithMe, othersPublic, othersPrivate, sharedWithStranger] = await insertTemplates(api, [
        { ownerId: me.id, tags: [tag] },
        { ownerId: me.id, tags: [tag], isPublic: true },
        { ownerId: other.id, tags: [tag], sharedWith: [me.id] },
        { ownerId: other.id, tags: [tag], isPublic: true },
        { ownerId: other.id, tags: [tag] },
        { ownerId: other.id, tags: [tag], sharedWith: [stranger.id] },
      ]);
      const list = async (scope: string, as: TestUser | null = me) =>
        new Set((await listIds(api, as, { filter: { tags: { allOf: [tag] }, scope } })).ids);

      expect(await list('MINE')).toEqual(new Set([mine, myPublic]));
      expect(await list('SHARED_WITH_ME')).toEqual(new Set([sharedWithMe]));
      expect(await list('PUBLIC')).toEqual(new Set([myPublic, othersPublic]));
      expect(await list('ALL_VISIBLE')).toEqual(new Set([mine, myPublic, sharedWithMe, othersPublic]));
      expect((await listIds(api, me, { filter: { tags: { allOf: [tag] } } })).totalCount).toBe(4);
      expect(await list('ALL_VISIBLE', null)).toEqual(new Set([myPublic, othersPublic]));
      expect(await list('PUBLIC', null)).toEqual(new Set([myPublic, othersPublic]));
      expect([...(await list('ALL_VISIBLE', stranger))].sort()).toEqual([myPublic, othersPublic, sharedWithStranger].sort());
      // Hidden from the others, not missing: its owner lists it.
      expect(await list('MINE', other)).toEqual(new Set([sharedWithMe, othersPublic, othersPrivate, sharedWithStranger]));

      for (const scope of ['MINE', 'SHARED_WITH_ME']) {
        const response = await api.graphql(`{ templates(filter: { scope: ${scope} }) { totalCount } }`);
        expect(errorOf(response).code).toBe('UNAUTHENTICATED');
      }
    });

    it('lists active templates by default; deactivated ones only to their owner', async () => {
      const { owner, friend } = await people();
      const tag = uniqueTag();
      const [active, inactive] = await insertTemplates(api, [
        { ownerId: owner.id, tags: [tag], isPublic: true, sharedWith: [friend.id] },
        { ownerId: owner.id, tags: [tag], isPublic: true, sharedWith: [friend.id], isActive: false },
      ]);
      const list = async (as: TestUser | null, activeState?: string) =>
        (await listIds(api, as, { filter: { tags: { allOf: [tag] }, ...(activeState ? { activeState } : {}) } })).ids.sort();

      expect(await list(owner)).toEqual([active]);
      expect(await list(owner, 'INACTIVE')).toEqual([inactive]);
      expect(await list(owner, 'ALL')).toEqual([active, inactive].sort());
      for (const viewer of [friend, null]) {
        expect(await list(viewer)).toEqual([active]);
        expect(await list(viewer, 'INACTIVE')).toEqual([]);
        expect(await list(viewer, 'ALL')).toEqual([active]);
      }
    });
  });

  describe('templates ordering', () => {
    it('orders by each field, with its default direction and either explicit one', async () => {
      const { owner } = await people();
      const tag = uniqueTag();
      // Every field orders these three differently, so an ordering that falls back to another one shows.
      const [x, y, z] = await insertTemplates(api, [
        { ownerId: owner.id, tags: [tag], name: 'bravo', usageCount: 5, lastUsed: null, createdAt: '2024-01-02', updatedAt: '2024-03-01' },
        {
          ownerId: owner.id,
          tags: [tag],
          name: 'charlie',
          usageCount: 1,
          lastUsed: '2024-05-01',
          createdAt: '2024-01-03',
          updatedAt: '2024-02-01',
        },
        {
          ownerId: owner.id,
          tags: [tag],
          name: 'alpha',
          usageCount: 3,
          lastUsed: '2024-06-01',
          createdAt: '2024-01-01',
          updatedAt: '2024-01-01',
        },
      ]);
      const order = async (orderBy?: unknown) => (await listIds(api, owner, { filter: { tags: { allOf: [tag] } }, orderBy })).ids;

      expect(await order()).toEqual([x, y, z]);
      expect(await order({ field: 'UPDATED_AT' })).toEqual([x, y, z]);
      expect(await order({ field: 'UPDATED_AT', direction: 'ASC' })).toEqual([z, y, x]);
      expect(await order({ field: 'CREATED_AT' })).toEqual([y, x, z]);
      expect(await order({ field: 'CREATED_AT', direction: 'ASC' })).toEqual([z, x, y]);
      expect(await order({ field: 'NAME' })).toEqual([z, x, y]);
      expect(await order({ field: 'NAME', direction: 'DESC' })).toEqual([y, x, z]);
      expect(await order({ field: 'USAGE_COUNT' })).toEqual([x, z, y]);
      expect(await order({ field: 'USAGE_COUNT', direction: 'ASC' })).toEqual([y, z, x]);
      expect(await order({ field: 'LAST_USED' })).toEqual([z, y, x]);
      expect(await order({ field: 'LAST_USED', direction: 'ASC' })).toEqual([x, y, z]);
    });
  });

  describe('template fields', () => {
    const DETAILS = /* GraphQL */ `
      query Details($id: ID!) {
        template(id: $id) {
          id
          owner {
            id
            email
          }
          sharedWith {
            id
          }
          versions {
            version
            name
            description
            changeNote
            createdBy {
              id
            }
          }
          latest: versions(first: 1) {
            version
          }
          v1: versionSnapshot(version: 1) {
            version
            description
            createdBy {
              id
            }
          }
          missing: versionSnapshot(version: 99) {
            version
          }
          diff(from: 1, to: 3) {
            op
            path
            from
            value
          }
        }
      }
    `;

    async function historied() {
      const { owner, friend, stranger } = await people();
      const { id } = await createTemplateViaApi(api, owner, { description: 'first', isPublic: true });
      const update = (input: Record<string, unknown>, changeNote: string) =>
        api.graphql(
          `mutation($id: ID!, $input: UpdateTemplateInput!, $note: String) {
             updateTemplate(id: $id, input: $input, changeNote: $note) { version }
           }`,
          { as: owner, variables: { id, input, note: changeNote } },
        );
      dataOf(await update({ description: 'second' }, 'reworded'));
      dataOf(await update({ tags: ['churn', 'tabular', 'gbm'] }, 'tagged'));
      dataOf(
        await api.graphql('mutation($id: ID!, $u: [ID!]!) { shareTemplate(id: $id, userIds: $u) { id } }', {
          as: owner,
          variables: { id, u: [friend.id] },
        }),
      );
      return { owner, friend, stranger, id };
    }

    it('gives the owner, shares, history, single versions and diffs to the owner', async () => {
      const { owner, friend, id } = await historied();
      const { template } = dataOf(await api.graphql(DETAILS, { as: owner, variables: { id } }));

      expect(template.owner).toEqual({ id: owner.id, email: owner.email });
      expect(template.sharedWith).toEqual([{ id: friend.id }]);
      expect(template.versions).toEqual([
        { version: 3, name: 'Churn classifier', description: 'second', changeNote: 'tagged', createdBy: { id: owner.id } },
        { version: 2, name: 'Churn classifier', description: 'second', changeNote: 'reworded', createdBy: { id: owner.id } },
        { version: 1, name: 'Churn classifier', description: 'first', changeNote: 'Created', createdBy: { id: owner.id } },
      ]);
      expect(template.latest).toEqual([{ version: 3 }]);
      expect(template.v1).toEqual({ version: 1, description: 'first', createdBy: { id: owner.id } });
      expect(template.missing).toBeNull();
      expect(template.diff).toEqual(
        expect.arrayContaining([
          { op: 'replace', path: '/description', from: null, value: 'second' },
          { op: 'add', path: '/tags/2', from: null, value: 'gbm' },
        ]),
      );
      expect(template.diff).toHaveLength(2);
    });

    it('shows who it is shared with only to the owner', async () => {
      const { friend, stranger, id } = await historied();
      for (const viewer of [friend, stranger, null]) {
        const { template } = dataOf(await api.graphql(DETAILS, { as: viewer, variables: { id } }));
        expect(template.sharedWith).toEqual([]);
        expect(template.versions).toHaveLength(3);
      }
    });

    it('answers a diff with a missing version NOT_FOUND on that field only', async () => {
      const { owner, id } = await historied();
      const response = await api.graphql('query($id: ID!) { template(id: $id) { id diff(from: 1, to: 9) { op } } }', {
        as: owner,
        variables: { id },
      });
      expect(response.body.data).toEqual({ template: { id, diff: null } });
      expect(errorOf(response)).toMatchObject({ code: 'NOT_FOUND', message: 'Version 9 of the template not found' });
      expect(response.body.errors?.[0].path).toEqual(['template', 'diff']);
    });

    it('bounds versions(first) like a page size', async () => {
      const { owner, id } = await historied();
      const response = await api.graphql('query($id: ID!) { template(id: $id) { versions(first: 0) { version } } }', {
        as: owner,
        variables: { id },
      });
      expect(errorOf(response).extensions.validationErrors).toEqual([{ path: '/first', message: expect.any(String) }]);
    });
  });
});
