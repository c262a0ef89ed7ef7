import { ErrorCode } from '../../src/errors/domain-error';
import { moveTrendingWindow } from '../../src/template/template-trending';
import { dataOf, errorOf, useApi } from '../support/api';
import { createTemplateViaService, listIds, pathsOf, services, uniqueTag, usageOf } from '../support/factories';

const USAGE = /* GraphQL */ `
  query Usage($id: ID!, $from: String!, $to: String!, $bucket: UsageBucket!) {
    template(id: $id) {
      id
      usage(from: $from, to: $to, bucket: $bucket) {
        start
        experiments
      }
    }
  }
`;

const today = () => new Date().toISOString().slice(0, 10);

describe('template usage over time and TRENDING', () => {
  const api = useApi();

  async function usage(as: Parameters<typeof api.graphql>[1], variables: Record<string, unknown>) {
    return api.graphql(USAGE, { ...as, variables });
  }

  /** Daily counts written directly, for days the tests cannot wait for. */
  async function setDaily(templateId: string, days: Record<string, number>): Promise<void> {
    for (const [day, experiments] of Object.entries(days)) {
      await api.db.query(
        `insert into template_usage_daily (template_id, day, experiments) values ($1, $2, $3)
         on conflict (template_id, day) do update set experiments = excluded.experiments`,
        [templateId, day, experiments],
      );
    }
  }

  it('200 concurrent creations are counted exactly in the day, week and month of today and in TRENDING', async () => {
    const owner = await api.user();
    const users = [owner, ...(await Promise.all([1, 2, 3].map(() => api.user())))];
    const tag = uniqueTag('trend');
    const busy = await createTemplateViaService(api, owner, { isPublic: true, tags: [tag] });
    const quiet = await createTemplateViaService(api, owner, { isPublic: true, tags: [tag] });

    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        services(api).experiments.createFromTemplate(users[i % users.length], { templateId: busy.id, name: `run ${i}` }),
      ),
    );
    await services(api).experiments.createFromTemplate(owner, { templateId: quiet.id });

    expect((await usageOf(api, busy.id)).usage_count).toBe(200);
    const day = today();
    for (const bucket of ['DAY', 'WEEK', 'MONTH']) {
      const { template } = dataOf(await usage({ as: users[2] }, { id: busy.id, from: day, to: day, bucket }));
      expect(template.usage).toHaveLength(1);
      expect(template.usage[0].experiments).toBe(200);
    }
    const [counts] = await api.db.query('select trending_count from experiment_templates where id = $1', [busy.id]);
    expect(counts.trending_count).toBe(200);
    const page = await listIds(api, users[3], { filter: { tags: { allOf: [tag] } }, orderBy: { field: 'TRENDING' } });
    expect(page.ids).toEqual([busy.id, quiet.id]);
  });

  it('buckets cross month and year boundaries in UTC, weeks start on Monday, and empty buckets are 0', async () => {
    const owner = await api.user();
    const template = await createTemplateViaService(api, owner);
    await setDaily(template.id, {
      '2025-12-28': 1,
      '2025-12-29': 2,
      '2025-12-31': 3,
      '2026-01-01': 4,
      '2026-01-05': 5,
      '2026-02-28': 6,
      '2026-03-02': 7,
    });
    const ask = async (from: string, to: string, bucket: string) =>
      dataOf(await usage({ as: owner }, { id: template.id, from, to, bucket })).template.usage;

    expect(await ask('2025-12-30', '2026-01-02', 'DAY')).toEqual([
      { start: '2025-12-30', experiments: 0 },
      { start: '2025-12-31', experiments: 3 },
      { start: '2026-01-01', experiments: 4 },
      { start: '2026-01-02', experiments: 0 },
    ]);
    // 2025-12-29 is a Monday: its week holds the new year; days before `from` are not counted in the first bucket.
    expect(await ask('2025-12-29', '2026-01-12', 'WEEK')).toEqual([
      { start: '2025-12-29', experiments: 9 },
      { start: '2026-01-05', experiments: 5 },
      { start: '2026-01-12', experiments: 0 },
    ]);
    expect(await ask('2025-12-31', '2026-01-05', 'WEEK')).toEqual([
      { start: '2025-12-29', experiments: 7 },
      { start: '2026-01-05', experiments: 5 },
    ]);
    expect(await ask('2025-12-01', '2026-03-01', 'MONTH')).toEqual([
      { start: '2025-12-01', experiments: 6 },
      { start: '2026-01-01', experiments: 9 },
      { start: '2026-02-01', experiments: 6 },
      { start: '2026-03-01', experiments: 0 },
    ]);
  });

  it('refuses a bad range with every problem at its path', async () => {
    const owner = await api.user();
    const template = await createTemplateViaService(api, owner);
    const refusal = async (from: string, to: string) => errorOf(await usage({ as: owner }, { id: template.id, from, to, bucket: 'DAY' }));

    const backwards = await refusal('2026-02-01', '2026-01-31');
    expect(backwards.code).toBe(ErrorCode.BadUserInput);
    expect(backwards.extensions.validationErrors).toEqual([{ path: '/to', message: 'must not be before from' }]);
    expect(pathsOf((await refusal('2026-02-30', '1969-12-31')).extensions)).toEqual(['/from', '/to']);
    expect(pathsOf((await refusal('20260101', '2026-01-01T00:00:00Z')).extensions)).toEqual(['/from', '/to']);
    expect((await refusal('2020-01-01', '2025-01-01')).extensions.validationErrors).toEqual([
      { path: '/to', message: 'must be at most 1827 days from from' },
    ]);
    // Five years, leap days included, are allowed.
    const longest = dataOf(await usage({ as: owner }, { id: template.id, from: '2020-01-01', to: '2024-12-31', bucket: 'MONTH' }));
    expect(longest.template.usage).toHaveLength(60);
  });

  it('a hidden template answers like an unknown id, whatever the arguments; TRENDING lists only what the caller sees', async () => {
    const owner = await api.user();
    const stranger = await api.user();
    const tag = uniqueTag('hidden');
    const hidden = await createTemplateViaService(api, owner, { isPublic: false, tags: [tag] });
    await services(api).experiments.createFromTemplate(owner, { templateId: hidden.id });
    const unknown = '00000000-0000-4000-8000-000000000000';
    for (const args of [
      { from: today(), to: today(), bucket: 'DAY' },
      { from: '2026-02-01', to: '2026-01-01', bucket: 'DAY' },
      { from: 'not a date', to: today(), bucket: 'MONTH' },
    ]) {
      const seen = await usage({ as: stranger }, { id: hidden.id, ...args });
      const missing = await usage({ as: stranger }, { id: unknown, ...args });
      expect(seen.body).toEqual({ data: { template: null } });
      expect(missing.body).toEqual(seen.body);
    }
    const page = await listIds(api, stranger, { filter: { tags: { allOf: [tag] } }, orderBy: { field: 'TRENDING' } });
    expect(page.ids).toEqual([]);
    expect((await listIds(api, owner, { filter: { tags: { allOf: [tag] } }, orderBy: { field: 'TRENDING' } })).ids).toEqual([hidden.id]);
  });

  it('a page of templates with their usage costs one statement for the usage, whatever the page size', async () => {
    const owner = await api.user();
    const tag = uniqueTag('page');
    const ids: string[] = [];
    for (let i = 0; i < 5; i += 1) ids.push((await createTemplateViaService(api, owner, { tags: [tag] })).id);
    await setDaily(ids[0], { '2026-01-05': 2, '2026-01-13': 1 });
    const query = `query Page($first: Int, $filter: TemplateFilter) {
      templates(first: $first, filter: $filter, orderBy: { field: CREATED_AT, direction: ASC }) {
        edges { node { id usage(from: "2026-01-01", to: "2026-01-31", bucket: WEEK) { start experiments } } }
      }
    }`;
    const counts: number[] = [];
    for (const first of [1, 5]) {
      const { result, statements } = await api.countStatements(() =>
        api.graphql(query, { as: owner, variables: { first, filter: { tags: { allOf: [tag] } } } }),
      );
      const edges = dataOf(result).templates.edges;
      expect(edges).toHaveLength(first);
      expect(edges[0].node.usage).toEqual([
        { start: '2025-12-29', experiments: 0 },
        { start: '2026-01-05', experiments: 2 },
        { start: '2026-01-12', experiments: 1 },
        { start: '2026-01-19', experiments: 0 },
        { start: '2026-01-26', experiments: 0 },
      ]);
      counts.push(statements.filter((sql) => sql.includes('template_usage_daily')).length);
    }
    expect(counts).toEqual([1, 1]);
  });

  it('TRENDING pages by keyset through ties, by id', async () => {
    const owner = await api.user();
    const tag = uniqueTag('ties');
    const uses = [2, 1, 2, 0, 2, 1, 0];
    const templates: Array<{ id: string; uses: number }> = [];
    for (const count of uses) {
      const { id } = await createTemplateViaService(api, owner, { tags: [tag], isPublic: true });
      for (let i = 0; i < count; i += 1) await services(api).experiments.createFromTemplate(owner, { templateId: id });
      templates.push({ id, uses: count });
    }
    const expected = [...templates].sort((a, b) => b.uses - a.uses || (a.id < b.id ? 1 : -1)).map((t) => t.id);
    const walked: string[] = [];
    let after: string | null = null;
    do {
      const page = await listIds(api, owner, { filter: { tags: { allOf: [tag] } }, orderBy: { field: 'TRENDING' }, first: 2, after });
      walked.push(...page.ids);
      after = page.hasNextPage ? page.endCursor : null;
    } while (after);
    expect(walked).toEqual(expected);
    const ascending = await listIds(api, owner, { filter: { tags: { allOf: [tag] } }, orderBy: { field: 'TRENDING', direction: 'ASC' } });
    expect(ascending.ids).toEqual([...expected].reverse());
  });

  it('moving the window subtracts exactly the days that left it, once, and leaves today counted', async () => {
    const owner = await api.user();
    const template = await createTemplateViaService(api, owner);
    await services(api).experiments.createFromTemplate(owner, { templateId: template.id });
    const [{ current }] = await api.db.query(`select starts_on::text as current from template_trending_window`);
    // As if the server had been down for two days: the window starts two days early and still counts them.
    await api.db.query(`update template_trending_window set starts_on = starts_on - 2`);
    const [{ left1, left2 }] = await api.db.query(
      `select (starts_on)::text as left1, (starts_on + 1)::text as left2 from template_trending_window`,
    );
    await setDaily(template.id, { [left1]: 3, [left2]: 4 });
    await api.db.query(`update experiment_templates set trending_count = trending_count + 7 where id = $1`, [template.id]);

    const moves = await Promise.all([1, 2, 3].map(() => moveTrendingWindow(api.orm.em.fork())));
    expect(moves.sort()).toEqual([0, 0, 2]);
    const [row] = await api.db.query(`select trending_count from experiment_templates where id = $1`, [template.id]);
    expect(row.trending_count).toBe(1);
    const [{ startsOn }] = await api.db.query(`select starts_on::text as "startsOn" from template_trending_window`);
    expect(startsOn).toBe(current);
    expect(await moveTrendingWindow(api.orm.em.fork())).toBe(0);
  });
});
