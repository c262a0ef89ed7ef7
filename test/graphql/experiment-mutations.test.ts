import { randomUUID } from 'node:crypto';
import { dataOf, errorOf, useApi, type GraphqlResponse } from '../support/api';
import { createTemplateViaService, insertExperiments, services, usageOf, validConfiguration, type TestUser } from '../support/factories';

const FIELDS = `
  id name description status configuration templateVersion wizardCompleted wizardStepCompleted wizardState
  configurationMetadata datasetStatistics featureImportance modelRecommendations resourceRequirements
  estimatedTrainingSeconds actualTrainingSeconds owner { id } template { id name } hasNewerTemplateVersion`;

const CREATE_FROM_TEMPLATE = `
  mutation Create($input: CreateExperimentFromTemplateInput!) { createExperimentFromTemplate(input: $input) { ${FIELDS} } }`;
const CREATE = `mutation Create($input: CreateExperimentInput!) { createExperiment(input: $input) { ${FIELDS} } }`;
const SAVE_STEP = `
  mutation Save($id: ID!, $input: SaveWizardStepInput!) { saveWizardStep(id: $id, input: $input) { ${FIELDS} } }`;
const COMPLETE = `mutation Complete($id: ID!) { completeWizard(id: $id) { ${FIELDS} } }`;
const WRITE_ANALYSIS = `
  mutation Analysis($id: ID!, $input: AnalysisMetadataInput!) { writeAnalysisMetadata(id: $id, input: $input) { ${FIELDS} } }`;
const RECORD_TIME = `
  mutation Time($id: ID!, $seconds: Float!) { recordTrainingTime(id: $id, actualTrainingSeconds: $seconds) { ${FIELDS} } }`;
const READ = `query Read($id: ID!) { experiment(id: $id) { ${FIELDS} } }`;

/** The code and the sorted validation paths of a failed response; and no SQL in anything the client sees. */
function failureOf(response: GraphqlResponse): { code: string; paths?: string[] } {
  expect(JSON.stringify(response.body)).not.toMatch(/\b(select|insert|update|delete)\b.*\b(from|into|set)\b/i);
  const { code, extensions } = errorOf(response);
  const paths = extensions.validationErrors?.map((error: { path: string }) => error.path).sort();
  return paths ? { code, paths } : { code };
}

