import { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { createOrmConfig } from '../mikro-orm.config';
import { migrationsList } from '../migrations';
import { migrateDatabase } from '../src/db/database';
import { parseConfiguration } from '../src/template/configuration-validator';
import type { FieldError } from '../src/errors/domain-error';
import { TEMPLATE_CATEGORIES } from '../src/template/template-category';
import { databaseExists, recreateDatabase, withClient } from './cluster';
import type { Mode, Scale } from './options';

/** Raised whenever the generated data changes shape, so `--reuse` never measures a stale data set. */
const GENERATOR_VERSION = 5;
const BATCH_ROWS = 50_000;
const WORKERS = 2;

export const BENCH_DB_CONFIG = {
  pooler: 'none' as const,
  poolMax: 10,
  statementTimeoutMs: 30_000,
  lockTimeoutMs: 2_000,
  acquireTimeoutMs: 5_000,
  connectTimeoutMs: 5_000,
  replicaMaxLagMs: 2_000,
};

export interface Generated {
  database: string;
  url: string;
  reused: boolean;
  seconds: number;
  steps: Array<{ step: string; seconds: number }>;
  rows: Record<string, number>;
  bytes: Record<string, number>;
}

// Vocabularies: names and descriptions read like real ones, and a text search finds a realistic share of them.
const SUBJECTS = [
  'customer churn',
  'credit risk',
  'demand',
  'card fraud',
  'click-through',
  'review sentiment',
  'product image',
  'sensor drift',
  'house price',
  'energy load',
  'inventory',
  'support ticket',
  'patient readmission',
  'network intrusion',
  'loan default',
  'store sales',
  'road traffic',
  'rainfall',
  'contract clause',
  'playlist',
];
const QUALIFIERS = ['baseline', 'tuned', 'production', 'experimental', 'quick', 'robust', 'large', 'compact', 'nightly', 'v2'];
const MODELS: Array<[display: string, type: string, framework: string]> = [
  ['XGBoost', 'gradient_boosting', 'xgboost'],
  ['random forest', 'random_forest', 'sklearn'],
  ['logistic regression', 'logistic_regression', 'sklearn'],
  ['transformer', 'transformer', 'pytorch'],
  ['LSTM', 'lstm', 'tensorflow'],
  ['CNN', 'cnn', 'keras'],
  ['k-means', 'kmeans', 'sklearn'],
  ['isolation forest', 'isolation_forest', 'sklearn'],
  ['Prophet', 'prophet', 'prophet'],
  ['LightGBM', 'gradient_boosting', 'lightgbm'],
  ['ridge', 'ridge', 'sklearn'],
  ['CatBoost', 'gradient_boosting', 'catboost'],
  ['ARIMA', 'arima', 'statsmodels'],
  ['autoencoder', 'autoencoder', 'pytorch'],
  ['matrix factorisation', 'matrix_factorization', 'other'],
];
const BLURBS = [
  'Features are scaled and encoded; the split is stratified.',
  'Early stopping on the validation loss keeps training short.',
  'Class weights compensate for a heavily imbalanced target.',
  'Hyperparameters come from last quarter’s sweep.',
  'A reproducible starting point for the weekly retraining job.',
  'Uses the curated warehouse snapshot refreshed every night.',
  'Tuned for latency: small model, few features.',
  'Explainability first: monotonic constraints on key features.',
  'Handles late-arriving events with a seven day watermark.',
  'Built for the quarterly audit; do not change the seed.',
  'Benchmarked against the legacy heuristic in the runbook.',
  'Bayesian optimisation found these settings after 200 trials.',
];
// Tags are drawn with a skew (a few are everywhere, most are rare), like a real folksonomy.
export const TAG_VOCABULARY = [
  'tabular',
  'baseline',
  'production',
  'experimental',
  'gpu',
  'cpu',
  'xgboost',
  'lightgbm',
  'pytorch',
  'tensorflow',
  'sklearn',
  'deep-learning',
  'transformer',
  'cnn',
  'rnn',
  'lstm',
  'bert',
  'gradient-boosting',
  'random-forest',
  'ensemble',
  'automl',
  'feature-engineering',
  'imbalanced',
  'multiclass',
  'binary',
  'churn',
  'fraud',
  'forecasting',
  'retail',
  'finance',
  'healthcare',
  'marketing',
  'nlp',
  'vision',
  'audio',
  'recommendation',
  'ranking',
  'segmentation',
  'anomaly',
  'sensor',
  'iot',
  'streaming',
  'batch',
  'explainable',
  'fairness',
  'privacy',
  'small-data',
  'large-scale',
  'distributed',
  'edge',
  'quantized',
  'fine-tuning',
  'transfer-learning',
  'unsupervised',
  'semi-supervised',
  'reinforcement',
  'time-series',
  'text-classification',
  'object-detection',
  'ab-testing',
];
const FEATURE_STEMS = [
  'age',
  'amount',
  'count',
  'ratio',
  'score',
  'duration',
  'category',
  'region',
  'channel',
  'device',
  'text',
  'timestamp',
];
const FEATURE_TYPES = ['numeric', 'numeric', 'numeric', 'categorical', 'categorical', 'text', 'datetime', 'boolean', 'embedding'];
const TRANSFORMS = ['standard_scale', 'log1p', 'one_hot', 'min_max', 'target_encode', 'none', 'bucketize'];
const FORMATS = ['parquet', 'csv', 'jsonl', 'sql', 'tfrecord'];
const STRATEGIES = ['holdout', 'kfold', 'stratified_kfold', 'time_series_split'];
const METRICS = ['["accuracy", "f1"]', '["rmse", "mae"]', '["roc_auc", "precision", "recall"]', '["silhouette"]', '["mape", "smape"]'];
const STATUSES = [
  'completed',
  'completed',
  'completed',
  'completed',
  'completed',
  'completed',
  'failed',
  'failed',
  'running',
  'queued',
  'cancelled',
  'draft',
  'draft',
  'draft',
  'draft',
];
const LEGACY_STATUSES = ['completed', 'completed', 'completed', 'failed', 'archived', 'running', 'draft'];

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;
const textArray = (values: string[]) => `array[${values.map(literal).join(', ')}]::text[]`;
/** A uniformly random element of `values`. */
const pick = (values: string[]) => `(${textArray(values)})[1 + floor(random() * ${values.length})::int]`;

export const userId = (n: string) => `md5('user:' || (${n}))::uuid`;
export const templateId = (n: string) => `md5('template:' || (${n}))::uuid`;

/**
 * The per-row random choices a template or legacy experiment is generated from, over `generate_series(a, b) i`.
 * Correlated with `i` where a subquery must be evaluated per row rather than once.
 */
function contentChoices(): string {
  return `
    i,
    1 + floor(random() * ${SUBJECTS.length})::int as subject_n,
    1 + floor(random() * ${MODELS.length})::int as model_n,
    ${pick(QUALIFIERS)} as qualifier,
    ${pick(BLURBS)} as blurb,
    ${pick(FORMATS)} as format,
    ${pick(STRATEGIES)} as strategy,
    (${textArray(METRICS)})[1 + floor(random() * ${METRICS.length})::int]::jsonb as metrics,
    20 + floor(random() * 30)::int as feature_count,
    now() - random() * interval '730 days' as created_at`;
}

/** A configuration of a few KB, valid against the configuration schema, from the columns of `contentChoices`. */
function configurationSql(g: string): string {
  const subject = `(${textArray(SUBJECTS)})[${g}.subject_n]`;
  return `jsonb_build_object(
    'dataset', jsonb_build_object(
      'source', 's3://bench-datasets/' || replace(${subject}, ' ', '_') || '/' || ${g}.i || '.' || ${g}.format,
      'format', ${g}.format,
      'target', 'label',
      'rowCount', floor(random() * 10000000)::int,
      'split', jsonb_build_object('train', 0.7, 'validation', 0.15, 'test', 0.15)),
    'features', (
      select jsonb_agg(jsonb_build_object(
        'name', (${textArray(FEATURE_STEMS)})[1 + f % ${FEATURE_STEMS.length}] || '_' || f,
        'type', ${pick(FEATURE_TYPES)},
        'transform', ${pick(TRANSFORMS)},
        'enabled', random() < 0.9) order by f)
      from generate_series(1, ${g}.feature_count) f),
    'model', jsonb_build_object(
      'type', (${textArray(MODELS.map((m) => m[1]))})[${g}.model_n],
      'framework', (${textArray(MODELS.map((m) => m[2]))})[${g}.model_n],
      'hyperparameters', jsonb_build_object(
        'maxDepth', 3 + floor(random() * 10)::int,
        'nEstimators', 100 * (1 + floor(random() * 10)::int),
        'learningRate', round((0.01 + random() * 0.3)::numeric, 3),
        'subsample', round((0.5 + random() * 0.5)::numeric, 2),
        'regularization', jsonb_build_object('l1', round(random()::numeric, 3), 'l2', round(random()::numeric, 3)))),
    'parameters', jsonb_build_object(
      'learningRate', round((0.0001 + random() * 0.1)::numeric, 5),
      'epochs', 10 + floor(random() * 200)::int,
      'batchSize', 32 * (1 + floor(random() * 16)::int),
      'seed', ${g}.i,
      'earlyStopping', random() < 0.7),
    'validation', jsonb_build_object(
      'strategy', ${g}.strategy,
      'folds', 3 + floor(random() * 8)::int,
      'testSize', 0.2,
      'metrics', ${g}.metrics))`;
}

export function usersSql(scale: Scale): string {
  // The token of `userN@bench.test` (signLocalToken) carries sub `local|userN@bench.test` and name `userN`: the
  // server's upsert finds the row unchanged and writes nothing.
  return `
    insert into users (id, external_id, email, display_name, created_at)
    select ${userId('i')}, 'local|user' || i || '@bench.test', 'user' || i || '@bench.test', 'user' || i,
           now() - interval '800 days' + random() * interval '60 days'
    from generate_series(1, ${scale.users}) i`;
}

export function templatesSql(scale: Scale, from: number, to: number): string {
  const subject = `(${textArray(SUBJECTS)})[g.subject_n]`;
  const model = `(${textArray(MODELS.map((m) => m[0]))})[g.model_n]`;
  return `
    insert into experiment_templates
      (id, name, description, category, tags, configuration, version, is_active, created_by, is_public, usage_count, created_at, updated_at)
    select ${templateId('g.i')},
      initcap(g.qualifier) || ' ' || ${subject} || ' ' || ${model} || ' #' || g.i,
      'Template for ' || ${subject} || ' with ' || ${model} || ' on ' || g.format || ' data. ' || g.blurb,
      (${textArray(TEMPLATE_CATEGORIES)})[1 + g.i % ${TEMPLATE_CATEGORIES.length}],
      g.tags,
      ${configurationSql('g')},
      g.versions,
      random() >= 0.03,
      ${userId('g.owner')},
      random() < 0.2,
      0,
      g.created_at,
      g.created_at + random() * (now() - g.created_at)
    from (
      select ${contentChoices()},
        1 + floor(random() * 6)::int as versions,
        -- Some users own many templates, most own a few.
        1 + floor(power(random(), 1.5) * ${scale.users})::int as owner,
        (select jsonb_agg(distinct tag) from (
           select (${textArray(TAG_VOCABULARY)})[1 + floor(power(random(), 2) * ${TAG_VOCABULARY.length})::int] as tag
           from generate_series(1, 2 + floor(random() * 5)::int + 0 * i)) picked) as tags
      from generate_series(${from}, ${to}) i
    ) g`;
}

/** About two shares per template (0 to 4), never with the owner. */
export function sharesSql(scale: Scale, half: string): string {
  return `
    insert into experiment_template_shares (template_id, user_id, shared_by, shared_at)
    select s.template_id, s.user_id, s.created_by, s.shared_at
    from (
      select t.id as template_id, t.created_by, ${userId(`1 + floor(random() * ${scale.users})::int`)} as user_id,
             t.created_at + random() * (now() - t.created_at) as shared_at
      from experiment_templates t
      cross join lateral generate_series(1, floor(random() * 5)::int + 0 * t.version) n
      where ${half}
    ) s
    where s.user_id <> s.created_by
    on conflict do nothing`;
}

/** Versions 1..k of each template at version k: the last one is the template's content, older ones differ. */
export function versionsSql(half: string): string {
  return `
    insert into experiment_template_versions
      (id, template_id, version, name, description, category, tags, configuration, created_by, created_at, change_note)
    select gen_random_uuid(), t.id, v, t.name, t.description, t.category,
      case when v = t.version then t.tags else t.tags - 'production' end,
      case when v = t.version then t.configuration else jsonb_set(t.configuration, '{parameters,epochs}', to_jsonb(v * 10)) end,
      t.created_by,
      t.created_at + (t.updated_at - t.created_at) * ((v - 1)::float8 / greatest(t.version - 1, 1)),
      case when v = 1 then null else 'Tuned epochs (version ' || v || ')' end
    from experiment_templates t
    cross join generate_series(1, t.version) v
    where ${half}`;
}

/**
 * Experiments: 85% from a template (popularity skewed: a few templates start thousands, most a handful), 40% of
 * those by the template's owner; the rest from scratch. `small` documents (a configuration of a hundred bytes instead
 * of the template's few KB) keep a data set of tens of millions of rows quick to generate; every other column is alike.
 */
export function experimentsSql(scale: Scale, from: number, to: number, documents: 'full' | 'small' = 'full'): string {
  // Drawn per row in the series, not in a subquery over the template's columns: PostgreSQL may memoize such a subquery
  // per template, and all of a template's experiments would then share a handful of times.
  const createdAt = `(coalesce(t.created_at, now() - interval '730 days') + g.r_created * (now() - coalesce(t.created_at, now() - interval '730 days')))`;
  const configuration =
    documents === 'small'
      ? `jsonb_build_object('dataset', jsonb_build_object('source', 's3://runs/' || g.i || '.parquet'), 'parameters', jsonb_build_object('seed', g.i))`
      : `case when t.id is null
        then jsonb_build_object(
          'dataset', jsonb_build_object('source', 's3://scratch/' || g.i || '.csv', 'format', 'csv', 'target', 'label'),
          'features', jsonb_build_array(jsonb_build_object('name', 'x1', 'type', 'numeric'), jsonb_build_object('name', 'x2', 'type', 'categorical')),
          'model', jsonb_build_object('type', 'logistic_regression', 'framework', 'sklearn'))
        else jsonb_set(t.configuration, '{parameters,seed}', to_jsonb(g.i)) end`;
  return `
    insert into ml_experiments
      (id, name, description, status, configuration, owner_id, created_at, updated_at, template_id, template_version,
       wizard_completed, wizard_step_completed, wizard_state, dataset_statistics, estimated_training_time, actual_training_time)
    select gen_random_uuid(),
      coalesce(t.name, 'Scratch experiment') || ' - run ' || g.i,
      case when g.r_description < 0.5 then null else 'Run ' || g.i || ' of ' || coalesce(t.name, 'a scratch experiment') end,
      g.status,
      ${configuration},
      case when t.id is not null and g.r_owner < 0.4 then t.created_by else ${userId('g.owner')} end,
      ${createdAt},
      ${createdAt} + random() * interval '3 days',
      t.id,
      case when t.id is null then null else 1 + floor(random() * t.version)::int end,
      g.status <> 'draft',
      case when g.status = 'draft' then floor(random() * 5)::int else 5 end,
      case when g.status = 'draft' then jsonb_build_object('step', floor(random() * 5)::int, 'touched', jsonb_build_array('dataset', 'features')) end,
      case when g.status = 'completed' then jsonb_build_object('rows', floor(random() * 1000000)::int, 'columns', 20 + floor(random() * 30)::int, 'missingRatio', round(random()::numeric * 0.1, 4)) else '{}'::jsonb end,
      case when g.status <> 'draft' then make_interval(secs => 60 + floor(random() * 7200)::int) end,
      case when g.status = 'completed' then make_interval(secs => 60 + floor(random() * 9000)::int) end
    from (
      select i,
        case when random() < 0.85 then 1 + floor(power(random(), 2) * ${scale.templates})::int end as template_n,
        1 + floor(random() * ${scale.users})::int as owner,
        random() as r_owner,
        random() as r_description,
        random() as r_created,
        ${pick(STATUSES)} as status
      from generate_series(${from}, ${to}) i
    ) g
    left join experiment_templates t on t.id = ${templateId('g.template_n')}`;
}

/** Experiments as they were before templates: the baseline table's columns only. */
function legacyExperimentsSql(scale: Scale, from: number, to: number): string {
  const subject = `(${textArray(SUBJECTS)})[g.subject_n]`;
  return `
    insert into ml_experiments (id, name, description, status, configuration, owner_id, created_at, updated_at)
    select gen_random_uuid(),
      initcap(g.qualifier) || ' ' || ${subject} || ' run ' || g.i,
      case when random() < 0.5 then null else g.blurb end,
      ${pick(LEGACY_STATUSES)},
      ${configurationSql('g')},
      ${userId(`1 + floor(random() * ${scale.users})::int`)},
      g.created_at,
      g.created_at + random() * interval '3 days'
    from (select ${contentChoices()} from generate_series(${from}, ${to}) i) g`;
}

export const UUID_HALVES = (alias: string) => [
  `${alias}.id < '80000000-0000-0000-0000-000000000000'`,
  `${alias}.id >= '80000000-0000-0000-0000-000000000000'`,
];

export function ranges(total: number, size = BATCH_ROWS): Array<[number, number]> {
  const result: Array<[number, number]> = [];
  for (let from = 1; from <= total; from += size) result.push([from, Math.min(total, from + size - 1)]);
  return result;
}

/** Runs statements on `WORKERS` connections of their own, each taking the next statement when done. */
export async function runParallel(url: string, statements: string[]): Promise<void> {
  const queue = [...statements];
  const worker = async () => {
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      // Generated rows are disposable: no need to wait for the WAL flush on every commit.
      await client.query(`set synchronous_commit = off; set statement_timeout = 0; set lock_timeout = 0`);
      for (let statement = queue.shift(); statement; statement = queue.shift()) await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await Promise.all(Array.from({ length: WORKERS }, worker));
}

export class StepTimer {
  readonly steps: Array<{ step: string; seconds: number }> = [];
  constructor(private readonly log: (line: string) => void) {}

  async time(step: string, work: () => Promise<unknown>): Promise<void> {
    const started = performance.now();
    await work();
    const seconds = (performance.now() - started) / 1000;
    this.steps.push({ step, seconds });
    this.log(`  ${step}: ${seconds.toFixed(1)} s`);
  }
}

export interface Meta {
  generator: number;
  /** When generation ended: the data's "now", which windows such as the last 7 days are measured from. */
  generatedAt?: string;
  scale: Scale;
  seconds: number;
  steps: Generated['steps'];
}

async function readMeta(url: string): Promise<Meta | null> {
  return withClient(url, async (client) => {
    const exists = await client.query(`select to_regclass('bench_meta') is not null as exists`);
    if (!exists.rows[0].exists) return null;
    const { rows } = await client.query(`select value from bench_meta where id = 1`);
    return (rows[0]?.value as Meta | undefined) ?? null;
  });
}

export async function writeMeta(url: string, meta: Meta): Promise<void> {
  await withClient(url, async (client) => {
    await client.query(`create table if not exists bench_meta (id integer primary key, value jsonb not null)`);
    await client.query(`insert into bench_meta values (1, $1) on conflict (id) do update set value = excluded.value`, [
      JSON.stringify(meta),
    ]);
  });
}

export async function reusable(
  serverUrl: string,
  url: string,
  database: string,
  scale: Scale,
  generator = GENERATOR_VERSION,
): Promise<Meta | null> {
  if (!(await databaseExists(serverUrl, database))) return null;
  const meta = await readMeta(url);
  if (!meta || meta.generator !== generator || JSON.stringify(meta.scale) !== JSON.stringify(scale)) return null;
  return meta;
}

async function tableFigures(url: string, tables: string[]): Promise<{ rows: Record<string, number>; bytes: Record<string, number> }> {
  return withClient(url, async (client) => {
    const rows: Record<string, number> = {};
    const bytes: Record<string, number> = {};
    for (const table of tables) {
      const result = await client.query(`select count(*)::bigint as rows, pg_total_relation_size($1::regclass) as bytes from ${table}`, [
        table,
      ]);
      rows[table] = Number(result.rows[0].rows);
      bytes[table] = Number(result.rows[0].bytes);
    }
    return { rows, bytes };
  });
}

const MAIN_TABLES = ['users', 'experiment_templates', 'experiment_template_shares', 'experiment_template_versions', 'ml_experiments'];

/**
 * Every migration, then users, templates, shares and versions, analysed: what each data set has before its
 * experiments (the main one and the scaling one).
 */
export async function generateUsersAndTemplates(dbUrl: string, scale: Scale, timer: StepTimer): Promise<void> {
  await timer.time('migrations', () => migrateDatabase(dbUrl, { db: BENCH_DB_CONFIG }));
  await timer.time('users', () => runParallel(dbUrl, [usersSql(scale)]));
  await timer.time('templates', () =>
    runParallel(
      dbUrl,
      ranges(scale.templates, BATCH_ROWS / 2).map(([a, b]) => templatesSql(scale, a, b)),
    ),
  );
  await timer.time('shares', () =>
    runParallel(
      dbUrl,
      UUID_HALVES('t').map((half) => sharesSql(scale, half)),
    ),
  );
  await timer.time('versions', () =>
    runParallel(
      dbUrl,
      UUID_HALVES('t').map((half) => versionsSql(half)),
    ),
  );
  await timer.time('analyze', () => withClient(dbUrl, (client) => client.query('analyze')));
}

/**
 * The data set the server is measured on: every migration applied, then users, templates, shares, versions and
 * experiments generated in set-based SQL. With `reuse`, a complete data set of the same scale is kept (pending
 * migrations are still applied: that is how a new index gets measured).
 */
export async function prepareMainDataset(
  serverUrl: string,
  url: (database: string) => string,
  mode: Mode,
  scale: Scale,
  reuse: boolean,
  log: (line: string) => void,
): Promise<Generated> {
  const database = `tessera_bench_${mode}`;
  const dbUrl = url(database);
  const existing = reuse ? await reusable(serverUrl, dbUrl, database, scale) : null;
  if (existing) {
    log(`reusing ${database} (generated in ${existing.seconds.toFixed(0)} s)`);
    const applied = await migrateDatabase(dbUrl, { db: BENCH_DB_CONFIG });
    if (applied.length > 0) {
      log(`  applied pending migrations: ${applied.join(', ')}`);
      await withClient(dbUrl, (client) => client.query('analyze'));
    }
    return {
      database,
      url: dbUrl,
      reused: true,
      seconds: existing.seconds,
      steps: existing.steps,
      ...(await tableFigures(dbUrl, MAIN_TABLES)),
    };
  }

  log(`generating ${database}: ${scale.users} users, ${scale.templates} templates, ${scale.experiments} experiments`);
  const started = performance.now();
  const timer = new StepTimer(log);
  await recreateDatabase(serverUrl, database);
  // The template lookup by id is what spreads experiments over templates: the statistics are fresh after this.
  await generateUsersAndTemplates(dbUrl, scale, timer);
  await timer.time('experiments', () =>
    runParallel(
      dbUrl,
      ranges(scale.experiments).map(([a, b]) => experimentsSql(scale, a, b)),
    ),
  );
  // What the usage migration backfills over existing experiments, and each experiment's transaction keeps up after:
  // the migrations ran on empty tables here, before the experiments were generated.
  await timer.time('usage counts', () =>
    withClient(dbUrl, async (client) => {
      await client.query(`update template_trending_window set starts_on = (now() at time zone 'utc')::date - 6`);
      await countTemplateUsage(client, null);
    }),
  );
  await timer.time('vacuum analyze', () => withClient(dbUrl, (client) => client.query('vacuum (analyze)')));
  await timer.time('check configurations', () => checkConfigurations(dbUrl));
  const seconds = (performance.now() - started) / 1000;
  await writeMeta(dbUrl, { generator: GENERATOR_VERSION, scale, seconds, steps: timer.steps });
  log(`  generated in ${seconds.toFixed(1)} s`);
  return { database, url: dbUrl, reused: false, seconds, steps: timer.steps, ...(await tableFigures(dbUrl, MAIN_TABLES)) };
}

/**
 * Counts from the experiments what each experiment's transaction keeps up: a template's usage count and last use, its
 * daily usage and its TRENDING count (in the window as it stands). For the templates `templateIds` only, from zero, or
 * for every template (null) of a data set whose counts are still empty: the generator's backfill, and the repair
 * after a load that created experiments and removed them again.
 */
export async function countTemplateUsage(client: Client, templateIds: string[] | null): Promise<void> {
  const params = templateIds ? [templateIds] : [];
  const experiments = templateIds ? 'template_id = any($1::uuid[])' : 'template_id is not null';
  if (templateIds) {
    await client.query(
      `update experiment_templates set usage_count = 0, last_used = null, trending_count = 0 where id = any($1::uuid[])`,
      params,
    );
    await client.query(`delete from template_usage_daily where template_id = any($1::uuid[])`, params);
  }
  await client.query(
    `update experiment_templates t set usage_count = u.count, last_used = u.last_used
     from (select template_id, count(*)::int as count, max(created_at) as last_used
           from ml_experiments where ${experiments} group by template_id) u
     where u.template_id = t.id`,
    params,
  );
  await client.query(
    `insert into template_usage_daily (template_id, day, experiments)
     select template_id, (created_at at time zone 'utc')::date, count(*)::integer
     from ml_experiments where ${experiments}
     group by 1, 2`,
    params,
  );
  await client.query(
    `update experiment_templates t set trending_count = recent.experiments
     from (
       select d.template_id, sum(d.experiments)::integer as experiments
       from template_usage_daily d join template_trending_window w on d.day >= w.starts_on
       where d.${experiments}
       group by d.template_id
     ) recent
     where recent.template_id = t.id`,
    params,
  );
}

/**
 * The database the migration benchmark starts from: the baseline migration only (experiments as they were before
 * templates), holding `scale.experiments` experiments. Each run migrates a fresh copy of it.
 */
export async function prepareMigrationBase(
  serverUrl: string,
  url: (database: string) => string,
  mode: Mode,
  scale: Scale,
  reuse: boolean,
  log: (line: string) => void,
): Promise<Generated> {
  const database = `tessera_bench_${mode}_baseline`;
  const dbUrl = url(database);
  const existing = reuse ? await reusable(serverUrl, dbUrl, database, scale) : null;
  if (existing) {
    log(`reusing ${database} (generated in ${existing.seconds.toFixed(0)} s)`);
    return {
      database,
      url: dbUrl,
      reused: true,
      seconds: existing.seconds,
      steps: existing.steps,
      ...(await tableFigures(dbUrl, ['users', 'ml_experiments'])),
    };
  }

  log(`generating ${database}: baseline schema, ${scale.users} users, ${scale.experiments} experiments`);
  const started = performance.now();
  const timer = new StepTimer(log);
  await recreateDatabase(serverUrl, database);
  await timer.time('baseline migration', async () => {
    const orm = await MikroORM.init(createOrmConfig({ clientUrl: dbUrl, db: { ...BENCH_DB_CONFIG, poolMax: 2 }, statementTimeoutMs: 0 }));
    try {
      await orm.getMigrator().up({ to: migrationsList[0].name });
    } finally {
      await orm.close(true);
    }
  });
  await timer.time('users', () => runParallel(dbUrl, [usersSql(scale)]));
  await timer.time('experiments', () =>
    runParallel(
      dbUrl,
      ranges(scale.experiments).map(([a, b]) => legacyExperimentsSql(scale, a, b)),
    ),
  );
  await timer.time('vacuum analyze', () => withClient(dbUrl, (client) => client.query('vacuum (analyze)')));
  const seconds = (performance.now() - started) / 1000;
  await writeMeta(dbUrl, { generator: GENERATOR_VERSION, scale, seconds, steps: timer.steps });
  log(`  generated in ${seconds.toFixed(1)} s`);
  return { database, url: dbUrl, reused: false, seconds, steps: timer.steps, ...(await tableFigures(dbUrl, ['users', 'ml_experiments'])) };
}

/** Generated configurations must pass the server's own validation, or the load would measure error paths. */
async function checkConfigurations(url: string): Promise<void> {
  await withClient(url, async (client) => {
    const { rows } = await client.query<{ source: string; configuration: unknown }>(`
      (select 'template' as source, configuration from experiment_templates tablesample system (1) limit 100)
      union all
      (select 'version', configuration from experiment_template_versions tablesample system (1) limit 100)
      union all
      (select 'experiment', configuration from ml_experiments tablesample system (0.1) where template_id is not null limit 100)`);
    for (const row of rows) {
      const errors: FieldError[] = [];
      parseConfiguration(row.configuration, '', errors);
      if (errors.length > 0) throw new Error(`generated ${row.source} configuration is invalid: ${JSON.stringify(errors)}`);
    }
  });
}
