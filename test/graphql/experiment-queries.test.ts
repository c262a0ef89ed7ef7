import { randomUUID } from 'node:crypto';
import { encodeCursor } from '../../src/db/keyset';
import { dataOf, errorOf, useApi, type GraphqlResponse } from '../support/api';
import {
  createTemplateViaService,
  insertExperiments,
  insertTemplates,
  services,
  validConfiguration,
  type TestUser,
} from '../support/factories';

const EXPERIMENT = `
  query Experiment($id: ID!) {
    experiment(id: $id) { id name status configuration templateVersion owner { id } }
  }`;

const EXPERIMENTS = `
  query Experiments($filter: ExperimentFilter, $first: Int, $after: String) {
    experiments(filter: $filter, first: $first, after: $after) {
      totalCount
      edges { cursor node { id } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }`;

const LINEAGE = `
  query Lineage($id: ID!) {
    experiment(id: $id) {
      templateVersion
      configuration
      hasNewerTemplateVersion
      template { id name }
      templateVersionSnapshot { version name configuration }
    }
  }`;

describe('experiment queries over HTTP', () => {
  const api = useApi();

  async function experimentIds(user: TestUser, variables: Record<string, unknown>): Promise<string[]> {
    const { experiments } = dataOf(await api.graphql(EXPERIMENTS, { variables, as: user }));
    expect(experiments.totalCount).toBe(experiments.edges.length);
    return experiments.edges.map((edge: { node: { id: string } }) => edge.node.id);
  }

  describe('experiment(id)', () => {
    it("shows the owner their experiment, and nobody else's", async () => {
      const owner = await api.user('owner');
      const stranger = await api.user('stranger');
      const [id] = await insertExperiments(api, [{ ownerId: owner.id, name: 'Mine', status: 'running' }]);

      expect(dataOf(await api.graphql(EXPERIMENT, { variables: { id }, as: owner })).experiment).toEqual({
        id,
        name: 'Mine',
        status: 'running',
        configuration: validConfiguration(),
        templateVersion: null,
        owner: { id: owner.id },
      });

      const hidden = await api.graphql(EXPERIMENT, { variables: { id }, as: stranger });
      const random = await api.graphql(EXPERIMENT, { variables: { id: randomUUID() }, as: stranger });
      const malformed = await api.graphql(EXPERIMENT, { variables: { id: "1' or '1'='1" }, as: stranger });
      const anonymous = await api.graphql(EXPERIMENT, { variables: { id } });
      expect(hidden.body).toEqual({ data: { experiment: null } });
      // Someone else's experiment answers exactly as one that does not exist.
      for (const response of [random, malformed, anonymous]) expect(response.body).toEqual(hidden.body);
    });

    it('lets a service token read any experiment', async () => {
      const owner = await api.user('owner');
      const service = await api.user('analysis', ['service']);
      const [id] = await insertExperiments(api, [{ ownerId: owner.id }]);
      const { experiment } = dataOf(await api.graphql(EXPERIMENT, { variables: { id }, as: service }));
      expect(experiment).toMatchObject({ id, owner: { id: owner.id } });
    });
  });

  describe('experiments', () => {
    it("lists only the caller's own experiments, by each filter", async () => {
      const ada = await api.user('ada');
      const bob = await api.user('bob');
      const [classifier] = await insertTemplates(api, [{ ownerId: ada.id, category: 'classification' }]);
      const [regressor] = await insertTemplates(api, [{ ownerId: ada.id, category: 'regression', isPublic: true }]);
      const [fromClassifier, fromRegressor, scratchDone, scratchQueued] = await insertExperiments(api, [
        { ownerId: ada.id, templateId: classifier, status: 'draft' },
        { ownerId: ada.id, templateId: regressor, status: 'draft', wizardCompleted: true },
        { ownerId: ada.id, status: 'completed', wizardCompleted: true },
        { ownerId: ada.id, status: 'queued' },
      ]);
      await insertExperiments(api, [{ ownerId: bob.id, templateId: regressor, status: 'draft', wizardCompleted: true }]);

      const sorted = (ids: string[]) => [...ids].sort();
      expect(sorted(await experimentIds(ada, {}))).toEqual(sorted([fromClassifier, fromRegressor, scratchDone, scratchQueued]));
      expect(await experimentIds(ada, { filter: { templateId: regressor } })).toEqual([fromRegressor]);
      expect(await experimentIds(ada, { filter: { templateCategory: 'CLASSIFICATION' } })).toEqual([fromClassifier]);
      expect(await experimentIds(ada, { filter: { templateCategory: 'REGRESSION' } })).toEqual([fromRegressor]);
      expect(await experimentIds(ada, { filter: { templateCategory: 'NLP' } })).toEqual([]);
      expect(sorted(await experimentIds(ada, { filter: { status: 'draft' } }))).toEqual(sorted([fromClassifier, fromRegressor]));
      expect(await experimentIds(ada, { filter: { status: 'queued' } })).toEqual([scratchQueued]);
      expect(sorted(await experimentIds(ada, { filter: { wizardCompleted: true } }))).toEqual(sorted([fromRegressor, scratchDone]));
      expect(sorted(await experimentIds(ada, { filter: { wizardCompleted: false } }))).toEqual(sorted([fromClassifier, scratchQueued]));
      expect(await experimentIds(ada, { filter: { templateCategory: 'REGRESSION', wizardCompleted: false } })).toEqual([]);
      expect(await experimentIds(bob, { filter: { templateCategory: 'REGRESSION' } })).toHaveLength(1);
    });

    it('filters by template and by category only through templates the caller may still see', async () => {
      const ada = await api.user('ada');
      const owner = await api.user('template-owner');
      const [hidden] = await insertTemplates(api, [{ ownerId: owner.id, category: 'nlp' }]);
      const [id] = await insertExperiments(api, [{ ownerId: ada.id, templateId: hidden }]);
      const listed = (filter: Record<string, unknown>) => api.graphql(EXPERIMENTS, { variables: { filter }, as: ada });
      // A hidden template's id answers exactly like an id nobody ever used.
      const unknown = await listed({ templateId: randomUUID() });
      expect(dataOf(unknown).experiments).toMatchObject({ totalCount: 0, edges: [] });
      expect((await listed({ templateId: hidden })).body).toEqual(unknown.body);
      expect(await experimentIds(ada, { filter: { templateCategory: 'NLP' } })).toEqual([]);
      expect(await experimentIds(ada, {})).toContain(id);

      await api.db.query('insert into experiment_template_shares (template_id, user_id) values ($1, $2)', [hidden, ada.id]);
      expect(await experimentIds(ada, { filter: { templateId: hidden } })).toEqual([id]);
      expect(await experimentIds(ada, { filter: { templateId: hidden, templateCategory: 'NLP' } })).toEqual([id]);
    });

    it('walks pages newest first without repeats or skips while rows are inserted between pages', async () => {
      const walker = await api.user('walker');
      // Microseconds apart, and two sharing one instant: the keyset must keep full precision and break ties by id.
      const times = ['.000007', '.000006', '.000005', '.000004', '.000004', '.000003', '.000002', '.000001'];
      const ids = await insertExperiments(
        api,
        times.map((fraction) => ({ ownerId: walker.id, createdAt: `2026-01-01T00:00:00${fraction}Z` })),
      );
      const expected = ids
        .map((id, index) => ({ id, time: times[index] }))
        .sort((a, b) => b.time.localeCompare(a.time) || b.id.localeCompare(a.id))
        .map((row) => row.id);

      const seen: string[] = [];
      let after: string | null = null;
      for (let page = 0; page < 10; page++) {
        const response: GraphqlResponse = await api.graphql(EXPERIMENTS, { variables: { first: 3, after }, as: walker });
        const { experiments } = dataOf(response);
        expect(experiments.pageInfo.hasPreviousPage).toBe(false);
        seen.push(...experiments.edges.map((edge: { node: { id: string } }) => edge.node.id));
        expect(experiments.pageInfo.endCursor).toBe(experiments.edges.at(-1)?.cursor ?? null);
        if (!experiments.pageInfo.hasNextPage) break;
        after = experiments.pageInfo.endCursor;
        // A newer row sorts before the cursor: it must neither appear nor push a listed row onto the next page.
        await insertExperiments(api, [{ ownerId: walker.id, name: 'newer' }]);
      }
      expect(seen).toEqual(expected);
      const { experiments } = dataOf(await api.graphql(EXPERIMENTS, { variables: { first: 100 }, as: walker }));
      expect(experiments.totalCount).toBe(ids.length + 2);
    });

    it('refuses a bad cursor or page size as BAD_USER_INPUT, before any SQL error can happen', async () => {
      const ada = await api.user('ada');
      const cases: Array<[Record<string, unknown>, string]> = [
        [{ after: 'not-a-cursor' }, '/after'],
        [{ after: encodeCursor(['yesterday', 'not-a-uuid']) }, '/after'],
        [{ after: encodeCursor(['2026-01-01T00:00:00.000000Z']) }, '/after'],
        [{ first: 0 }, '/first'],
        [{ first: 101 }, '/first'],
        [{ filter: { templateId: 'abc' } }, '/filter/templateId'],
      ];
      for (const [variables, path] of cases) {
        const error = errorOf(await api.graphql(EXPERIMENTS, { variables, as: ada }));
        expect({ code: error.code, paths: error.extensions.validationErrors.map((e: { path: string }) => e.path) }).toEqual({
          code: 'BAD_USER_INPUT',
          paths: [path],
        });
      }
    });

    it('requires a signed-in caller', async () => {
      expect(errorOf(await api.graphql(EXPERIMENTS)).code).toBe('UNAUTHENTICATED');
    });
  });

  describe('template lineage', () => {
    it('tells whether the template moved on, and keeps the snapshot it was made from', async () => {
      const ada = await api.user('ada');
      const template = await createTemplateViaService(api, ada, { name: 'Churn v1' });
      const [id] = await insertExperiments(api, [{ ownerId: ada.id, templateId: template.id, templateVersion: 1 }]);

      const lineage = async () => dataOf(await api.graphql(LINEAGE, { variables: { id }, as: ada })).experiment;
      expect(await lineage()).toMatchObject({
        templateVersion: 1,
        hasNewerTemplateVersion: false,
        template: { id: template.id, name: 'Churn v1' },
        templateVersionSnapshot: { version: 1, name: 'Churn v1' },
      });

      const service = services(api).templates;
      await service.update(ada, template.id, { name: 'Churn v2', configuration: validConfiguration({ parameters: { seed: 7 } }) });
      expect(await lineage()).toMatchObject({
        templateVersion: 1,
        hasNewerTemplateVersion: true,
        template: { id: template.id, name: 'Churn v2' },
        templateVersionSnapshot: { version: 1, name: 'Churn v1', configuration: validConfiguration() },
      });

      await services(api).templates.delete(ada, template.id);
      expect(await lineage()).toEqual({
        templateVersion: 1,
        configuration: validConfiguration(),
        hasNewerTemplateVersion: false,
        template: null,
        templateVersionSnapshot: null,
      });
    });

    it('shows nothing of a template the caller can no longer see', async () => {
      const ada = await api.user('ada');
      const owner = await api.user('template-owner');
      const [hidden] = await insertTemplates(api, [{ ownerId: owner.id, version: 3 }]);
      const [id] = await insertExperiments(api, [{ ownerId: ada.id, templateId: hidden, templateVersion: 1 }]);
      expect(dataOf(await api.graphql(LINEAGE, { variables: { id }, as: ada })).experiment).toMatchObject({
        templateVersion: 1,
        hasNewerTemplateVersion: false,
        template: null,
        templateVersionSnapshot: null,
      });
      await api.db.query('insert into experiment_template_shares (template_id, user_id) values ($1, $2)', [hidden, ada.id]);
      expect(dataOf(await api.graphql(LINEAGE, { variables: { id }, as: ada })).experiment).toMatchObject({
        hasNewerTemplateVersion: true,
        template: { id: hidden },
        templateVersionSnapshot: { version: 1 },
      });
    });
  });

  describe('Template.experiments', () => {
    const TEMPLATE_EXPERIMENTS = `
      query TemplateExperiments($id: ID!, $first: Int, $after: String) {
        experiment(id: $id) {
          template {
            experiments(first: $first, after: $after) {
              totalCount
              edges { node { id estimatedTrainingSeconds template { id } } }
              pageInfo { hasNextPage endCursor }
            }
          }
        }
      }`;

    it("lists the caller's experiments made from the template, newest first, in pages", async () => {
      const ada = await api.user('ada');
      const bob = await api.user('bob');
      const [shared, other] = await insertTemplates(
        api,
        Array.from({ length: 2 }, () => ({ ownerId: ada.id, isPublic: true })),
      );
      const [oldest, middle, newest] = await insertExperiments(api, [
        { ownerId: ada.id, templateId: shared, createdAt: '2026-01-01T00:00:01Z' },
        { ownerId: ada.id, templateId: shared, createdAt: '2026-01-01T00:00:02Z' },
        { ownerId: ada.id, templateId: shared, createdAt: '2026-01-01T00:00:03Z' },
        { ownerId: ada.id, templateId: other, createdAt: '2026-01-01T00:00:04Z' },
      ]);
      const [bobs] = await insertExperiments(api, [{ ownerId: bob.id, templateId: shared }]);
      await api.db.query(`update ml_experiments set estimated_training_time = interval '90 seconds' where id = $1`, [newest]);

      const first = dataOf(await api.graphql(TEMPLATE_EXPERIMENTS, { variables: { id: oldest, first: 2 }, as: ada }));
      const page = first.experiment.template.experiments;
      expect(page.totalCount).toBe(3);
      expect(page.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([newest, middle]);
      expect(page.edges[0].node).toMatchObject({ template: { id: shared }, estimatedTrainingSeconds: 90 });
      expect(page.pageInfo.hasNextPage).toBe(true);

      const variables = { id: oldest, first: 2, after: page.pageInfo.endCursor };
      const second = dataOf(await api.graphql(TEMPLATE_EXPERIMENTS, { variables, as: ada })).experiment.template.experiments;
      expect(second.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([oldest]);
      expect(second.pageInfo.hasNextPage).toBe(false);

      const bobsView = dataOf(await api.graphql(TEMPLATE_EXPERIMENTS, { variables: { id: bobs }, as: bob }));
      expect(bobsView.experiment.template.experiments.edges.map((edge: { node: { id: string } }) => edge.node.id)).toEqual([bobs]);
    });

    it('gives each template of a page its own experiments', async () => {
      const ada = await api.user('ada');
      const templates = await insertTemplates(
        api,
        Array.from({ length: 3 }, () => ({ ownerId: ada.id })),
      );
      const ids = await insertExperiments(
        api,
        templates.flatMap((templateId, t) =>
          [0, 1].map((n) => ({ ownerId: ada.id, templateId, createdAt: `2026-02-0${t + 1}T00:00:0${n}Z` })),
        ),
      );
      const { experiments } = dataOf(
        await api.graphql(
          `{ experiments(first: 10) { edges { node { id template { id experiments(first: 5) { totalCount edges { node { id } } } } } } } }`,
          { as: ada },
        ),
      );
      for (const { node } of experiments.edges) {
        const t = templates.indexOf(node.template.id);
        expect(node.template.experiments).toEqual({
          totalCount: 2,
          edges: [{ node: { id: ids[2 * t + 1] } }, { node: { id: ids[2 * t] } }],
        });
      }
    });

    it('refuses a bad page size or cursor as BAD_USER_INPUT', async () => {
      const ada = await api.user('ada');
      const [publicTemplate] = await insertTemplates(api, [{ ownerId: ada.id, isPublic: true }]);
      const [id] = await insertExperiments(api, [{ ownerId: ada.id, templateId: publicTemplate }]);
      const bad = await api.graphql('query Bad($id: ID!) { experiment(id: $id) { template { experiments(first: 500) { totalCount } } } }', {
        variables: { id },
        as: ada,
      });
      expect(errorOf(bad).extensions).toMatchObject({ code: 'BAD_USER_INPUT', validationErrors: [{ path: '/first' }] });
      const badCursor = await api.graphql(TEMPLATE_EXPERIMENTS, { variables: { id, after: 'x' }, as: ada });
      expect(errorOf(badCursor).extensions).toMatchObject({ code: 'BAD_USER_INPUT', validationErrors: [{ path: '/after' }] });
    });
  });
});
