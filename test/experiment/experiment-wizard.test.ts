import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../src/errors/domain-error';
import { Experiment } from '../../src/experiment/experiment.entity';
import type { AnalysisMetadataInput } from '../../src/experiment/experiment.service';
import { dataOf, errorOf, useApi } from '../support/api';
import { pathsOf, rejectionOf, services, validConfiguration, type TestUser } from '../support/factories';

describe('experiment wizard and analysis metadata', () => {
  const api = useApi();
  const experiments = () => services(api).experiments;
  const { dataset, features, model } = validConfiguration();

  /** The experiment as a new request would load it. */
  async function reload(id: string): Promise<Experiment> {
    return api.orm.em.fork().findOneOrFail(Experiment, { id });
  }

  async function rowOf(id: string) {
    const [row] = await api.db.query('select * from ml_experiments where id = $1', [id]);
    return row;
  }

  async function draft(owner: TestUser) {
    return experiments().createFromScratch(owner, { name: 'From scratch', configuration: { dataset } });
  }

  /** What `experiment(id)` shows a caller (null when it is not theirs to see). */
  async function experimentAs(as: TestUser, id: string) {
    return dataOf(await api.graphql('query($id: ID!) { experiment(id: $id) { id owner { id } } }', { as, variables: { id } })).experiment;
  }

  async function experimentCount() {
    const [row] = await api.db.query<{ n: number }>('select count(*)::int as n from ml_experiments');
    return row.n;
  }

  describe('createFromScratch', () => {
    it('accepts a partial configuration and starts a draft at step 0', async () => {
      const owner = await api.user();
      const experiment = await experiments().createFromScratch(owner, {
        name: '  Scratch ',
        description: 'no template',
        configuration: { dataset },
      });
      expect(await rowOf(experiment.id)).toMatchObject({
        name: 'Scratch',
        description: 'no template',
        status: 'draft',
        configuration: { dataset },
        owner_id: owner.userId,
        template_id: null,
        template_version: null,
        wizard_completed: false,
        wizard_step_completed: 0,
        wizard_state: null,
        configuration_metadata: {},
        actual_training_time: null,
      });
    });

    it('accepts no configuration at all', async () => {
      const owner = await api.user();
      const experiment = await experiments().createFromScratch(owner, { name: 'Empty' });
      expect((await rowOf(experiment.id)).configuration).toEqual({});
    });

    it.each([
      ['an unknown section', { dataset, extra: {} }, ['/configuration/extra']],
      ['another unknown section', { hyperparameters: {} }, ['/configuration/hyperparameters']],
      ['an invalid present section', { dataset: { format: 'csv' } }, ['/configuration/dataset/source']],
      ['a non-object configuration', ['dataset'], ['/configuration']],
    ])('rejects %s at its path and writes nothing', async (_case, configuration, paths) => {
      const owner = await api.user();
      const before = await experimentCount();
      const error = await rejectionOf(experiments().createFromScratch(owner, { name: 'Bad', configuration }));
      expect(error.code).toBe(ErrorCode.BadUserInput);
      expect(pathsOf(error)).toEqual(paths);
      expect(await experimentCount()).toBe(before);
    });
  });

  describe('saveWizardStep', () => {
    it('persists step, state and a section across EntityManagers', async () => {
      const owner = await api.user();
      const experiment = await draft(owner);
      const state = { answers: { goal: 'churn', nested: [{ a: 1 }, { b: [true, null] }] }, currentPage: 'features' };

      await experiments().saveWizardStep(owner, experiment.id, { step: 1, state, section: 'features', value: features });

      const reloaded = await reload(experiment.id);
      expect(reloaded.wizardStepCompleted).toBe(1);
      expect(reloaded.wizardState).toEqual(state);
      expect(reloaded.configuration).toEqual({ dataset, features });
      expect(reloaded.wizardCompleted).toBe(false);
      expect(await rowOf(experiment.id)).toMatchObject({ wizard_step_completed: 1, wizard_state: state });
    });

    it('keeps the furthest step reached, while still saving state and sections of an earlier step', async () => {
      const owner = await api.user();
      const experiment = await draft(owner);
      await experiments().saveWizardStep(owner, experiment.id, { step: 3, state: { at: 3 } });
      await experiments().saveWizardStep(owner, experiment.id, { step: 2, state: { at: 2 }, section: 'model', value: model });
      const reloaded = await reload(experiment.id);
      expect(reloaded.wizardStepCompleted).toBe(3);
      expect(reloaded.wizardState).toEqual({ at: 2 });
      expect(reloaded.configuration).toEqual({ dataset, model });
    });

    it('replaces a section saved again, and leaves the state alone when none is given', async () => {
      const owner = await api.user();
      const experiment = await draft(owner);
      await experiments().saveWizardStep(owner, experiment.id, { step: 1, state: { kept: true }, section: 'model', value: model });
      await experiments().saveWizardStep(owner, experiment.id, { step: 1, section: 'model', value: { type: 'kmeans' } });
      const reloaded = await reload(experiment.id);
      expect(reloaded.configuration.model).toEqual({ type: 'kmeans' });
      expect(reloaded.wizardState).toEqual({ kept: true });
    });

    it.each([
      [
        'a model without type and with a bad framework',
        { step: 2, section: 'model', value: { framework: 'nope' } },
        ['/value/framework', '/value/type'],
      ],
      ['a feature without name', { step: 1, section: 'features', value: [{ type: 'numeric' }] }, ['/value/0/name']],
      ['a section that is not an object', { step: 1, section: 'dataset', value: 'csv' }, ['/value']],
      ['an unknown section', { step: 1, section: 'extra', value: {} }, ['/section']],
      ['step -1', { step: -1 }, ['/step']],
      ['a fractional step', { step: 1.5 }, ['/step']],
      ['a step past the last', { step: 101 }, ['/step']],
      ['a step that is not a number', { step: '2' }, ['/step']],
      ['a state that is not an object', { step: 1, state: [1, 2] }, ['/state']],
    ])('rejects %s with BAD_USER_INPUT and writes nothing', async (_case, input, paths) => {
      const owner = await api.user();
      const experiment = await draft(owner);
      await experiments().saveWizardStep(owner, experiment.id, { step: 1, state: { before: true } });
      const before = await rowOf(experiment.id);
      const error = await rejectionOf(experiments().saveWizardStep(owner, experiment.id, input));
      expect(error.code).toBe(ErrorCode.BadUserInput);
      expect(pathsOf(error)).toEqual(paths);
      expect(await rowOf(experiment.id)).toEqual(before);
    });
  });

  describe('completeWizard', () => {
    it('fails while sections are missing, writing nothing; succeeds once they are saved and queues the experiment', async () => {
      const owner = await api.user();
      const experiment = await draft(owner);
      const before = await rowOf(experiment.id);

      const error = await rejectionOf(experiments().completeWizard(owner, experiment.id));
      expect(error.code).toBe(ErrorCode.BadUserInput);
      expect(pathsOf(error)).toEqual(['/configuration/features', '/configuration/model']);
      expect(await rowOf(experiment.id)).toEqual(before);

      await experiments().saveWizardStep(owner, experiment.id, { step: 1, section: 'features', value: features });
      const stillMissing = await rejectionOf(experiments().completeWizard(owner, experiment.id));
      expect(pathsOf(stillMissing)).toEqual(['/configuration/model']);

      await experiments().saveWizardStep(owner, experiment.id, { step: 2, section: 'model', value: model });
      const completed = await experiments().completeWizard(owner, experiment.id);
      expect(completed).toMatchObject({ wizardCompleted: true, status: 'queued' });

      const reloaded = await reload(experiment.id);
      expect(reloaded).toMatchObject({ wizardCompleted: true, status: 'queued', wizardStepCompleted: 2 });
      expect(reloaded.configuration).toEqual({ dataset, features, model });
      expect(await rowOf(experiment.id)).toMatchObject({ wizard_completed: true, status: 'queued' });
    });

    it('after completion, saving a step is CONFLICT and completing again changes nothing', async () => {
      const owner = await api.user();
      const experiment = await experiments().createFromScratch(owner, { name: 'Full', configuration: { dataset, features, model } });
      await experiments().completeWizard(owner, experiment.id);
      const done = await rowOf(experiment.id);

      await expect(experiments().saveWizardStep(owner, experiment.id, { step: 4, state: { late: true } })).rejects.toMatchObject({
        code: ErrorCode.Conflict,
      });
      expect(await rowOf(experiment.id)).toEqual(done);

      expect(await experiments().completeWizard(owner, experiment.id)).toMatchObject({ wizardCompleted: true, status: 'queued' });
      expect((await rowOf(experiment.id)).wizard_completed).toBe(true);
    });

    it("a stranger's or a service's saveWizardStep / completeWizard is NOT_FOUND, like a missing id", async () => {
      const owner = await api.user('owner');
      const stranger = await api.user('stranger');
      const service = await api.user('analysis', ['service']);
      const experiment = await experiments().createFromScratch(owner, { name: 'Mine', configuration: { dataset, features, model } });
      const before = await rowOf(experiment.id);
      for (const actor of [stranger, service]) {
        for (const id of [experiment.id, randomUUID(), 'not-a-uuid']) {
          await expect(experiments().saveWizardStep(actor, id, { step: 1, state: { x: 1 } })).rejects.toMatchObject({
            code: ErrorCode.NotFound,
            message: 'Experiment not found',
          });
          await expect(experiments().completeWizard(actor, id)).rejects.toMatchObject({
            code: ErrorCode.NotFound,
            message: 'Experiment not found',
          });
        }
      }
      const anonymous = await api.graphql('mutation($id: ID!) { completeWizard(id: $id) { id } }', { variables: { id: experiment.id } });
      expect(errorOf(anonymous).code).toBe('UNAUTHENTICATED');
      expect(await rowOf(experiment.id)).toEqual(before);
      expect(await experimentAs(stranger, experiment.id)).toBeNull();
    });
  });

  describe('analysis metadata', () => {
    const metadata = {
      configurationMetadata: { generatedBy: 'analysis-service', schemaVersion: 3, tags: ['auto', 'β-test'] },
      datasetStatistics: {
        rows: 1_234_567,
        columns: [
          { name: 'tenure', mean: 32.371, std: 24.559, missing: 0 },
          { name: 'plan', distinct: 4, top: 'Premium ✓' },
        ],
        nested: { deeper: { deepest: { value: -0.000123, flags: [true, false, null] } } },
      },
      featureImportance: { tenure: 0.4125, plan: 0.3, 'monthly charges': 0.2875, ranking: ['tenure', 'plan'] },
      modelRecommendations: {
        candidates: [
          { model: 'xgboost', score: 0.91, params: { maxDepth: 6 } },
          { model: 'random_forest', score: 0.88, params: {} },
        ],
        note: 'Données déséquilibrées — 考虑 oversampling 🚀',
      },
      resourceRequirements: { cpu: 4, memoryGb: 15.5, gpu: { count: 1, kind: 'A100' } },
    };

    it('round-trips all five fields and both training times, through the ORM and raw SQL', async () => {
      const owner = await api.user();
      const experiment = await draft(owner);

      await experiments().writeAnalysisMetadata(owner, experiment.id, { ...metadata, estimatedTrainingSeconds: 5400 });
      await experiments().recordTrainingTime(owner, experiment.id, 3723.5);

      const reloaded = await reload(experiment.id);
      expect({
        configurationMetadata: reloaded.configurationMetadata,
        datasetStatistics: reloaded.datasetStatistics,
        featureImportance: reloaded.featureImportance,
        modelRecommendations: reloaded.modelRecommendations,
        resourceRequirements: reloaded.resourceRequirements,
      }).toEqual(metadata);
      expect(reloaded.estimatedTrainingSeconds).toBe(5400);
      expect(reloaded.actualTrainingSeconds).toBe(3723.5);

      const [row] = await api.db.query(
        `select configuration_metadata, dataset_statistics, feature_importance, model_recommendations, resource_requirements,
                actual_training_time = interval '3723.5 seconds' as actual_ok,
                actual_training_time = interval '1 hour 2 minutes 3.5 seconds' as actual_hms_ok,
                estimated_training_time = interval '90 minutes' as estimated_ok
           from ml_experiments where id = $1`,
        [experiment.id],
      );
      expect(row).toEqual({
        configuration_metadata: metadata.configurationMetadata,
        dataset_statistics: metadata.datasetStatistics,
        feature_importance: metadata.featureImportance,
        model_recommendations: metadata.modelRecommendations,
        resource_requirements: metadata.resourceRequirements,
        actual_ok: true,
        actual_hms_ok: true,
        estimated_ok: true,
      });
    });

    it('replaces only the fields given', async () => {
      const owner = await api.user();
      const experiment = await draft(owner);
      await experiments().writeAnalysisMetadata(owner, experiment.id, metadata);
      await experiments().writeAnalysisMetadata(owner, experiment.id, { featureImportance: { only: 1 } });
      const reloaded = await reload(experiment.id);
      expect(reloaded.featureImportance).toEqual({ only: 1 });
      expect(reloaded.datasetStatistics).toEqual(metadata.datasetStatistics);
      expect(reloaded.estimatedTrainingSeconds ?? null).toBeNull();
    });

    it("a service actor may write onto someone else's experiment; a plain stranger gets NOT_FOUND", async () => {
      const owner = await api.user('owner');
      const service = await api.user('analysis-service', ['service']);
      const stranger = await api.user('stranger');
      const experiment = await draft(owner);

      const strangerBefore = await rowOf(experiment.id);
      await expect(experiments().writeAnalysisMetadata(stranger, experiment.id, metadata)).rejects.toMatchObject({
        code: ErrorCode.NotFound,
      });
      await expect(experiments().recordTrainingTime(stranger, experiment.id, 10)).rejects.toMatchObject({
        code: ErrorCode.NotFound,
      });
      const anonymous = await api.graphql(
        'mutation($id: ID!, $input: AnalysisMetadataInput!) { writeAnalysisMetadata(id: $id, input: $input) { id } }',
        { variables: { id: experiment.id, input: metadata } },
      );
      expect(errorOf(anonymous).code).toBe('UNAUTHENTICATED');
      expect(await rowOf(experiment.id)).toEqual(strangerBefore);

      await experiments().writeAnalysisMetadata(service, experiment.id, { datasetStatistics: metadata.datasetStatistics });
      await experiments().recordTrainingTime(service, experiment.id, 3723.5);
      const [row] = await api.db.query(
        `select owner_id, dataset_statistics, actual_training_time = interval '3723.5 seconds' as actual_ok
           from ml_experiments where id = $1`,
        [experiment.id],
      );
      expect(row).toEqual({ owner_id: owner.userId, dataset_statistics: metadata.datasetStatistics, actual_ok: true });
      expect(await experimentAs(service, experiment.id)).toEqual({ id: experiment.id, owner: { id: owner.id } });
      await expect(experiments().writeAnalysisMetadata(service, randomUUID(), metadata)).rejects.toMatchObject({
        code: ErrorCode.NotFound,
      });
    });

    it.each<[string, AnalysisMetadataInput, string[]]>([
      ['an array', { datasetStatistics: [{ rows: 1 }] }, ['/datasetStatistics']],
      ['a string', { featureImportance: 'high' }, ['/featureImportance']],
      ['a number', { resourceRequirements: 4 }, ['/resourceRequirements']],
      ['null', { modelRecommendations: null }, ['/modelRecommendations']],
      ['two bad fields', { configurationMetadata: true, datasetStatistics: 'x' }, ['/configurationMetadata', '/datasetStatistics']],
      ['a negative estimate', { estimatedTrainingSeconds: -1 }, ['/estimatedTrainingSeconds']],
      ['a non-numeric estimate', { estimatedTrainingSeconds: '60' }, ['/estimatedTrainingSeconds']],
      ['nothing at all', {}, ['']],
    ])('metadata given as %s is BAD_USER_INPUT at its path, and nothing is written', async (_case, input, paths) => {
      const owner = await api.user();
      const experiment = await draft(owner);
      const before = await rowOf(experiment.id);
      const error = await rejectionOf(experiments().writeAnalysisMetadata(owner, experiment.id, input));
      expect(error.code).toBe(ErrorCode.BadUserInput);
      expect(pathsOf(error)).toEqual(paths);
      expect(await rowOf(experiment.id)).toEqual(before);
    });

    it.each([-1, -0.5, Number.NaN, Number.POSITIVE_INFINITY, '3600', undefined, 11 * 365 * 24 * 3600])(
      'recordTrainingTime(%p) is BAD_USER_INPUT at /actualTrainingSeconds, and nothing is written',
      async (seconds) => {
        const owner = await api.user();
        const experiment = await draft(owner);
        const before = await rowOf(experiment.id);
        const error = await rejectionOf(experiments().recordTrainingTime(owner, experiment.id, seconds));
        expect(error.code).toBe(ErrorCode.BadUserInput);
        expect(pathsOf(error)).toEqual(['/actualTrainingSeconds']);
        expect(await rowOf(experiment.id)).toEqual(before);
      },
    );

    it('records zero seconds', async () => {
      const owner = await api.user();
      const experiment = await draft(owner);
      await experiments().recordTrainingTime(owner, experiment.id, 0);
      expect((await reload(experiment.id)).actualTrainingSeconds).toBe(0);
    });
  });
});