describe('experiment mutations over HTTP', () => {
  const api = useApi();
  const { dataset, features, model } = validConfiguration();

  async function experimentCount(ownerId: string): Promise<number> {
    const [row] = await api.db.query('select count(*)::int as n from ml_experiments where owner_id = $1', [ownerId]);
    return row.n;
  }

  async function draftOf(owner: TestUser, configuration: Record<string, unknown> = { dataset }): Promise<string> {
    return dataOf(await api.graphql(CREATE, { variables: { input: { name: 'Draft', configuration } }, as: owner })).createExperiment.id;
  }

  describe('createExperimentFromTemplate', () => {
    it('merges the overrides into the template, records its version and counts the use once', async () => {
      const ada = await api.user('ada');
      const template = await createTemplateViaService(api, ada, { name: 'Churn' });
      const before = await usageOf(api, template.id);

      const response = await api.graphql(CREATE_FROM_TEMPLATE, {
        as: ada,
        variables: {
          input: {
            templateId: template.id,
            overrides: { model: { hyperparameters: { maxDepth: 4 } }, features: [{ name: 'age', type: 'numeric' }] },
            estimatedTrainingSeconds: 3600,
          },
        },
      });
      const created = dataOf(response).createExperimentFromTemplate;
      expect(created).toMatchObject({
        name: 'Churn',
        status: 'draft',
        templateVersion: 1,
        wizardCompleted: false,
        estimatedTrainingSeconds: 3600,
        owner: { id: ada.id },
        template: { id: template.id, name: template.name },
        hasNewerTemplateVersion: false,
      });
      expect(created.configuration).toEqual({
        ...validConfiguration(),
        model: { ...model, hyperparameters: { nEstimators: 200, maxDepth: 4 } },
        features: [{ name: 'age', type: 'numeric' }],
      });
      const after = await usageOf(api, template.id);
      expect(after.usage_count).toBe(before.usage_count + 1);
      expect(after.last_used).not.toBeNull();

      const named = await api.graphql(CREATE_FROM_TEMPLATE, {
        as: ada,
        variables: { input: { templateId: template.id, name: 'Mine', description: 'with a name' } },
      });
      expect(dataOf(named).createExperimentFromTemplate).toMatchObject({ name: 'Mine', description: 'with a name' });
      expect((await usageOf(api, template.id)).usage_count).toBe(before.usage_count + 2);
    });

    it('refuses invalid overrides at their paths and counts nothing', async () => {
      const ada = await api.user('ada');
      const template = await createTemplateViaService(api, ada);
      const cases: Array<[Record<string, unknown>, string[]]> = [
        [{ overrides: { model: { framework: 'scikit' } } }, ['/overrides/model/framework']],
        [{ overrides: { extra: {} } }, ['/overrides/extra']],
        [{ overrides: { features: 'all' } }, ['/overrides/features']],
        [{ name: '   ', estimatedTrainingSeconds: -5 }, ['/estimatedTrainingSeconds', '/name']],
      ];
      for (const [input, paths] of cases) {
        const response = await api.graphql(CREATE_FROM_TEMPLATE, { as: ada, variables: { input: { templateId: template.id, ...input } } });
        expect(failureOf(response)).toEqual({ code: 'BAD_USER_INPUT', paths });
      }
      expect((await usageOf(api, template.id)).usage_count).toBe(0);
      expect(await experimentCount(ada.id)).toBe(0);
    });

    it('answers NOT_FOUND for a hidden or unknown template and CONFLICT for an inactive one, counting nothing', async () => {
      const ada = await api.user('ada');
      const owner = await api.user('owner');
      const hidden = await createTemplateViaService(api, owner);
      const inactive = await createTemplateViaService(api, ada);
      await services(api).templates.setActive(ada, inactive.id, false);

      const create = (templateId: string, as: TestUser | null = ada) =>
        api.graphql(CREATE_FROM_TEMPLATE, { as, variables: { input: { templateId } } });
      const hiddenResponse = await create(hidden.id);
      expect(failureOf(hiddenResponse)).toEqual({ code: 'NOT_FOUND' });
      // A hidden template answers exactly as one that does not exist.
      expect((await create(randomUUID())).body).toEqual(hiddenResponse.body);
      expect(failureOf(await create('not-a-uuid'))).toEqual({ code: 'NOT_FOUND' });
      expect(errorOf(await create(inactive.id))).toMatchObject({ code: 'CONFLICT', extensions: { reason: 'TEMPLATE_INACTIVE' } });
      expect(failureOf(await create(hidden.id, null))).toEqual({ code: 'UNAUTHENTICATED' });

      expect((await usageOf(api, hidden.id)).usage_count).toBe(0);
      expect((await usageOf(api, inactive.id)).usage_count).toBe(0);
      expect(await experimentCount(ada.id)).toBe(0);
    });
  });

  describe('createExperiment', () => {
    it('starts a draft from a partial configuration', async () => {
      const ada = await api.user('ada');
      const response = await api.graphql(CREATE, {
        as: ada,
        variables: { input: { name: ' Scratch ', description: 'no template', configuration: { dataset } } },
      });
      expect(dataOf(response).createExperiment).toMatchObject({
        name: 'Scratch',
        description: 'no template',
        status: 'draft',
        configuration: { dataset },
        templateVersion: null,
        template: null,
        hasNewerTemplateVersion: false,
        wizardStepCompleted: 0,
        wizardState: null,
        owner: { id: ada.id },
      });
      expect(await experimentCount(ada.id)).toBe(1);
    });

    it('refuses an invalid draft at its paths, and an anonymous caller', async () => {
      const ada = await api.user('ada');
      const bad = await api.graphql(CREATE, {
        as: ada,
        variables: { input: { name: '', configuration: { features: 'all', model: { framework: 'sklearn' }, extra: 1 } } },
      });
      expect(failureOf(bad)).toEqual({
        code: 'BAD_USER_INPUT',
        paths: ['/configuration/extra', '/configuration/features', '/configuration/model/type', '/name'],
      });
      expect(failureOf(await api.graphql(CREATE, { variables: { input: { name: 'x' } } }))).toEqual({ code: 'UNAUTHENTICATED' });
      expect(await experimentCount(ada.id)).toBe(0);
    });
  });

  describe('the wizard', () => {
    it('runs end to end: a draft from a template, three saved steps, completion; state persists across requests', async () => {
      const ada = await api.user('ada');
      const template = await createTemplateViaService(api, ada);
      const { id } = dataOf(
        await api.graphql(CREATE_FROM_TEMPLATE, { as: ada, variables: { input: { templateId: template.id, name: 'Wizard run' } } }),
      ).createExperimentFromTemplate;

      const steps = [
        { step: 1, state: { page: 'dataset', touched: ['source'] }, section: 'DATASET', value: { ...dataset, rowCount: 5000 } },
        { step: 2, state: { page: 'features', selected: 1 }, section: 'FEATURES', value: [{ name: 'tenure', type: 'numeric' }] },
        { step: 3, state: { page: 'review' } },
      ];
      for (const input of steps) {
        dataOf(await api.graphql(SAVE_STEP, { as: ada, variables: { id, input } }));
        // A new request reads back what the last one saved.
        const { experiment } = dataOf(await api.graphql(READ, { as: ada, variables: { id } }));
        expect(experiment).toMatchObject({ wizardStepCompleted: input.step, wizardState: input.state, wizardCompleted: false });
      }
      const { experiment: saved } = dataOf(await api.graphql(READ, { as: ada, variables: { id } }));
      expect(saved.configuration).toEqual({
        ...validConfiguration(),
        dataset: { ...dataset, rowCount: 5000 },
        features: [{ name: 'tenure', type: 'numeric' }],
      });

      const completed = dataOf(await api.graphql(COMPLETE, { as: ada, variables: { id } })).completeWizard;
      expect(completed).toMatchObject({ wizardCompleted: true, status: 'queued', wizardStepCompleted: 3, wizardState: { page: 'review' } });
      expect(dataOf(await api.graphql(READ, { as: ada, variables: { id } })).experiment).toMatchObject({
        wizardCompleted: true,
        status: 'queued',
      });
    });

    it('keeps the furthest step, clears the state on null and keeps it when left out', async () => {
      const ada = await api.user('ada');
      const id = await draftOf(ada);
      await api.graphql(SAVE_STEP, { as: ada, variables: { id, input: { step: 4, state: { at: 4 } } } });
      const back = dataOf(await api.graphql(SAVE_STEP, { as: ada, variables: { id, input: { step: 2 } } })).saveWizardStep;
      expect(back).toMatchObject({ wizardStepCompleted: 4, wizardState: { at: 4 } });
      const cleared = dataOf(await api.graphql(SAVE_STEP, { as: ada, variables: { id, input: { step: 2, state: null } } }));
      expect(cleared.saveWizardStep.wizardState).toBeNull();
    });

    it('refuses an invalid step at its paths and changes nothing', async () => {
      const ada = await api.user('ada');
      const id = await draftOf(ada);
      const cases: Array<[Record<string, unknown>, string[]]> = [
        [{ step: 1, section: 'MODEL', value: { type: 5 } }, ['/value/type']],
        [{ step: 1, section: 'FEATURES', value: [{ name: 'x' }] }, ['/value/0/type']],
        [{ step: -1 }, ['/step']],
        [{ step: 101, section: 'DATASET', value: {} }, ['/step', '/value/source']],
      ];
      for (const [input, paths] of cases) {
        expect(failureOf(await api.graphql(SAVE_STEP, { as: ada, variables: { id, input } }))).toEqual({ code: 'BAD_USER_INPUT', paths });
      }
      const { experiment } = dataOf(await api.graphql(READ, { as: ada, variables: { id } }));
      expect(experiment).toMatchObject({ wizardStepCompleted: 0, configuration: { dataset } });
    });

    it('refuses to complete an incomplete configuration, with the missing paths', async () => {
      const ada = await api.user('ada');
      const id = await draftOf(ada, { dataset });
      const response = await api.graphql(COMPLETE, { as: ada, variables: { id } });
      expect(failureOf(response)).toEqual({ code: 'BAD_USER_INPUT', paths: ['/configuration/features', '/configuration/model'] });
      expect(dataOf(await api.graphql(READ, { as: ada, variables: { id } })).experiment).toMatchObject({
        wizardCompleted: false,
        status: 'draft',
      });
    });

    it('answers CONFLICT when saving after completion, NOT_FOUND to others, UNAUTHENTICATED to anonymous', async () => {
      const ada = await api.user('ada');
      const stranger = await api.user('stranger');
      const service = await api.user('analysis', ['service']);
      const id = await draftOf(ada, { dataset, features, model });

      for (const as of [stranger, service]) {
        expect(failureOf(await api.graphql(SAVE_STEP, { as, variables: { id, input: { step: 1 } } }))).toEqual({ code: 'NOT_FOUND' });
        expect(failureOf(await api.graphql(COMPLETE, { as, variables: { id } }))).toEqual({ code: 'NOT_FOUND' });
      }
      expect(failureOf(await api.graphql(SAVE_STEP, { as: ada, variables: { id: randomUUID(), input: { step: 1 } } }))).toEqual({
        code: 'NOT_FOUND',
      });
      expect(failureOf(await api.graphql(SAVE_STEP, { variables: { id, input: { step: 1 } } }))).toEqual({ code: 'UNAUTHENTICATED' });
      expect(failureOf(await api.graphql(COMPLETE, { variables: { id } }))).toEqual({ code: 'UNAUTHENTICATED' });

      dataOf(await api.graphql(COMPLETE, { as: ada, variables: { id } }));
      expect(failureOf(await api.graphql(SAVE_STEP, { as: ada, variables: { id, input: { step: 5 } } }))).toEqual({ code: 'CONFLICT' });
      // Completing twice is harmless.
      expect(dataOf(await api.graphql(COMPLETE, { as: ada, variables: { id } })).completeWizard.wizardCompleted).toBe(true);
    });
  });

  describe('analysis metadata and training time', () => {
    it("lets a service token write analysis metadata on someone else's experiment; a stranger gets NOT_FOUND", async () => {
      const ada = await api.user('ada');
      const stranger = await api.user('stranger');
      const service = await api.user('analysis', ['service']);
      const [id] = await insertExperiments(api, [{ ownerId: ada.id }]);
      const input = {
        datasetStatistics: { rows: 5000, columns: 12 },
        featureImportance: { tenure: 0.7 },
        resourceRequirements: { gpu: false, memoryGb: 4 },
        estimatedTrainingSeconds: 120.5,
      };

      expect(failureOf(await api.graphql(WRITE_ANALYSIS, { as: stranger, variables: { id, input } }))).toEqual({ code: 'NOT_FOUND' });
      expect(failureOf(await api.graphql(WRITE_ANALYSIS, { variables: { id, input } }))).toEqual({ code: 'UNAUTHENTICATED' });
      const written = dataOf(await api.graphql(WRITE_ANALYSIS, { as: service, variables: { id, input } })).writeAnalysisMetadata;
      expect(written).toMatchObject({ ...input, configurationMetadata: {}, modelRecommendations: {}, owner: { id: ada.id } });

      // The owner may write too; fields left out stay as they were.
      const byOwner = await api.graphql(WRITE_ANALYSIS, {
        as: ada,
        variables: { id, input: { modelRecommendations: { try: ['xgboost'] } } },
      });
      expect(dataOf(byOwner).writeAnalysisMetadata).toMatchObject({
        modelRecommendations: { try: ['xgboost'] },
        datasetStatistics: input.datasetStatistics,
        estimatedTrainingSeconds: 120.5,
      });
    });

    it('refuses invalid analysis input at its paths', async () => {
      const ada = await api.user('ada');
      const [id] = await insertExperiments(api, [{ ownerId: ada.id }]);
      const response = await api.graphql(WRITE_ANALYSIS, { as: ada, variables: { id, input: { estimatedTrainingSeconds: -1 } } });
      expect(failureOf(response)).toEqual({ code: 'BAD_USER_INPUT', paths: ['/estimatedTrainingSeconds'] });
      expect(failureOf(await api.graphql(WRITE_ANALYSIS, { as: ada, variables: { id, input: {} } }))).toEqual({
        code: 'BAD_USER_INPUT',
        paths: [''],
      });
    });

    it('records the training time for the owner or a service, refusing others and bad values', async () => {
      const ada = await api.user('ada');
      const stranger = await api.user('stranger');
      const service = await api.user('trainer', ['service']);
      const [id] = await insertExperiments(api, [{ ownerId: ada.id }]);

      expect(dataOf(await api.graphql(RECORD_TIME, { as: ada, variables: { id, seconds: 95.25 } })).recordTrainingTime).toMatchObject({
        actualTrainingSeconds: 95.25,
      });
      expect(dataOf(await api.graphql(RECORD_TIME, { as: service, variables: { id, seconds: 100 } })).recordTrainingTime).toMatchObject({
        actualTrainingSeconds: 100,
      });
      expect(failureOf(await api.graphql(RECORD_TIME, { as: stranger, variables: { id, seconds: 1 } }))).toEqual({ code: 'NOT_FOUND' });
      expect(failureOf(await api.graphql(RECORD_TIME, { as: ada, variables: { id, seconds: -1 } }))).toEqual({
        code: 'BAD_USER_INPUT',
        paths: ['/actualTrainingSeconds'],
      });
      expect(failureOf(await api.graphql(RECORD_TIME, { variables: { id, seconds: 1 } }))).toEqual({ code: 'UNAUTHENTICATED' });
      const [row] = await api.db.query(
        'select extract(epoch from actual_training_time)::float8 as seconds from ml_experiments where id = $1',
        [id],
      );
      expect(row.seconds).toBe(100);
    });
  });
});
