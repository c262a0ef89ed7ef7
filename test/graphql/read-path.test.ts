import { Client } from 'pg';
import type { StatementStart } from '../../src/db/sql';
import { dataOf, useApi, type Api } from '../support/api';
import {
  createTemplateViaApi,
  insertExperiments,
  insertTemplates,
  uniqueTag,
  validConfiguration,
  type TestUser,
} from '../support/factories';

const PAGE = /* GraphQL */ `
  query Page($first: Int!, $filter: TemplateFilter) {
    templates(first: $first, filter: $filter) {
      edges {
        node {
          id
          name
          owner {
            id
            displayName
          }
          sharedWith {
            id
            displayName
          }
        }
      }
      pageInfo {
        hasNextPage
      }
    }
  }
`;

const HISTORY = /* GraphQL */ `
  query History($id: ID!, $first: Int) {
    template(id: $id) {
      id
      versions(first: $first) {
        version
        createdAt
        createdBy {
          id
          displayName
        }
      }
    }
  }
`;

/** Statements that write or lock: a read must send none of them, nor open a transaction. */
const WRITES_OR_LOCKS =
  /^\s*(insert|update|delete|merge|begin|start transaction|savepoint)\b|\bfor (no key )?update\b|\bfor (key )?share\b/i;

/** Rows the plan of `statement` read from `table`, from EXPLAIN ANALYZE of the statement as sent, with its values. */
async function rowsRead(api: Api, statement: StatementStart, table: string): Promise<number> {
  const [{ 'QUERY PLAN': plans }] = await api.db.query(`explain (analyze, format json) ${statement.sql}`, [...statement.values]);
  let rows = 0;
  const visit = (node: Record<string, any>) => {
    if (node['Relation Name'] === table) rows += node['Actual Rows'] * node['Actual Loops'];
    for (const child of node.Plans ?? []) visit(child);
  };
  visit(plans[0].Plan);
  return rows;
}

