import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { Role, type Actor } from '../src/auth/actor';
import { LruCache } from '../src/cache/lru-cache';
import { ConfigError, loadConfig, loadDotEnv } from '../src/config';
import { openDatabase } from '../src/db/database';
import { describeFailure } from '../src/failure-cause';
import { createServices } from '../src/graphql/context';
import type { Configuration } from '../src/template/configuration-schema';
import { TemplateCategory } from '../src/template/template-category';
import { upsertUserFromClaims, type KnownUsers } from '../src/user/user.service';

/** Demo users: `npm run token -- ada@example.com` signs in as Ada (the subject is `local|<email>`). */
const PEOPLE = [
  { email: 'ada@example.com', name: 'Ada Lovelace' },
  { email: 'grace@example.com', name: 'Grace Hopper' },
  { email: 'alan@example.com', name: 'Alan Turing' },
];

interface DemoTemplate {
  owner: number;
  name: string;
  description: string;
  category: TemplateCategory;
  tags: string[];
  configuration: Configuration;
  isPublic?: boolean;
  sharedWith?: number[];
}

/** The demo templates, as written before version 2 of the configuration schema existed: valid at every version. */
export const DEMO_TEMPLATES: DemoTemplate[] = [
  {
    owner: 0,
    name: 'Customer churn (gradient boosting)',
    category: TemplateCategory.CLASSIFICATION,
    isPublic: true,
    description: 'Predicts which subscribers cancel next month from usage and billing history.',
    tags: ['churn', 'tabular', 'xgboost'],
    configuration: {
      dataset: { source: 's3://demo/churn.parquet', format: 'parquet', target: 'churned', split: { train: 0.8, test: 0.2 } },
      features: [
        { name: 'tenure_months', type: 'numeric' },
        { name: 'plan', type: 'categorical', transform: 'one_hot' },
        { name: 'monthly_spend', type: 'numeric', transform: 'log1p' },
      ],
      model: { type: 'gradient_boosting', framework: 'xgboost', hyperparameters: { maxDepth: 6, nEstimators: 400, eta: 0.05 } },
      parameters: { seed: 7, earlyStopping: true },
      validation: { strategy: 'stratified_kfold', folds: 5, metrics: ['roc_auc', 'f1'] },
    },
  },
  {
    owner: 0,
    name: 'House prices (linear baseline)',
    category: TemplateCategory.REGRESSION,
    sharedWith: [1],
    description: 'A regularised linear baseline for sale prices.',
    tags: ['tabular', 'baseline'],
    configuration: {
      dataset: { source: 's3://demo/houses.csv', format: 'csv', target: 'sale_price' },
      features: [
        { name: 'living_area', type: 'numeric' },
        { name: 'neighbourhood', type: 'categorical' },
        { name: 'year_built', type: 'numeric' },
      ],
      model: { type: 'ridge', framework: 'sklearn', hyperparameters: { alpha: 1.0 } },
      validation: { strategy: 'kfold', folds: 10, metrics: ['rmse', 'mae'] },
    },
  },
  {
    owner: 1,
    name: 'Customer segments',
    category: TemplateCategory.CLUSTERING,
    isPublic: true,
    description: 'K-means segments over behavioural features.',
    tags: ['segmentation', 'kmeans'],
    configuration: {
      dataset: { source: 'warehouse.analytics.customers', format: 'sql' },
      features: [
        { name: 'orders_per_month', type: 'numeric' },
        { name: 'basket_size', type: 'numeric' },
      ],
      model: { type: 'kmeans', framework: 'sklearn', hyperparameters: { nClusters: 6 } },
      parameters: { seed: 1 },
    },
  },
  {
    owner: 1,
    name: 'Daily demand forecast',
    category: TemplateCategory.TIME_SERIES,
    sharedWith: [0, 2],
    description: 'Store-level demand, 28 days ahead.',
    tags: ['forecasting', 'retail'],
    configuration: {
      dataset: { source: 's3://demo/sales_daily.parquet', format: 'parquet', target: 'units' },
      features: [
        { name: 'date', type: 'datetime' },
        { name: 'store_id', type: 'categorical' },
        { name: 'promo', type: 'boolean' },
      ],
      model: { type: 'prophet', framework: 'prophet', hyperparameters: { seasonalityMode: 'multiplicative' } },
      validation: { strategy: 'time_series_split', folds: 4, metrics: ['mape'] },
    },
  },
  {
    owner: 2,
    name: 'Card fraud detector',
    category: TemplateCategory.ANOMALY_DETECTION,
    description: 'Isolation forest over transaction features.',
    tags: ['fraud', 'unsupervised'],
    configuration: {
      dataset: { source: 's3://demo/transactions.parquet', format: 'parquet' },
      features: [
        { name: 'amount', type: 'numeric', transform: 'log1p' },
        { name: 'merchant_category', type: 'categorical' },
      ],
      model: { type: 'isolation_forest', framework: 'sklearn', hyperparameters: { contamination: 0.002 } },
    },
  },
  {
    owner: 0,
    name: 'Support ticket router',
    category: TemplateCategory.NLP,
    isPublic: true,
    description: 'Fine-tunes a small transformer to route tickets to teams.',
    tags: ['text', 'transformer'],
    configuration: {
      dataset: { source: 's3://demo/tickets.jsonl', format: 'jsonl', target: 'team' },
      features: [
        { name: 'subject', type: 'text' },
        { name: 'body', type: 'text' },
      ],
      model: { type: 'distilbert', framework: 'pytorch', hyperparameters: { maxLength: 256 } },
      parameters: { learningRate: 0.00003, epochs: 3, batchSize: 32 },
      validation: { strategy: 'holdout', testSize: 0.1, metrics: ['accuracy', 'macro_f1'] },
    },
  },
  {
    owner: 2,
    name: 'Defect spotting on images',
    category: TemplateCategory.COMPUTER_VISION,
    sharedWith: [0],
    description: 'Transfer learning from a pretrained ResNet.',
    tags: ['images', 'transfer-learning'],
    configuration: {
      dataset: { source: 's3://demo/defects/', format: 'images', target: 'label' },
      features: [{ name: 'image', type: 'image', transform: 'resize_224' }],
      model: { type: 'resnet50', framework: 'pytorch', hyperparameters: { freezeBackbone: true } },
      parameters: { learningRate: 0.001, epochs: 15, batchSize: 64 },
    },
  },
  {
    owner: 1,
    name: 'Product recommendations',
    category: TemplateCategory.RECOMMENDATION,
    isPublic: true,
    description: 'Implicit-feedback matrix factorisation.',
    tags: ['recsys', 'implicit'],
    configuration: {
      dataset: { source: 'warehouse.events.purchases', format: 'sql' },
      features: [
        { name: 'user_id', type: 'categorical' },
        { name: 'item_id', type: 'categorical' },
      ],
      model: { type: 'als', framework: 'other', hyperparameters: { factors: 64, regularization: 0.01 } },
      validation: { strategy: 'holdout', testSize: 0.2, metrics: ['precision_at_10'] },
    },
  },
  {
    owner: 2,
    name: 'Warehouse robot policy',
    category: TemplateCategory.REINFORCEMENT_LEARNING,
    description: 'PPO in a simulated picking environment.',
    tags: ['simulation', 'ppo'],
    configuration: {
      dataset: { source: 'sim://warehouse-v2', format: 'other' },
      features: [{ name: 'observation', type: 'embedding' }],
      model: { type: 'ppo', framework: 'pytorch', hyperparameters: { gamma: 0.99, clipRange: 0.2 } },
      parameters: { learningRate: 0.0003, epochs: 200 },
    },
  },
  {
    owner: 0,
    name: 'Scratchpad',
    category: TemplateCategory.OTHER,
    description: 'A minimal starting point.',
    tags: ['starter'],
    configuration: {
      dataset: { source: 'file://data.csv', format: 'csv' },
      features: [],
      model: { type: 'dummy', framework: 'sklearn' },
    },
  },
];

