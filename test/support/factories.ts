import type { Configuration } from '../../src/template/configuration-schema';
import { TemplateCategory } from '../../src/template/template-category';
import type { CreateTemplateInput } from '../../src/template/template.service';

/**
 * A user of the tests, made by `api.user()` (the server learns of them through their first authenticated request).
 * The same value serves as the caller of a request (`token`) and as the `Actor` a service takes (`userId`, `roles`).
 */
export interface TestUser {
  id: string;
  /** The same as `id`: what a service reads of its caller. */
  userId: string;
  roles: string[];
  email: string;
  token: string;
}

export function validConfiguration(overrides: Partial<Configuration> = {}): Configuration {
  return {
    dataset: { source: 's3://datasets/churn.parquet', format: 'parquet', target: 'churned', split: { train: 0.8, test: 0.2 } },
    features: [
      { name: 'tenure', type: 'numeric' },
      { name: 'plan', type: 'categorical', transform: 'one_hot' },
    ],
    model: { type: 'random_forest', framework: 'sklearn', hyperparameters: { nEstimators: 200, maxDepth: 8 } },
    parameters: { seed: 42 },
    validation: { strategy: 'kfold', folds: 5, metrics: ['roc_auc', 'f1'] },
    ...overrides,
  };
}

export function templateInput(overrides: Partial<CreateTemplateInput> = {}): CreateTemplateInput {
  return {
    name: 'Churn classifier',
    description: 'Predicts churn from usage data',
    category: TemplateCategory.CLASSIFICATION,
    tags: ['churn', 'tabular'],
    configuration: validConfiguration(),
    ...overrides,
  };
}

/** The error a promise rejects with; fails the test when the promise resolves instead. */
export async function rejectionOf(promise: Promise<unknown>): Promise<any> {
  let result: unknown;
  try {
    result = await promise;
  } catch (error) {
    return error;
  }
  throw new Error(`expected a rejection, but the promise resolved with ${JSON.stringify(result)?.slice(0, 200)}`);
}

/** The sorted field paths of a BAD_USER_INPUT error. */
export function pathsOf(error: { validationErrors?: Array<{ path: string }> }): string[] {
  return (error.validationErrors ?? []).map((e) => e.path).sort();
}
