import { jsonFilterConditions, parseJsonFilter, type IndexedJsonPath, type JsonFilter } from '../../src/db/json-filter';
import { SqlValues } from '../../src/db/sql';
import { WIZARD_CONFIGURATION_PATHS } from '../../src/template/template-list';
import { dataOf, useApi, type GraphqlResponse } from '../support/api';
import { insertTemplates, uniqueTag, validConfiguration, type TestUser } from '../support/factories';

/**
 * The wizard's paths (model type, framework, dataset format) are compared through indexes of their own, with the path
 * written as a constant: the rows must be exactly those of the generic comparison (`#>` with the path bound), whatever
 * JSON the documents hold there, and PostgreSQL must serve them from those indexes.
 */
describe('filters on the wizard’s configuration paths', () => {
  const api = useApi();

  const PAGE = /* GraphQL */ `
    query Page($filter: TemplateFilter) {
      templates(filter: $filter, orderBy: { field: NAME }, first: 100) {
        edges {
          node {
            name
          }
        }
      }
    }
  `;

  let owner: TestUser;
  let tag: string;

  // Stored as written, past the configuration schema: values of every JSON type where the schema expects a string.
  const base = validConfiguration();
  const DOCUMENTS: Record<string, Record<string, unknown>> = {
    'string 1': { ...base, model: { type: '1', framework: 'sklearn' } },
    'number 1': { ...base, model: { type: 1, framework: 'xgboost' }, dataset: { ...base.dataset, format: 1 } },
    'number 1.50': { ...base, model: { type: 1.5 } },
    'string true': { ...base, model: { type: 'true' } },
    'boolean true': { ...base, model: { type: true, framework: 'pytorch' } },
    'json null': { ...base, model: { type: null, framework: null } },
    'no type': { ...base, model: { framework: 'pytorch' } },
    'array type': { ...base, model: { type: ['xgboost'], framework: 'xgboost' } },
    'object type': { ...base, model: { type: { name: 'xgboost' } } },
    'model array': { ...base, model: [{ type: 'xgboost' }] },
    'dataset string': { ...base, dataset: 'csv' },
    xgboost: { ...base, model: { type: 'xgboost', framework: 'xgboost' }, dataset: { source: 's3://d/x.csv', format: 'csv', target: 'y' } },
  };

  const FILTERS: JsonFilter[] = [
    ...[
      '1',
      1,
      1.5,
      'true',
      true,
      null,
      'xgboost',
      ['xgboost'],
      { name: 'xgboost' },
      { type: 'xgboost' },
      ['1', 1],
      [1, true, 1.5],
      ['xgboost', ['xgboost']],
    ].map((value) => ({
      paths: [Array.isArray(value) && value.length > 1 ? { path: '/model/type', in: value } : { path: '/model/type', equals: value }],
    })),
    { paths: [{ path: '/model/type', exists: true }] },
    { paths: [{ path: '/model/type', exists: false }] },
    { paths: [{ path: '/model/framework', in: ['pytorch', 'xgboost'] }] },
    { paths: [{ path: '/model/framework', equals: null }] },
    {
      paths: [
        { path: '/dataset/format', equals: 1 },
        { path: '/model/type', equals: 1 },
      ],
    },
    { paths: [{ path: '/dataset/format', in: ['csv', 'parquet'] }] },
    { contains: { model: { type: '1' } } },
    { contains: { model: { type: 1 } } },
    { contains: { model: { type: null } } },
    { contains: { model: { type: 'xgboost' } } },
    { contains: { model: { type: ['xgboost'] } } },
    { contains: { model: { type: 'xgboost', framework: 'xgboost' }, dataset: { format: 'csv' } } },
    { contains: { dataset: { format: 'csv', target: 'y' } } },
    { contains: { dataset: { format: 'parquet' } }, paths: [{ path: '/model/framework', exists: false }] },
    { contains: { model: {} } },
    { contains: { model: { framework: 'pytorch' }, dataset: {} } },
    { contains: {} },
  ];

  beforeAll(async () => {
    owner = await api.user('owner');
    tag = uniqueTag('path-indexes');
    const names = Object.keys(DOCUMENTS);
    const ids = await insertTemplates(
      api,
      names.map((name) => ({ ownerId: owner.id, name, tags: [tag] })),
    );
    for (const [index, name] of names.entries()) {
      await api.db.query(`update experiment_templates set configuration = $2 where id = $1`, [ids[index], DOCUMENTS[name]]);
    }
  });

  /** The names of this file's templates that match `filter`, with the wizard's paths indexed or not. */
  async function namesInSql(filter: JsonFilter, indexed: readonly IndexedJsonPath[]): Promise<{ names: string[]; sql: string }> {
    const parsed = parseJsonFilter(filter, '', [])!;
    const values = new SqlValues();
    const tagged = `t.tags @> ${values.bind(JSON.stringify([tag]))}::jsonb`;
    const conditions = [tagged, ...jsonFilterConditions('t.configuration', parsed, values, indexed)];
    const sql = `select name from experiment_templates t where ${conditions.map((condition) => `(${condition})`).join(' and ')} order by name`;
    const rows = await api.db.query<{ name: string }>(sql, values.values);
    return { names: rows.map((row) => row.name), sql };
  }

  it('returns the rows of the generic comparison for every filter, over values of every JSON type', async () => {
    let indexedStatements = 0;
    for (const filter of FILTERS) {
      const generic = (await namesInSql(filter, [])).names;
      const indexed = await namesInSql(filter, WIZARD_CONFIGURATION_PATHS);
      if (/#> '\{(model,type|model,framework|dataset,format)\}'/.test(indexed.sql)) indexedStatements += 1;
      const response = await api.graphql(PAGE, { as: owner, variables: { filter: { tags: { allOf: [tag] }, configuration: filter } } });
      const served = dataOf(response).templates.edges.map((edge: { node: { name: string } }) => edge.node.name);
      expect({ filter, rows: indexed.names }).toEqual({ filter, rows: generic });
      expect({ filter, rows: served }).toEqual({ filter, rows: generic });
    }
    // Every filter but those holding no scalar at an indexed path (`{}`, `{ model: {} }`, an array in `contains`).
    expect(indexedStatements).toBe(FILTERS.length - 3);
  });

  it('tells a string from a number, a boolean and null at an indexed path', async () => {
    const served = async (configuration: JsonFilter) =>
      dataOf(await api.graphql(PAGE, { as: owner, variables: { filter: { tags: { allOf: [tag] }, configuration } } })).templates.edges.map(
        (edge: { node: { name: string } }) => edge.node.name,
      );
    const { result, statements } = await api.countStatements(() => served({ paths: [{ path: '/model/type', equals: '1' }] }));
    expect(result).toEqual(['string 1']);
    expect(statements.find((sql) => sql.includes('from experiment_templates'))).toContain(
      "(t.configuration #> '{model,type}'::text[]) = $",
    );
    expect(await served({ paths: [{ path: '/model/type', equals: 1 }] })).toEqual(['number 1']);
    expect(await served({ paths: [{ path: '/model/type', in: ['1', 1] }] })).toEqual(['number 1', 'string 1']);
    expect(await served({ paths: [{ path: '/model/type', equals: true }] })).toEqual(['boolean true']);
    expect(await served({ paths: [{ path: '/model/type', equals: 'true' }] })).toEqual(['string true']);
    expect(await served({ paths: [{ path: '/model/type', equals: null }] })).toEqual(['json null']);
    expect(await served({ contains: { model: { type: 1 } } })).toEqual(['number 1']);
    expect(await served({ contains: { model: { type: 'xgboost' } } })).toEqual(['xgboost']);
  });

  it('serves each indexed path from its own index, a containment included', async () => {
    const plans: string[] = [];
    for (const configuration of [
      { paths: [{ path: '/model/type', equals: 'xgboost' }] },
      { paths: [{ path: '/model/framework', in: ['pytorch', 'xgboost'] }] },
      { contains: { dataset: { format: 'csv' } } },
    ]) {
      const { sent } = await api.countStatements(() => api.graphql(PAGE, { as: owner, variables: { filter: { configuration } } }));
      const listing = sent.find((statement) => statement.sql.includes('from experiment_templates'))!;
      expect(listing.sql).not.toContain('@>');
      // The test database is small: only an index scan is allowed to show which indexes can serve the statement.
      await api.db.query('begin');
      try {
        await api.db.query('set local enable_seqscan = off');
        await api.db.query('set local enable_bitmapscan = off');
        const rows = await api.db.query(`explain ${listing.sql}`, [...listing.values]);
        plans.push(rows.map((row) => row['QUERY PLAN']).join('\n'));
      } finally {
        await api.db.query('rollback');
      }
    }
    expect(plans[0]).toMatch(/Index Cond: \(\(configuration #> '\{model,type\}'::text\[\]\) = '"xgboost"'::jsonb\)/);
    expect(plans[1]).toMatch(/Index Cond: \(\(configuration #> '\{model,framework\}'::text\[\]\) = ANY/);
    expect(plans[2]).toMatch(/Index Cond: \(\(configuration #> '\{dataset,format\}'::text\[\]\) = '"csv"'::jsonb\)/);
  });

  describe('a list of values at a wizard’s path, in page order', () => {
    const WALK = /* GraphQL */ `
      query Walk($filter: TemplateFilter, $after: String, $direction: OrderDirection) {
        templates(filter: $filter, first: 3, after: $after, orderBy: { field: UPDATED_AT, direction: $direction }) {
          totalCount
          edges {
            node {
              name
            }
          }
          pageInfo {
            hasNextPage
            endCursor
          }
        }
      }
    `;
    let listTag: string;
    let expected: Array<{ name: string; framework: string; format: string; updatedAt: string }>;

    beforeAll(async () => {
      const stranger = await api.user('list-stranger');
      listTag = uniqueTag('value-list');
      const frameworks = [
        'pytorch',
        'xgboost',
        'sklearn',
        'pytorch',
        'xgboost',
        'pytorch',
        'keras',
        'xgboost',
        'pytorch',
        'xgboost',
        'pytorch',
      ];
      // Three templates share one updated_at: the id decides their order.
      const rows = frameworks.map((framework, i) => ({
        name: `listed ${i}`,
        framework,
        format: i % 3 === 0 ? 'csv' : 'parquet',
        updatedAt: new Date(Date.UTC(2026, 0, 1 + (i < 3 ? 0 : i))).toISOString(),
        ownerId: i % 4 === 3 ? stranger.id : owner.id,
        isPublic: i % 8 === 3,
        isActive: i !== 5,
      }));
      const ids = await insertTemplates(
        api,
        rows.map((row) => ({
          ownerId: row.ownerId,
          name: row.name,
          tags: [listTag],
          isPublic: row.isPublic,
          isActive: row.isActive,
          updatedAt: row.updatedAt,
          configuration: { ...base, model: { ...base.model, framework: row.framework }, dataset: { ...base.dataset, format: row.format } },
        })),
      );
      const visible = rows
        .map((row, i) => ({ ...row, id: ids[i] }))
        .filter((row) => row.isActive && (row.ownerId === owner.id || row.isPublic));
      expect(visible.length).toBeLessThan(rows.length);
      visible.sort((a, b) => (a.updatedAt === b.updatedAt ? b.id.localeCompare(a.id) : b.updatedAt.localeCompare(a.updatedAt)));
      expected = visible;
    });

    async function walk(configuration: JsonFilter, direction: 'ASC' | 'DESC'): Promise<{ names: string[]; totals: number[] }> {
      const names: string[] = [];
      const totals: number[] = [];
      let after: string | null = null;
      for (let page = 0; page < 10; page++) {
        const response: GraphqlResponse = await api.graphql(WALK, {
          as: owner,
          variables: { filter: { tags: { allOf: [listTag] }, configuration }, after, direction },
        });
        const connection: {
          totalCount: number;
          edges: Array<{ node: { name: string } }>;
          pageInfo: { hasNextPage: boolean; endCursor: string };
        } = dataOf(response).templates;
        names.push(...connection.edges.map((edge) => edge.node.name));
        totals.push(connection.totalCount);
        if (!connection.pageInfo.hasNextPage) return { names, totals };
        after = connection.pageInfo.endCursor;
      }
      throw new Error('more pages than templates');
    }

    it('walks every page of the values listed, a value listed twice or held by no template included, in either direction', async () => {
      const configuration = { paths: [{ path: '/model/framework', in: ['pytorch', 'xgboost', 'pytorch', 'nosuch'] }] };
      const wanted = expected.filter((row) => row.framework === 'pytorch' || row.framework === 'xgboost').map((row) => row.name);
      expect(wanted.length).toBeGreaterThan(6);
      const descending = await walk(configuration, 'DESC');
      expect(descending.names).toEqual(wanted);
      expect(new Set(descending.totals)).toEqual(new Set([wanted.length]));
      expect((await walk(configuration, 'ASC')).names).toEqual([...wanted].reverse());
    });

    it('keeps every other condition of the filter on each value', async () => {
      const configuration = {
        paths: [
          { path: '/dataset/format', equals: 'parquet' },
          { path: '/model/framework', in: ['xgboost', 'keras', 'sklearn'] },
        ],
      };
      const wanted = expected.filter((row) => row.format === 'parquet' && row.framework !== 'pytorch').map((row) => row.name);
      expect(wanted.length).toBeGreaterThan(2);
      const { names, totals } = await walk(configuration, 'DESC');
      expect(names).toEqual(wanted);
      expect(totals[0]).toBe(wanted.length);
    });

    it('reads the path’s index once per value', async () => {
      const { sent } = await api.countStatements(() =>
        api.graphql(WALK, {
          as: owner,
          variables: { filter: { configuration: { paths: [{ path: '/model/framework', in: ['pytorch', 'xgboost'] }] } } },
        }),
      );
      const listing = sent.find((statement) => statement.sql.includes('cross join lateral'))!;
      await api.db.query('begin');
      try {
        await api.db.query('set local enable_seqscan = off');
        await api.db.query('set local enable_bitmapscan = off');
        const rows = await api.db.query(`explain ${listing.sql}`, [...listing.values]);
        const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
        // A page at most per value, each found in page order by the path's own index with the value compared there.
        expect(plan).toMatch(
          /Limit [^\n]*\n\s*-> {2}Index Scan using experiment_templates_model_framework_index [^\n]*\n\s*Index Cond: \(\(configuration #> '\{model,framework\}'::text\[\]\) = "\*VALUES\*"\.column1\)/,
        );
      } finally {
        await api.db.query('rollback');
      }
    });
  });
});