export async function seed(em: EntityManager): Promise<void> {
  // The whole seed is one request as far as the audit trail tells: its events share one request id.
  const requestId = randomUUID();
  const actors: Actor[] = [];
  const known: KnownUsers = new LruCache(PEOPLE.length);
  for (const person of PEOPLE) {
    const userId = await upsertUserFromClaims(
      em,
      { externalId: `local|${person.email}`, email: person.email, displayName: person.name, roles: [] },
      known,
      { requestId, requireEmailVerified: false },
    );
    actors.push({ userId, roles: [] });
  }
  const [{ count }] = await em.execute<Array<{ count: number }>>(
    'select count(*)::int as count from experiment_templates where created_by = ?',
    [actors[0].userId],
  );
  if (count > 0) {
    process.stdout.write('Demo data is already there; nothing to do.\n');
    return;
  }

  const { templates } = createServices(em.fork(), requestId);
  const created = [];
  for (const demo of DEMO_TEMPLATES) {
    const owner = actors[demo.owner];
    const template = await templates.create(owner, { ...demo, changeNote: 'First draft' });
    if (demo.sharedWith)
      await templates.share(
        owner,
        template.id,
        demo.sharedWith.map((i) => actors[i].userId),
      );
    created.push({ demo, template });
  }

  // A history to browse: two edits and a revert on the churn template, a retired template.
  const churn = created[0].template;
  await templates.update(
    actors[0],
    churn.id,
    { tags: ['churn', 'tabular', 'xgboost', 'production'] },
    { changeNote: 'Tagged for production' },
  );
  await templates.update(
    actors[0],
    churn.id,
    {
      configuration: {
        ...created[0].demo.configuration,
        model: { type: 'gradient_boosting', framework: 'lightgbm', hyperparameters: { numLeaves: 63 } },
      },
    },
    { changeNote: 'Try LightGBM' },
  );
  await templates.revert(actors[0], churn.id, 2, { changeNote: 'LightGBM was slower; back to XGBoost' });
  await templates.setActive(actors[2], created[8].template.id, false);

  const { experiments } = createServices(em.fork(), requestId);
  const fromChurn = await experiments.createFromTemplate(actors[1], {
    templateId: churn.id,
    name: 'Churn, EU customers',
    overrides: { dataset: { source: 's3://demo/churn_eu.parquet' } },
    estimatedTrainingSeconds: 1800,
  });
  await experiments.saveWizardStep(actors[1], fromChurn.id, { step: 3, state: { reviewed: ['dataset', 'features', 'model'] } });
  await experiments.completeWizard(actors[1], fromChurn.id);
  await experiments.writeAnalysisMetadata({ userId: actors[1].userId, roles: [Role.SERVICE] }, fromChurn.id, {
    datasetStatistics: { rows: 182_345, missing: { monthly_spend: 0.012 } },
    featureImportance: { tenure_months: 0.41, monthly_spend: 0.33, plan: 0.26 },
    modelRecommendations: { suggestion: 'increase nEstimators', expectedGain: 0.01 },
    resourceRequirements: { cpu: 8, memoryGb: 16, gpu: 0 },
  });
  await experiments.recordTrainingTime(actors[1], fromChurn.id, 1642.5);

  for (const [actorIndex, templateIndex, name] of [
    [0, 3, 'Demand forecast, flagship stores'],
    [2, 5, 'Ticket routing, German queue'],
    [0, 7, 'Recommendations, homepage'],
  ] as const) {
    await experiments.createFromTemplate(actors[actorIndex], { templateId: created[templateIndex].template.id, name });
  }
  const draft = await experiments.createFromScratch(actors[0], {
    name: 'Unfinished idea',
    configuration: { dataset: { source: 's3://demo/new.csv', format: 'csv' } },
  });
  await experiments.saveWizardStep(actors[0], draft.id, { step: 1, state: { note: 'pick features next' } });

  process.stdout.write(
    `Seeded ${PEOPLE.length} users, ${DEMO_TEMPLATES.length} templates (every category) and 5 experiments.\n` +
      `Sign in as one of them: npm run token -- ${PEOPLE.map((p) => p.email).join(' | ')}\n`,
  );
}

async function main(): Promise<void> {
  loadDotEnv();
  const config = loadConfig();
  // While the server runs, its embedded database is used; otherwise one is started for the seed.
  const database = await openDatabase(config, (message) => process.stdout.write(`${message}\n`), { command: 'npm run seed' });
  try {
    await seed(database.orm.em.fork());
  } finally {
    await database.close();
  }
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof ConfigError ? error.message : `npm run seed failed: ${describeFailure(error)}`}\n`);
    process.exit(1);
  });
}