describe('the read path', () => {
  const api = useApi();
  let owner: TestUser;
  let readers: TestUser[];
  const tag = uniqueTag();

  beforeAll(async () => {
    [owner, ...readers] = await Promise.all(['owner', 'reader1', 'reader2', 'reader3'].map((name) => api.user(name)));
    await insertTemplates(
      api,
      Array.from({ length: 60 }, (_, i) => ({ ownerId: owner.id, tags: [tag], sharedWith: [readers[i % 3].id, readers[(i + 1) % 3].id] })),
    );
  });

  it('serves a page with owners and shares in one statement, whatever its size', async () => {
    for (const first of [1, 20, 50]) {
      const { result, roundTrips, statements } = await api.countStatements(() =>
        api.graphql(PAGE, { as: owner, variables: { first, filter: { tags: { allOf: [tag] } } } }),
      );
      const { edges } = dataOf(result).templates;
      expect(edges).toHaveLength(first);
      for (const { node } of edges) {
        expect(node.owner).toEqual({ id: owner.id, displayName: expect.any(String) });
        expect(node.sharedWith).toHaveLength(2);
      }
      // One statement: the page with its owners and the shares of the caller's own templates (the caller is known to
      // the process).
      expect({ first, roundTrips, statements: statements.length }).toEqual({ first, roundTrips: 1, statements: 1 });
    }
  });

  it("shows a page's shares to the owner only, as the template loader does", async () => {
    const query = `query($filter: TemplateFilter) {
      templates(first: 50, filter: $filter) { edges { node { id sharedWith { id displayName createdAt } } } }
    }`;
    const variables = { filter: { tags: { allOf: [tag] } } };
    const asOwner = dataOf(await api.graphql(query, { as: owner, variables })).templates.edges;
    for (const { node } of asOwner) {
      const one = dataOf(
        await api.graphql('query($id: ID!) { template(id: $id) { sharedWith { id displayName createdAt } } }', {
          as: owner,
          variables: { id: node.id },
        }),
      );
      expect(node.sharedWith).toEqual(one.template.sharedWith);
      expect(node.sharedWith).toHaveLength(2);
    }
    const asReader = dataOf(await api.graphql(query, { as: readers[0], variables })).templates.edges;
    expect(asReader.length).toBeGreaterThan(0);
    for (const { node } of asReader) expect(node.sharedWith).toEqual([]);
  });

  it('reads only the versions it returns for versions(first:), with their authors, and a template with its history in one statement', async () => {
    const template = await createTemplateViaApi(api, owner);
    for (let version = 2; version <= 6; version += 1) {
      dataOf(
        await api.graphql(`mutation($id: ID!, $name: String!) { updateTemplate(id: $id, input: { name: $name }) { version } }`, {
          as: owner,
          variables: { id: template.id, name: `name ${version}` },
        }),
      );
    }
    const { result, sent, roundTrips } = await api.countStatements(() =>
      api.graphql(HISTORY, { as: owner, variables: { id: template.id, first: 3 } }),
    );
    expect(dataOf(result).template.versions.map(({ version, createdBy }: any) => [version, createdBy.id])).toEqual([
      [6, owner.id],
      [5, owner.id],
      [4, owner.id],
    ]);
    // The template and its history with their authors: one statement.
    expect({ roundTrips, statements: sent.length }).toEqual({ roundTrips: 1, statements: 1 });
    expect(await rowsRead(api, sent[0], 'experiment_template_versions')).toBe(3);

    // Histories of a page come from the history loader: one statement for the page, n rows per template. (A page of
    // one, the template just edited: EXPLAIN reports rows per loop, rounded, so one loop keeps the count exact.)
    const page = await api.countStatements(() =>
      api.graphql(
        `query($filter: TemplateFilter) { templates(first: 1, filter: $filter) { edges { node { id versions(first: 2) { version } } } } }`,
        { as: owner, variables: { filter: { scope: 'MINE' } } },
      ),
    );
    expect(dataOf(page.result).templates.edges).toEqual([{ node: { id: template.id, versions: [{ version: 6 }, { version: 5 }] } }]);
    const histories = page.sent.filter(({ sql }) => /experiment_template_versions/.test(sql));
    expect(histories).toHaveLength(1);
    expect(await rowsRead(api, histories[0], 'experiment_template_versions')).toBe(2);

    const everything = await api.countStatements(() => api.graphql(HISTORY, { as: owner, variables: { id: template.id } }));
    expect(dataOf(everything.result).template.versions.map(({ version }: any) => version)).toEqual([6, 5, 4, 3, 2, 1]);
  });

  it("reads a page of the caller's experiments per template for Template.experiments, however many they made", async () => {
    const maker = await api.user('maker');
    const [busy, quiet] = await insertTemplates(api, [{ ownerId: maker.id }, { ownerId: maker.id }]);
    const minute = (i: number) => new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString();
    await insertExperiments(api, [
      ...Array.from({ length: 200 }, (_, i) => ({ ownerId: maker.id, templateId: busy, name: `busy ${i}`, createdAt: minute(i) })),
      ...Array.from({ length: 2 }, (_, i) => ({ ownerId: maker.id, templateId: quiet, name: `quiet ${i}`, createdAt: minute(i) })),
    ]);
    const { result, sent } = await api.countStatements(() =>
      api.graphql(
        `query($filter: TemplateFilter) { templates(first: 2, filter: $filter, orderBy: { field: CREATED_AT }) { edges { node { id experiments(first: 3) { edges { node { name } } pageInfo { hasNextPage } } } } } }`,
        { as: maker, variables: { filter: { scope: 'MINE' } } },
      ),
    );
    const pages = new Map<string, { names: string[]; more: boolean }>(
      dataOf(result).templates.edges.map(({ node }: any) => [
        node.id,
        { names: node.experiments.edges.map((edge: any) => edge.node.name), more: node.experiments.pageInfo.hasNextPage },
      ]),
    );
    expect(pages.get(busy)).toEqual({ names: ['busy 199', 'busy 198', 'busy 197'], more: true });
    expect(pages.get(quiet)).toEqual({ names: ['quiet 1', 'quiet 0'], more: false });
    const [experiments] = sent.filter(({ sql }) => /from ml_experiments e/.test(sql) && !/count\(\*\)/.test(sql));
    // A page and one more row for the busy template, its two for the quiet one: not the 200 the caller made.
    expect(await rowsRead(api, experiments, 'ml_experiments')).toBeLessThanOrEqual(2 * 4);
  });

  it('sends nothing that writes or locks for the reads of a known caller whose claims did not change', async () => {
    const [templateId] = await insertTemplates(api, [{ ownerId: owner.id, tags: [tag] }]);
    await insertExperiments(api, [{ ownerId: owner.id, templateId }]);
    const reads = [
      ['{ me { id email displayName createdAt } }', {}],
      [PAGE, { first: 20, filter: { tags: { allOf: [tag] } } }],
      [HISTORY, { id: templateId, first: 10 }],
      [
        'query($id: ID!) { template(id: $id) { id configuration experiments(first: 5) { totalCount edges { node { id } } } } }',
        { id: templateId },
      ],
      ['{ experiments(first: 10) { totalCount edges { node { id name template { id name } owner { id } } } } }', {}],
    ] as const;
    for (const [query, variables] of reads) {
      const { result, statements } = await api.countStatements(() => api.graphql(query, { as: owner, variables }));
      dataOf(result);
      expect({ query, writes: statements.filter((sql) => WRITES_OR_LOCKS.test(sql)) }).toEqual({ query, writes: [] });
    }
  });

  it("reads an experiment's JSON documents only when the query selects them", async () => {
    const [templateId] = await insertTemplates(api, [{ ownerId: owner.id, tags: [tag] }]);
    await insertExperiments(api, [{ ownerId: owner.id, templateId }]);
    const documentColumns = (statements: string[]) =>
      statements.flatMap((sql) => sql.match(/\be\.(configuration|configuration_metadata|dataset_statistics|wizard_state)\b/g) ?? []);

    const plain = await api.countStatements(() =>
      api.graphql('{ experiments(first: 5) { edges { node { id name status createdAt } } } }', { as: owner }),
    );
    expect(dataOf(plain.result).experiments.edges.length).toBeGreaterThan(0);
    expect(documentColumns(plain.statements)).toEqual([]);

    const selected = await api.countStatements(() =>
      api.graphql('{ experiments(first: 5) { edges { node { id configuration datasetStatistics } } } }', { as: owner }),
    );
    const [{ node }] = dataOf(selected.result).experiments.edges;
    expect(node.configuration).toEqual(expect.objectContaining({ model: expect.any(Object) }));
    expect(node.datasetStatistics).toEqual({});
    expect(documentColumns(selected.statements).sort()).toEqual(['e.configuration', 'e.dataset_statistics']);

    const ofTemplate = await api.countStatements(() =>
      api.graphql('query($id: ID!) { template(id: $id) { experiments(first: 5) { totalCount edges { node { id wizardState } } } } }', {
        as: owner,
        variables: { id: templateId },
      }),
    );
    expect(dataOf(ofTemplate.result).template.experiments.totalCount).toBe(1);
    expect(documentColumns(ofTemplate.statements)).toEqual(['e.wizard_state']);
    // The template, then its page of experiments and their count together.
    expect(ofTemplate.roundTrips).toBe(2);
  });

  it('reuses the plan of a page whose best plan does not depend on its values, and plans searches and tags each time', async () => {
    const pageStatement = async (filter: Record<string, unknown>) => {
      const { result, sent } = await api.countStatements(() =>
        api.graphql('query($filter: TemplateFilter) { templates(first: 5, filter: $filter) { edges { node { id } } } }', {
          as: owner,
          variables: { filter },
        }),
      );
      dataOf(result);
      const [page] = sent.filter(({ sql }) => /from experiment_templates t/.test(sql));
      return page;
    };
    expect((await pageStatement({ categories: ['CLASSIFICATION'] })).prepared).toBe(true);
    expect((await pageStatement({ scope: 'MINE' })).prepared).toBe(true);
    expect((await pageStatement({ configuration: { paths: [{ path: '/model/type', equals: 'xgboost' }] } })).prepared).toBe(true);
    expect((await pageStatement({ configuration: { contains: { model: { type: 'xgboost' } } } })).prepared).toBe(true);
    expect((await pageStatement({ configuration: { paths: [{ path: '/model/type', in: ['xgboost'] }] } })).prepared).toBe(true);
    // Read value by value in page order (configuration-path-indexes.test.ts): one plan for any values.
    expect((await pageStatement({ configuration: { paths: [{ path: '/model/type', in: ['xgboost', 'svm'] }] } })).prepared).toBe(true);
    expect(
      (
        await pageStatement({
          configuration: {
            paths: [
              { path: '/model/type', in: ['xgboost', 'svm'] },
              { path: '/model/framework', equals: 'xgboost' },
            ],
          },
        })
      ).prepared,
    ).toBe(false);
    expect((await pageStatement({ configuration: { contains: { preprocessing: { scaling: 'standard' } } } })).prepared).toBe(false);
    expect((await pageStatement({ search: 'churn' })).prepared).toBe(false);
    expect((await pageStatement({ tags: { allOf: [tag] } })).prepared).toBe(false);
    expect((await pageStatement({ tags: { anyOf: [tag, 'other'] } })).prepared).toBe(false);
  });

  it('sends prepared pages that PostgreSQL plans once and runs with that plan for any values', async () => {
    // Enough rows for the size of a page to matter to the planner, as it does at scale.
    const crowd = await api.user('crowd');
    await insertTemplates(
      api,
      Array.from({ length: 3000 }, (_, i) => ({
        ownerId: crowd.id,
        isPublic: i % 2 === 0,
        category: i % 3 === 0 ? 'regression' : 'classification',
        configuration: validConfiguration({ model: { ...validConfiguration().model, type: i % 4 === 0 ? 'svm' : 'xgboost' } }),
      })),
    );
    await api.db.query('analyze');
    const [templateId] = await insertTemplates(api, [{ ownerId: owner.id }]);
    const sentBy = async (query: string, variables: Record<string, unknown>, as?: TestUser) => {
      const { result, sent } = await api.countStatements(() => api.graphql(query, { as, variables }));
      dataOf(result);
      expect(sent).toHaveLength(1);
      expect(sent[0].prepared).toBe(true);
      return sent[0];
    };
    const pages = [
      await sentBy(PAGE, { first: 20, filter: { categories: ['CLASSIFICATION'] } }, owner),
      await sentBy(PAGE, { first: 20, filter: { categories: ['REGRESSION'] } }),
      await sentBy(PAGE, { first: 20, filter: { configuration: { paths: [{ path: '/model/type', equals: 'xgboost' }] } } }, owner),
      await sentBy(
        PAGE,
        { first: 20, filter: { configuration: { paths: [{ path: '/model/type', in: ['svm', 'xgboost', 'lstm'] }] } } },
        owner,
      ),
      await sentBy(HISTORY, { id: templateId, first: 10 }, owner),
    ];
    const client = new Client({ connectionString: api.db.url });
    await client.connect();
    try {
      for (const [index, statement] of pages.entries()) {
        const name = `page_${index}`;
        // PostgreSQL plans the first five calls with their values, then keeps the generic plan if it costs no more.
        for (let call = 0; call < 8; call++) await client.query({ name, text: statement.sql, values: [...statement.values] });
        const [plans] = (await client.query('select generic_plans, custom_plans from pg_prepared_statements where name = $1', [name])).rows;
        expect({ index, ...plans }).toEqual({
          index,
          generic_plans: '3',
          custom_plans: '5',
        });
      }
    } finally {
      await client.end();
    }
  });
});
