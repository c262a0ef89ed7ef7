import { dataOf, errorOf, useApi } from '../support/api';
import { createTemplateViaApi, insertExperiments, uniqueTag, validConfiguration, type TestUser } from '../support/factories';

/**
 * Filters on what a JSON document holds: `contains` (PostgreSQL `@>`) and conditions at JSON pointers, for templates'
 * configurations and experiments' documents. Pointers and values are bound as parameters, never written into SQL, and
 * hidden templates and other people's experiments stay out whatever the filter.
 */
describe('filters on configuration contents', () => {
  const api = useApi();

  const PAGE = /* GraphQL */ `
    query Page($filter: TemplateFilter, $orderBy: TemplateOrder, $first: Int, $after: String) {
      templates(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
        edges {
          node {
            name
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
        totalCount
      }
    }
  `;

  let owner: TestUser;
  let stranger: TestUser;
  let tag: string;

  /** Names of the visible templates carrying this file's tag and matching `configuration`, by name. */
  async function names(configuration: Record<string, unknown>, as: TestUser = owner): Promise<string[]> {
    const response = await api.graphql(PAGE, {
      as,
      variables: { filter: { tags: { allOf: [tag] }, configuration }, orderBy: { field: 'NAME' }, first: 50 },
    });
    return dataOf(response).templates.edges.map((edge: { node: { name: string } }) => edge.node.name);
  }

  beforeAll(async () => {
    owner = await api.user('owner');
    stranger = await api.user('stranger');
    tag = uniqueTag('configuration-filter');
    const make = (as: TestUser, name: string, configuration: object, isPublic = false) =>
      createTemplateViaApi(api, as, { name, tags: [tag], configuration, isPublic });
    await make(
      owner,
      'a xgboost parquet',
      validConfiguration({ model: { type: 'xgboost', framework: 'xgboost', hyperparameters: { 'a/b': 1 } } }),
    );
    await make(
      owner,
      'b forest csv',
      validConfiguration({
        dataset: { source: 's3://d/x.csv', format: 'csv', target: 'y' },
        parameters: { seed: 1, earlyStopping: true },
      }),
    );
    await make(
      owner,
      'c torch parquet',
      validConfiguration({
        model: { type: 'transformer', framework: 'pytorch' },
        features: [{ name: 'age', type: 'numeric' }],
      }),
    );
    // Someone else's private template matching every filter below: never listed to the owner.
    await make(stranger, 'd hidden xgboost', validConfiguration({ model: { type: 'xgboost', framework: 'xgboost' } }));
  });

  it('matches a value at a pointer exactly', async () => {
    expect(await names({ paths: [{ path: '/model/type', equals: 'xgboost' }] })).toEqual(['a xgboost parquet']);
    expect(await names({ paths: [{ path: '/dataset/format', equals: 'parquet' }] })).toEqual(['a xgboost parquet', 'c torch parquet']);
    expect(await names({ paths: [{ path: '/model/type', equals: 'xgb' }] })).toEqual([]);
  });

  it('matches one of several values, inside arrays, and keys holding "/" escaped as "~1"', async () => {
    expect(await names({ paths: [{ path: '/model/framework', in: ['pytorch', 'xgboost'] }] })).toEqual([
      'a xgboost parquet',
      'c torch parquet',
    ]);
    expect(await names({ paths: [{ path: '/features/0/name', equals: 'age' }] })).toEqual(['c torch parquet']);
    expect(await names({ paths: [{ path: '/model/hyperparameters/a~1b', equals: 1 }] })).toEqual(['a xgboost parquet']);
  });

  it('tests whether a pointer leads anywhere', async () => {
    expect(await names({ paths: [{ path: '/parameters/earlyStopping', exists: true }] })).toEqual(['b forest csv']);
    expect(await names({ paths: [{ path: '/parameters/earlyStopping', exists: false }] })).toEqual([
      'a xgboost parquet',
      'c torch parquet',
    ]);
  });

  it('matches containment, and combines every condition with AND and with the other filters, orderings and pages', async () => {
    expect(await names({ contains: { dataset: { format: 'parquet' }, model: { framework: 'pytorch' } } })).toEqual(['c torch parquet']);
    expect(
      await names({ contains: { dataset: { format: 'parquet' } }, paths: [{ path: '/model/type', in: ['xgboost', 'random_forest'] }] }),
    ).toEqual(['a xgboost parquet']);

    const filter = { tags: { allOf: [tag] }, configuration: { paths: [{ path: '/dataset/format', equals: 'parquet' }] } };
    const first = dataOf(
      await api.graphql(PAGE, { as: owner, variables: { filter, orderBy: { field: 'NAME', direction: 'DESC' }, first: 1 } }),
    );
    expect(first.templates).toMatchObject({
      edges: [{ node: { name: 'c torch parquet' } }],
      pageInfo: { hasNextPage: true },
      totalCount: 2,
    });
    const second = dataOf(
      await api.graphql(PAGE, {
        as: owner,
        variables: { filter, orderBy: { field: 'NAME', direction: 'DESC' }, first: 1, after: first.templates.pageInfo.endCursor },
      }),
    );
    expect(second.templates).toMatchObject({ edges: [{ node: { name: 'a xgboost parquet' } }], pageInfo: { hasNextPage: false } });
  });

  it('never lists a template the caller may not see, whatever it holds', async () => {
    expect(await names({ paths: [{ path: '/model/type', equals: 'xgboost' }] }, stranger)).toEqual(['d hidden xgboost']);
    const anonymous = dataOf(
      await api.graphql(PAGE, {
        variables: { filter: { tags: { allOf: [tag] }, configuration: { contains: { model: { type: 'xgboost' } } } } },
      }),
    );
    expect(anonymous.templates.edges).toEqual([]);
  });

  it('binds pointers and values: no client text reaches the SQL', async () => {
    const pointer = "/model/type'); drop table users; --";
    const { statements } = await api.countStatements(() =>
      api.graphql(PAGE, { as: owner, variables: { filter: { configuration: { paths: [{ path: pointer, equals: 'x"y' }] } } } }),
    );
    const listing = statements.find((sql) => sql.includes('from experiment_templates'))!;
    expect(listing).toContain('#>');
    expect(listing).not.toContain('drop table');
    expect(listing).not.toContain('x"y');
  });

  it('refuses malformed conditions with the path of each one', async () => {
    const response = await api.graphql(PAGE, {
      as: owner,
      variables: {
        filter: {
          configuration: {
            paths: [
              { path: 'model/type', equals: 'x' },
              { path: '/model/~2', equals: 'x' },
              { path: '/model/type', equals: 'x', exists: true },
              { path: '/model/type' },
              { path: '/model/type', in: [] },
              { path: '/model/\u0000', exists: true },
            ],
          },
        },
      },
    });
    const error = errorOf(response);
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.extensions.validationErrors).toEqual([
      { path: '/filter/configuration/paths/0/path', message: 'must be a JSON pointer starting with "/", e.g. "/model/type"' },
      { path: '/filter/configuration/paths/1/path', message: 'may escape only "~" as "~0" and "/" as "~1"' },
      { path: '/filter/configuration/paths/2', message: 'must have exactly one of equals, in, exists (got equals, exists)' },
      { path: '/filter/configuration/paths/3', message: 'must have exactly one of equals, in, exists (got none)' },
      { path: '/filter/configuration/paths/4/in', message: 'must hold 1 to 50 values (got 0)' },
      { path: '/filter/configuration/paths/5/path', message: 'must not contain the NUL character (U+0000)' },
    ]);
  });

  it('refuses more than 20 conditions', async () => {
    const paths = Array.from({ length: 21 }, () => ({ path: '/model/type', exists: true }));
    const error = errorOf(await api.graphql(PAGE, { as: owner, variables: { filter: { configuration: { paths } } } }));
    expect(error.extensions.validationErrors).toEqual([
      { path: '/filter/configuration/paths', message: 'must hold at most 20 conditions (got 21)' },
    ]);
  });
});

