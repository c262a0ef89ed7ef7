/**
 * `experiments(filter, orderBy, first, after)`: every ordering walked page by page in both directions, every filter,
 * the listing across owners for a service token (a scheduler's queue) and staff, and the plan of the scheduler's query.
 */
import { randomUUID } from 'node:crypto';
import { encodeCursor } from '../../src/db/keyset';
import { dataOf, errorOf, useApi } from '../support/api';
import { insertExperiments, insertTemplates, type TestUser } from '../support/factories';

const LIST = `
  query List($filter: ExperimentFilter, $orderBy: ExperimentOrder, $first: Int, $after: String) {
    experiments(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
      totalCount
      edges { cursor node { id } }
      pageInfo { hasNextPage endCursor }
    }
  }`;

const LIST_WITHOUT_TOTAL = LIST.replace('totalCount', '');

interface Listed {
  ids: string[];
  totalCount: number;
  hasNextPage: boolean;
  endCursor: string | null;
}

describe('listing experiments over HTTP', () => {
  const api = useApi();

  async function list(as: TestUser, variables: Record<string, unknown>): Promise<Listed> {
    const { experiments } = dataOf(await api.graphql(LIST, { as, variables: { first: 100, ...variables } }));
    return {
      ids: experiments.edges.map((edge: { node: { id: string } }) => edge.node.id),
      totalCount: experiments.totalCount,
      hasNextPage: experiments.pageInfo.hasNextPage,
      endCursor: experiments.pageInfo.endCursor,
    };
  }

  async function ids(as: TestUser, filter: Record<string, unknown>, orderBy?: Record<string, unknown>): Promise<string[]> {
    const listed = await list(as, { filter, orderBy });
    expect(listed.totalCount).toBe(listed.ids.length);
    return listed.ids;
  }

  /** Every page of size `first`, following `endCursor`, checking that no row repeats. */
  async function walk(as: TestUser, variables: Record<string, unknown>, first: number): Promise<string[]> {
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 50; page++) {
      const listed = await list(as, { ...variables, first, after });
      seen.push(...listed.ids);
      if (!listed.hasNextPage) break;
      after = listed.endCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    return seen;
  }

  const sorted = (values: string[]) => [...values].sort();

  describe('orderings', () => {
    let walker: TestUser;
    let rows: Array<{ id: string; createdAt: string; updatedAt: string; name: string; status: string }>;

    beforeAll(async () => {
      walker = await api.user('walker');
      // Ties in every key (names, statuses, two instants a microsecond apart) so that the id must break them.
      const specs = [
        { name: 'beta', status: 'running', created: '.000001', updated: '.000009' },
        { name: 'alpha', status: 'draft', created: '.000002', updated: '.000002' },
        { name: 'gamma', status: 'queued', created: '.000002', updated: '.000005' },
        { name: 'alpha', status: 'completed', created: '.000003', updated: '.000005' },
        { name: 'delta', status: 'running', created: '.000004', updated: '.000001' },
        { name: 'Beta', status: 'archived', created: '.000005', updated: '.000007' },
        { name: 'alpha', status: 'draft', created: '.000006', updated: '.000003' },
      ];
      const inserted = await insertExperiments(
        api,
        specs.map(({ name, status, created }) => ({ ownerId: walker.id, name, status, createdAt: `2026-01-01T00:00:00${created}Z` })),
      );
      rows = specs.map((spec, index) => ({
        id: inserted[index],
        name: spec.name,
        status: spec.status,
        createdAt: spec.created,
        updatedAt: spec.updated,
      }));
      for (const row of rows) {
        await api.db.query(`update ml_experiments set updated_at = $2 where id = $1`, [row.id, `2026-02-01T00:00:00${row.updatedAt}Z`]);
      }
    });

    const KEYS = { CREATED_AT: 'createdAt', UPDATED_AT: 'updatedAt', NAME: 'name', STATUS: 'status' } as const;
    const cases = Object.keys(KEYS).flatMap((field) => ['ASC', 'DESC'].map((direction) => ({ field, direction })));

    it.each(cases)('$field $direction: every row once, in order, ties broken by id, across pages of 2', async ({ field, direction }) => {
      const key = KEYS[field as keyof typeof KEYS];
      // Byte order, as the test database's C collation compares text ('Beta' before 'alpha').
      const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
      const sign = direction === 'ASC' ? 1 : -1;
      const expected = [...rows].sort((a, b) => sign * (compare(a[key], b[key]) || compare(a.id, b.id))).map((row) => row.id);
      expect(await walk(walker, { orderBy: { field, direction } }, 2)).toEqual(expected);
      expect(await walk(walker, { orderBy: { field, direction } }, 100)).toEqual(expected);
    });

    it('defaults to the newest first, NAME and STATUS to ascending, and refuses a cursor of another ordering', async () => {
      const newest = [...rows].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || (a.id < b.id ? 1 : -1)).map((row) => row.id);
      expect((await list(walker, {})).ids).toEqual(newest);
      expect((await list(walker, { orderBy: { field: 'NAME' } })).ids).toEqual(
        (await list(walker, { orderBy: { field: 'NAME', direction: 'ASC' } })).ids,
      );
      expect((await list(walker, { orderBy: { field: 'STATUS' } })).ids).toEqual(
        (await list(walker, { orderBy: { field: 'STATUS', direction: 'ASC' } })).ids,
      );
      const byName = await list(walker, { first: 2, orderBy: { field: 'NAME' } });
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ after: byName.endCursor }, '/after'],
        [{ after: byName.endCursor, orderBy: { field: 'NAME', direction: 'DESC' } }, '/after'],
        [{ after: encodeCursor(['NAME:ASC', 'a\u0000', randomUUID()]), orderBy: { field: 'NAME' } }, '/after'],
        [{ after: encodeCursor(['STATUS:ASC', 'x'.repeat(33), randomUUID()]), orderBy: { field: 'STATUS' } }, '/after'],
        [{ after: encodeCursor(['UPDATED_AT:DESC', 'yesterday', randomUUID()]), orderBy: { field: 'UPDATED_AT' } }, '/after'],
      ];
      for (const [variables, path] of cases) {
        const error = errorOf(await api.graphql(LIST, { as: walker, variables }));
        expect({ code: error.code, paths: error.extensions.validationErrors.map((e: { path: string }) => e.path) }).toEqual({
          code: 'BAD_USER_INPUT',
          paths: [path],
        });
      }
    });
  });

  describe('filters', () => {
    it('by statuses (any of), and by the deprecated status, alone or together', async () => {
      const ada = await api.user('ada');
      const [draft, queued, running, archived] = await insertExperiments(
        api,
        ['draft', 'queued', 'running', 'archived'].map((status) => ({ ownerId: ada.id, status })),
      );
      expect(sorted(await ids(ada, { statuses: ['queued', 'running'] }))).toEqual(sorted([queued, running]));
      expect(sorted(await ids(ada, { statuses: ['archived', 'draft', 'draft'] }))).toEqual(sorted([archived, draft]));
      expect(await ids(ada, { statuses: ['running'] })).toEqual([running]);
      expect(await ids(ada, { status: 'queued' })).toEqual([queued]);
      expect(await ids(ada, { status: 'queued', statuses: ['queued', 'draft'] })).toEqual([queued]);
      expect(sorted(await ids(ada, { statuses: [] }))).toEqual(sorted([draft, queued, running, archived]));
      expect(await ids(ada, { statuses: ['unknown'] })).toEqual([]);
    });

    it('by templates (any of), only through templates the caller may see', async () => {
      const ada = await api.user('ada');
      const other = await api.user('other');
      const [mine, publicOne, hidden] = await insertTemplates(api, [
        { ownerId: ada.id },
        { ownerId: other.id, isPublic: true },
        { ownerId: other.id },
      ]);
      const [fromMine, fromPublic, fromHidden] = await insertExperiments(
        api,
        [mine, publicOne, hidden].map((templateId) => ({ ownerId: ada.id, templateId })),
      );
      await insertExperiments(api, [{ ownerId: ada.id }]);
      expect(sorted(await ids(ada, { templateIds: [mine, publicOne] }))).toEqual(sorted([fromMine, fromPublic]));
      expect(await ids(ada, { templateIds: [publicOne], templateId: publicOne })).toEqual([fromPublic]);
      expect(await ids(ada, { templateIds: [mine], templateId: publicOne })).toEqual([]);
      // A hidden template's id answers exactly like an id nobody ever used.
      const hiddenAnswer = await api.graphql(LIST, { as: ada, variables: { filter: { templateIds: [hidden] } } });
      const unknownAnswer = await api.graphql(LIST, { as: ada, variables: { filter: { templateIds: [randomUUID()] } } });
      expect(hiddenAnswer.body).toEqual(unknownAnswer.body);
      expect(dataOf(hiddenAnswer).experiments.totalCount).toBe(0);
      expect(await ids(ada, { templateIds: [hidden, mine] })).toEqual([fromMine]);
      expect(await ids(ada, {})).toContain(fromHidden);
    });

    it('by creation and change times: from inclusive, to exclusive, microseconds kept', async () => {
      const ada = await api.user('ada');
      const [early, onTheDot, late] = await insertExperiments(
        api,
        ['2026-03-01T09:59:59.999Z', '2026-03-01T10:00:00.000Z', '2026-03-01T11:00:00.000Z'].map((createdAt) => ({
          ownerId: ada.id,
          createdAt,
        })),
      );
      await api.db.query(`update ml_experiments set updated_at = created_at + interval '1 day' where id = any($1::uuid[])`, [
        [early, onTheDot, late],
      ]);
      const range = (from?: string, to?: string) => ({ ...(from && { from }), ...(to && { to }) });
      expect(sorted(await ids(ada, { createdAt: range('2026-03-01T10:00:00.000Z') }))).toEqual(sorted([onTheDot, late]));
      expect(await ids(ada, { createdAt: range(undefined, '2026-03-01T10:00:00.000Z') })).toEqual([early]);
      expect(await ids(ada, { createdAt: range('2026-03-01T10:00:00.000Z', '2026-03-01T11:00:00.000Z') })).toEqual([onTheDot]);
      expect(await ids(ada, { updatedAt: range('2026-03-02T10:30:00.000Z') })).toEqual([late]);
      expect(await ids(ada, { updatedAt: range('2026-03-02T00:00:00.000Z', '2026-03-02T10:00:00.000Z'), createdAt: range() })).toEqual([
        early,
      ]);
    });

    it('by text in the name or description, case-insensitively, with % and _ as plain characters', async () => {
      const ada = await api.user('ada');
      const [byName, byDescription, percent] = await insertExperiments(api, [
        { ownerId: ada.id, name: 'Churn model, EU' },
        { ownerId: ada.id, name: 'Plain' },
        { ownerId: ada.id, name: '100% recall' },
      ]);
      await api.db.query(`update ml_experiments set description = 'Predicts CHURN from billing' where id = $1`, [byDescription]);
      expect(sorted(await ids(ada, { search: '  churn ' }))).toEqual(sorted([byName, byDescription]));
      expect(await ids(ada, { search: '0% r' })).toEqual([percent]);
      expect(await ids(ada, { search: '_' })).toEqual([]);
      expect(await ids(ada, { search: '   ' })).toHaveLength(3);
    });

    it('by owner: narrows a service’s or staff’s list; anyone else lists their own only, another owner answering like no one', async () => {
      const ada = await api.user('ada');
      const bob = await api.user('bob');
      const service = await api.user('scheduler', ['service']);
      const staff = await api.user('staff', ['admin']);
      const tag = `owner-filter-${randomUUID()}`;
      const [adas] = await insertExperiments(api, [{ ownerId: ada.id, name: tag }]);
      const [bobs] = await insertExperiments(api, [{ ownerId: bob.id, name: tag }]);
      for (const caller of [service, staff]) {
        expect(sorted(await ids(caller, { search: tag }))).toEqual(sorted([adas, bobs]));
        expect(await ids(caller, { search: tag, ownerId: bob.id })).toEqual([bobs]);
      }
      expect(await ids(ada, { search: tag })).toEqual([adas]);
      expect(await ids(ada, { search: tag, ownerId: ada.id })).toEqual([adas]);
      const others = await api.graphql(LIST, { as: ada, variables: { filter: { search: tag, ownerId: bob.id } } });
      const nobody = await api.graphql(LIST, { as: ada, variables: { filter: { search: tag, ownerId: randomUUID() } } });
      expect(others.body).toEqual(nobody.body);
      expect(dataOf(others).experiments.edges).toEqual([]);
    });

    it('refuses bad filters at their paths, every problem at once, before any SQL', async () => {
      const ada = await api.user('ada');
      const filter = {
        statuses: ['draft', 'x'.repeat(33)],
        status: 'y'.repeat(33),
        templateIds: [randomUUID(), 'not-a-uuid'],
        ownerId: 'nobody',
        createdAt: { from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' },
        updatedAt: { from: '2026-02-01T00:00:00Z', to: '2026-02-01T00:00:00Z' },
        search: 's'.repeat(201),
      };
      const { result: response, statements } = await api.countStatements(() => api.graphql(LIST, { as: ada, variables: { filter } }));
      const error = errorOf(response);
      expect(error.code).toBe('BAD_USER_INPUT');
      expect(error.extensions.validationErrors.map((e: { path: string }) => e.path).sort()).toEqual(
        [
          '/filter/statuses/1',
          '/filter/status',
          '/filter/templateIds/1',
          '/filter/ownerId',
          '/filter/createdAt/to',
          '/filter/updatedAt/to',
          '/filter/search',
        ].sort(),
      );
      expect(statements.filter((sql) => sql.includes('ml_experiments'))).toEqual([]);
      const tooMany = await api.graphql(LIST, {
        as: ada,
        variables: { filter: { statuses: Array.from({ length: 21 }, (_, i) => `s${i}`) } },
      });
      expect(errorOf(tooMany).extensions.validationErrors).toEqual([{ path: '/filter/statuses', message: 'must list at most 20 values' }]);
    });
  });

  describe('across owners', () => {
    it("gives a scheduler every owner's queued experiments, oldest first, page after page", async () => {
      const service = await api.user('scheduler', ['service']);
      const owners = await Promise.all([api.user('one'), api.user('two'), api.user('three')]);
      // Far in the past, so that the queue starts with these whatever other tests of this file queued.
      const queued = await insertExperiments(
        api,
        Array.from({ length: 7 }, (_, i) => ({
          ownerId: owners[i % 3].id,
          status: 'queued',
          createdAt: `2001-01-01T00:00:0${i}.00000${i}Z`,
        })),
      );
      await insertExperiments(api, [{ ownerId: owners[0].id, status: 'running', createdAt: '2000-01-01T00:00:00Z' }]);
      const page = await walk(service, { filter: { statuses: ['queued'] }, orderBy: { field: 'CREATED_AT', direction: 'ASC' } }, 3);
      expect(page.slice(0, 7)).toEqual(queued);
    });

    it('counts only when totalCount is selected', async () => {
      const service = await api.user('scheduler', ['service']);
      const variables = { filter: { statuses: ['queued'] }, orderBy: { field: 'CREATED_AT', direction: 'ASC' }, first: 20 };
      const without = await api.countStatements(() => api.graphql(LIST_WITHOUT_TOTAL, { as: service, variables }));
      const withTotal = await api.countStatements(() => api.graphql(LIST, { as: service, variables }));
      const counts = (statements: string[]) => statements.filter((sql) => /count\(\*\)/.test(sql) && sql.includes('ml_experiments'));
      expect(counts(without.statements)).toEqual([]);
      expect(counts(withTotal.statements)).toHaveLength(1);
      expect(dataOf(withTotal.result).experiments.totalCount).toBeGreaterThan(0);
    });

    it("plans the scheduler's statement on the index of experiments in progress, as a generic plan too", async () => {
      const service = await api.user('scheduler', ['service']);
      const variables = { filter: { statuses: ['queued'] }, orderBy: { field: 'CREATED_AT', direction: 'ASC' }, first: 20 };
      const { sent } = await api.countStatements(() => api.graphql(LIST_WITHOUT_TOTAL, { as: service, variables }));
      const page = sent.find((statement) => statement.sql.includes('from ml_experiments e'))!;
      // The test table is small: without seq scans the planner shows which index it can use for any value of $1.
      await api.db.query('begin');
      await api.db.query('set local enable_seqscan = off');
      const explained = await api.db
        .query<{ 'QUERY PLAN': string }>(`explain (generic_plan) ${page.sql}`)
        .finally(() => api.db.query('rollback'));
      expect(explained.map((row) => row['QUERY PLAN']).join('\n')).toMatch(/Index Scan using ml_experiments_in_progress_index/);
    });
  });
});
