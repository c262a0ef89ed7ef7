import { jsonFilterConditions, parseJsonFilter, type IndexedJsonPath, type JsonFilter } from '../../src/db/json-filter';
import { SqlValues } from '../../src/db/sql';
import { WIZARD_CONFIGURATION_PATHS } from '../../src/template/template-list';
import { dataOf, useApi } from '../support/api';
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
});
