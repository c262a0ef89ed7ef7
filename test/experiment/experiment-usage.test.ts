import { randomUUID } from 'node:crypto';
import { ErrorCode } from '../../src/errors/domain-error';
import { MAX_JSON_BYTES as MAX_CONFIGURATION_BYTES } from '../../src/validation/storable';
import { dataOf, useApi } from '../support/api';
import { createTemplateViaService, pathsOf, rejectionOf, services, usageOf, validConfiguration } from '../support/factories';

describe('experiments from templates: usage', () => {
  const api = useApi();
  const templates = () => services(api).templates;
  const experiments = () => services(api).experiments;

  async function experimentRows(templateId: string) {
    return api.db.query('select * from ml_experiments where template_id = $1', [templateId]);
  }

  async function experimentCount() {
    const [row] = await api.db.query<{ n: number }>('select count(*)::int as n from ml_experiments');
    return row.n;
  }

  it('100 concurrent creations count exactly 100 uses and record the current version on each experiment', async () => {
    const owner = await api.user('owner');
    const users = [owner, ...(await Promise.all([1, 2, 3].map((i) => api.user(`user${i}`))))];
    const template = await createTemplateViaService(api, owner, { isPublic: true });
    await templates().update(owner, template.id, { description: 'now at version 2' });
    const before = await usageOf(api, template.id);
    expect(before).toMatchObject({ usage_count: 0, last_used: null, version: 2 });
    const started = new Date();

    const created = await Promise.all(
      Array.from({ length: 100 }, (_, i) =>
        services(api).experiments.createFromTemplate(users[i % users.length], {
          templateId: template.id,
          name: `run ${i}`,
        }),
      ),
    );

    expect(new Set(created.map((e) => e.id)).size).toBe(100);
    const after = await usageOf(api, template.id);
    expect(after.usage_count).toBe(100);
    expect(after.last_used).toBeInstanceOf(Date);
    expect(after.last_used!.getTime()).toBeGreaterThanOrEqual(started.getTime() - 1000);
    // Counting uses is not an edit: neither the content version nor the edit time moves.
    expect(after.version).toBe(2);
    expect(after.updated_at).toEqual(before.updated_at);

    const rows = await experimentRows(template.id);
    expect(rows).toHaveLength(100);
    expect(rows.every((r) => r.template_version === 2)).toBe(true);
    expect(new Set(rows.map((r) => r.name)).size).toBe(100);
    const [snapshots] = await api.db.query('select count(*)::int as n from experiment_template_versions where template_id = $1', [
      template.id,
    ]);
    expect(snapshots.n).toBe(2);
  });

  it('the effective configuration is the template merged with the overrides', async () => {
    const owner = await api.user();
    const template = await createTemplateViaService(api, owner);
    const overrides = {
      dataset: { format: 'csv', split: { test: 0.3 } },
      features: [{ name: 'age', type: 'numeric' }],
      model: { type: 'xgboost', framework: 'xgboost', hyperparameters: { maxDepth: 4 } },
      validation: { folds: 10 },
    };
    const experiment = await experiments().createFromTemplate(owner, {
      templateId: template.id,
      name: 'tuned',
      description: 'deeper trees',
      overrides,
      estimatedTrainingSeconds: 600,
    });
    const expected = {
      dataset: { source: 's3://datasets/churn.parquet', format: 'csv', target: 'churned', split: { train: 0.8, test: 0.3 } },
      features: [{ name: 'age', type: 'numeric' }],
      model: { type: 'xgboost', framework: 'xgboost', hyperparameters: { nEstimators: 200, maxDepth: 4 } },
      parameters: { seed: 42 },
      validation: { strategy: 'kfold', folds: 10, metrics: ['roc_auc', 'f1'] },
    };
    expect(experiment.configuration).toEqual(expected);
    const [row] = await api.db.query(
      `select name, description, status, configuration, template_id, template_version, owner_id,
              extract(epoch from estimated_training_time)::float8 as estimated
         from ml_experiments where id = $1`,
      [experiment.id],
    );
    expect(row).toEqual({
      name: 'tuned',
      description: 'deeper trees',
      status: 'draft',
      configuration: expected,
      template_id: template.id,
      template_version: 1,
      owner_id: owner.userId,
      estimated: 600,
    });
    // The template itself is left as it was.
    const [stored] = await api.db.query('select configuration from experiment_templates where id = $1', [template.id]);
    expect(stored.configuration).toEqual(validConfiguration());
  });

  it('a partial override of a nested object keeps the rest of it from the template', async () => {
    const owner = await api.user();
    const template = await createTemplateViaService(api, owner);
    const experiment = await experiments().createFromTemplate(owner, {
      templateId: template.id,
      overrides: { model: { hyperparameters: { maxDepth: 3 } }, dataset: { format: 'csv' } },
    });
    expect(experiment.configuration.model).toEqual({
      type: 'random_forest',
      framework: 'sklearn',
      hyperparameters: { nEstimators: 200, maxDepth: 3 },
    });
    expect(experiment.configuration.dataset).toMatchObject({ source: 's3://datasets/churn.parquet', format: 'csv' });
    expect(experiment.name).toBe('Churn classifier');
  });

  it('an experiment keeps the version it was made from when the template moves on', async () => {
    const owner = await api.user();
    const template = await createTemplateViaService(api, owner);
    const experiment = await experiments().createFromTemplate(owner, { templateId: template.id });
    await templates().update(owner, template.id, {
      configuration: validConfiguration({ model: { type: 'xgboost' } }),
    });
    const [row] = await api.db.query(
      `select e.template_version, e.configuration, t.version as template_now
         from ml_experiments e join experiment_templates t on t.id = e.template_id where e.id = $1`,
      [experiment.id],
    );
    expect(row.template_version).toBe(1);
    expect(row.template_now).toBe(2);
    expect(row.configuration.model.type).toBe('random_forest');
    const reloaded = await api.graphql('query($id: ID!) { experiment(id: $id) { templateVersion } }', {
      as: owner,
      variables: { id: experiment.id },
    });
    expect(dataOf(reloaded).experiment.templateVersion).toBe(1);
  });

  it('counting uses does not bump the content version: an edit at the version read before still succeeds', async () => {
    const owner = await api.user();
    const template = await createTemplateViaService(api, owner);
    for (let i = 0; i < 3; i++) await experiments().createFromTemplate(owner, { templateId: template.id });
    expect(await usageOf(api, template.id)).toMatchObject({ usage_count: 3, version: 1 });
    const updated = await templates().update(owner, template.id, { name: 'Edited' }, { expectedVersion: 1 });
    expect(updated.version).toBe(2);
    expect(updated.usageCount).toBe(3);
  });

  describe('a rejected creation changes no counter and writes no experiment', () => {
    async function expectNothingWritten(templateId: string, attempt: () => Promise<unknown>) {
      const usageBefore = await usageOf(api, templateId);
      const countBefore = await experimentCount();
      const error = await rejectionOf(attempt());
      expect(await usageOf(api, templateId)).toEqual(usageBefore);
      expect(await experimentCount()).toBe(countBefore);
      return error;
    }

    it('invalid overrides: BAD_USER_INPUT at /overrides/...', async () => {
      const owner = await api.user();
      const template = await createTemplateViaService(api, owner);
      const cases: Array<[unknown, string[]]> = [
        [{ model: { framework: 'nope' } }, ['/overrides/model/framework']],
        [{ model: { type: 'rf', framework: 'nope' } }, ['/overrides/model/framework']],
        [{ features: [{ name: 'age' }] }, ['/overrides/features/0/type']],
        [{ validation: { folds: 1 } }, ['/overrides/validation/folds']],
        [{ extra: {} }, ['/overrides/extra']],
        [{ dataset: 'csv' }, ['/overrides/dataset']],
        [['not', 'an', 'object'], ['/overrides']],
        [{ model: { hyperparameters: { blob: 'x'.repeat(MAX_CONFIGURATION_BYTES) } } }, ['/overrides']],
      ];
      for (const [overrides, paths] of cases) {
        const error = await expectNothingWritten(template.id, () =>
          experiments().createFromTemplate(owner, { templateId: template.id, overrides }),
        );
        const shown = JSON.stringify(overrides).slice(0, 100);
        expect({ overrides: shown, code: error.code, paths: pathsOf(error) }).toEqual({
          overrides: shown,
          code: ErrorCode.BadUserInput,
          paths,
        });
      }
    });

    it('invalid name, description or estimate: BAD_USER_INPUT', async () => {
      const owner = await api.user();
      const template = await createTemplateViaService(api, owner);
      const error = await expectNothingWritten(template.id, () =>
        experiments().createFromTemplate(owner, {
          templateId: template.id,
          name: '',
          description: 5,
          estimatedTrainingSeconds: -1,
        }),
      );
      expect(error.code).toBe(ErrorCode.BadUserInput);
      expect(pathsOf(error)).toEqual(['/description', '/estimatedTrainingSeconds', '/name']);
    });

    it('a hidden template is NOT_FOUND, exactly like a missing one', async () => {
      const owner = await api.user('owner');
      const stranger = await api.user('stranger');
      const template = await createTemplateViaService(api, owner);
      const hidden = await expectNothingWritten(template.id, () => experiments().createFromTemplate(stranger, { templateId: template.id }));
      expect(hidden.code).toBe(ErrorCode.NotFound);
      for (const id of [randomUUID(), 'not-a-uuid']) {
        const missing = await expectNothingWritten(template.id, () => experiments().createFromTemplate(stranger, { templateId: id }));
        expect([missing.constructor, missing.code, missing.message]).toEqual([hidden.constructor, hidden.code, hidden.message]);
      }
    });

    it('an inactive template is CONFLICT, for its owner too', async () => {
      const owner = await api.user();
      const template = await createTemplateViaService(api, owner, { isPublic: true });
      await templates().setActive(owner, template.id, false);
      const error = await expectNothingWritten(template.id, () => experiments().createFromTemplate(owner, { templateId: template.id }));
      expect(error).toMatchObject({ code: ErrorCode.Conflict, details: { reason: 'TEMPLATE_INACTIVE' } });
    });
  });
});