describe('filters on experiment documents', () => {
  const api = useApi();

  const EXPERIMENTS = /* GraphQL */ `
    query Experiments($filter: ExperimentFilter) {
      experiments(filter: $filter, first: 50) {
        edges {
          node {
            name
          }
        }
        totalCount
      }
    }
  `;

  let owner: TestUser;
  let other: TestUser;

  async function names(filter: Record<string, unknown>, as: TestUser = owner): Promise<string[]> {
    const page = dataOf(await api.graphql(EXPERIMENTS, { as, variables: { filter } })).experiments;
    return page.edges.map((edge: { node: { name: string } }) => edge.node.name).sort();
  }

  beforeAll(async () => {
    owner = await api.user('owner');
    other = await api.user('other');
    const [small, large] = await insertExperiments(api, [
      { ownerId: owner.id, name: 'small', configuration: validConfiguration({ model: { type: 'xgboost' } }) },
      { ownerId: owner.id, name: 'large', configuration: validConfiguration({ model: { type: 'transformer', framework: 'pytorch' } }) },
      { ownerId: other.id, name: "other's", configuration: validConfiguration({ model: { type: 'xgboost' } }) },
    ]);
    await api.db.query(
      `update ml_experiments set dataset_statistics = $2, resource_requirements = $3, feature_importance = $4,
              model_recommendations = $5, configuration_metadata = $6 where id = $1`,
      [small, { rows: 1000, columns: 12 }, { gpus: 0 }, { tenure: 0.4 }, { suggested: ['xgboost'] }, { analysedBy: 'dataset-service' }],
    );
    await api.db.query(`update ml_experiments set dataset_statistics = $2, resource_requirements = $3 where id = $1`, [
      large,
      { rows: 5000000, columns: 300 },
      { gpus: 4 },
    ]);
  });

  it('filters by configuration and by each analysis document, only among the caller’s experiments', async () => {
    expect(await names({ configuration: { paths: [{ path: '/model/type', equals: 'xgboost' }] } })).toEqual(['small']);
    expect(await names({ datasetStatistics: { paths: [{ path: '/rows', equals: 5000000 }] } })).toEqual(['large']);
    expect(await names({ resourceRequirements: { contains: { gpus: 4 } } })).toEqual(['large']);
    expect(await names({ featureImportance: { paths: [{ path: '/tenure', exists: true }] } })).toEqual(['small']);
    expect(await names({ modelRecommendations: { contains: { suggested: ['xgboost'] } } })).toEqual(['small']);
    expect(await names({ configurationMetadata: { paths: [{ path: '/analysedBy', in: ['dataset-service', 'other'] }] } })).toEqual([
      'small',
    ]);
    expect(
      await names({
        configuration: { contains: { model: { type: 'xgboost' } } },
        datasetStatistics: { paths: [{ path: '/rows', exists: true }] },
      }),
    ).toEqual(['small']);
    expect(await names({ configuration: { paths: [{ path: '/model/type', equals: 'xgboost' }] } }, other)).toEqual(["other's"]);
  });

  it('reports a bad condition at its document’s path', async () => {
    const error = errorOf(
      await api.graphql(EXPERIMENTS, { as: owner, variables: { filter: { datasetStatistics: { paths: [{ path: 'rows' }] } } } }),
    );
    expect(error.extensions.validationErrors).toEqual([
      { path: '/filter/datasetStatistics/paths/0/path', message: 'must be a JSON pointer starting with "/", e.g. "/model/type"' },
      { path: '/filter/datasetStatistics/paths/0', message: 'must have exactly one of equals, in, exists (got none)' },
    ]);
  });
});
