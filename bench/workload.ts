import type { Client } from 'pg';
import type { Configuration } from '../src/template/configuration-schema';
import { parseConfiguration } from '../src/template/configuration-validator';
import type { FieldError } from '../src/errors/domain-error';
import { isTemplateCategory, TemplateCategory } from '../src/template/template-category';
import { withClient } from './cluster';
import { TAG_VOCABULARY } from './generate';
import { COUNTER, type RequestSpec } from './request-spec';
import { tokenFor } from './server';

/**
 * One request of an operation: who sends it (no caller: anonymous) and with which variables (`COUNTER` marks where a
 * counter goes).
 */
export interface Variant {
  caller?: { email: string; token: string };
  variables: Record<string, unknown>;
}

/** The operations of the issue "Reads at PostGraphile's cost", whose targets the report shows beside them. */
export type CostCase = 'A' | 'B' | 'C' | 'D';

export interface Operation {
  name: string;
  costCase?: CostCase;
  kind: 'read' | 'write';
  /** Held to the "filtered template page" target (p99 < 20 ms). */
  page: boolean;
  query: string;
  variants: Variant[];
  /** Page size variable, for the "statements constant in page size" check. */
  pageSizeVariable?: string;
}

export function requestOf(operation: Operation, variant: Variant): RequestSpec {
  return { token: variant.caller?.token, body: JSON.stringify({ query: operation.query, variables: variant.variables }) };
}

/** The name the report and the log give an operation: its case of the issue first, when it has one. */
export function labelOf(name: string, costCase?: CostCase): string {
  return costCase ? `${costCase}: ${name}` : name;
}

const USER_FIELDS = 'id displayName';

const TEMPLATE_PAGE = `
  query TemplatePage($filter: TemplateFilter, $orderBy: TemplateOrder, $first: Int!) {
    templates(filter: $filter, orderBy: $orderBy, first: $first) {
      edges {
        cursor
        node {
          id name description category tags version isPublic usageCount lastUsed updatedAt
          owner { ${USER_FIELDS} }
          sharedWith { ${USER_FIELDS} }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }`;

const TEMPLATE_PAGE_WITH_TOTAL = TEMPLATE_PAGE.replace('pageInfo {', 'totalCount\n      pageInfo {').replace(
  'TemplatePage(',
  'TemplatePageWithTotal(',
);

const TEMPLATE_DETAIL = `
  query TemplateDetail($id: ID!) {
    template(id: $id) {
      id name description category tags configuration version isActive isPublic usageCount lastUsed createdAt updatedAt
      owner { ${USER_FIELDS} }
      sharedWith { ${USER_FIELDS} }
      versions { id version name changeNote createdAt }
    }
  }`;

const TEMPLATE_VERSIONS = `
  query TemplateVersions($id: ID!) {
    template(id: $id) {
      id name
      versions(first: 10) { version createdAt createdBy { ${USER_FIELDS} } }
    }
  }`;

const TEMPLATE_EXPERIMENTS = `
  query TemplateExperiments($id: ID!, $first: Int!) {
    template(id: $id) {
      id name version
      experiments(first: $first) {
        totalCount
        edges { cursor node { id name status templateVersion hasNewerTemplateVersion wizardCompleted createdAt } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }`;

const TEMPLATE_USAGE = `
  query TemplateUsage($id: ID!, $from: String!, $to: String!) {
    template(id: $id) {
      id
      usage(from: $from, to: $to, bucket: MONTH) { start experiments }
    }
  }`;

const TEMPLATE_PAGE_WITH_USAGE = TEMPLATE_PAGE.replace('TemplatePage(', 'TemplatePageWithUsage($from: String!, $to: String!, ').replace(
  'updatedAt',
  'updatedAt\n          usage(from: $from, to: $to, bucket: WEEK) { start experiments }',
);

/** UTC days as the usage series takes them. */
const dayOf = (time: number) => new Date(time).toISOString().slice(0, 10);

/** The first day of the month 11 months back: with this month, 12 monthly buckets. */
function twelveMonthsBack(): string {
  const now = new Date();
  return dayOf(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - 11, 1));
}
const EXPERIMENT_QUEUE = `
  query ExperimentQueue($statuses: [String!], $first: Int!) {
    experiments(filter: { statuses: $statuses }, orderBy: { field: CREATED_AT, direction: ASC }, first: $first) {
      edges { cursor node { id name status createdAt templateVersion owner { id } } }
      pageInfo { hasNextPage endCursor }
    }
  }`;

/** The scheduler: a service token, as a scheduling service would hold. */
const SCHEDULER_EMAIL = 'scheduler@bench.test';

const CREATE_TEMPLATE = `
  mutation CreateTemplate($input: CreateTemplateInput!) {
    createTemplate(input: $input) { id version createdAt }
  }`;

const UPDATE_TEMPLATE = `
  mutation UpdateTemplate($id: ID!, $input: UpdateTemplateInput!, $changeNote: String) {
    updateTemplate(id: $id, input: $input, changeNote: $changeNote) { id version updatedAt }
  }`;

const CREATE_EXPERIMENT = `
  mutation CreateExperiment($input: CreateExperimentFromTemplateInput!) {
    createExperimentFromTemplate(input: $input) { id templateVersion status createdAt }
  }`;

// GraphQL names enum values by their keys (CLASSIFICATION), not by the stored values.
const CATEGORIES = Object.keys(TemplateCategory);

const SEARCH_TERMS = [
  'churn',
  'fraud',
  'readmission',
  'intrusion',
  'sentiment',
  'playlist',
  'rainfall',
  'isolation forest',
  'quarterly audit',
  'prophet',
  'late-arriving',
  'xgboost',
];
// Common and rare values alike: a rare one wants the GIN index, a common one the ordered scan.
const MODEL_TYPES = ['gradient_boosting', 'transformer', 'prophet', 'random_forest', 'arima', 'matrix_factorization'];
const FRAMEWORK_CHOICES = [['xgboost', 'lightgbm'], ['pytorch'], ['statsmodels', 'prophet'], ['sklearn'], ['catboost']];
const DATASET_FORMATS = ['parquet', 'csv', 'tfrecord', 'jsonl', 'sql'];
export const LOAD_NAME_PREFIX = 'Bench load';
/** The change note of the versions the load writes, by which they are found and removed after a run. */
export const LOAD_CHANGE_NOTE_PREFIX = 'Load run';

/** A deterministic stream of numbers in [0, 1). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A configuration like the generated ones (a few KB), valid against the schema. */
export function makeConfiguration(seed: number): Configuration {
  const next = random(seed);
  const choose = <T>(values: readonly T[]) => values[Math.floor(next() * values.length)];
  const features = Array.from({ length: 20 + Math.floor(next() * 30) }, (_, i) => ({
    name: `${choose(['age', 'amount', 'count', 'ratio', 'score', 'duration', 'region', 'channel'])}_${i + 1}`,
    type: choose(['numeric', 'categorical', 'text', 'datetime', 'boolean', 'embedding'] as const),
    transform: choose(['standard_scale', 'log1p', 'one_hot', 'min_max', 'none']),
    enabled: next() < 0.9,
  }));
  return {
    dataset: {
      source: `s3://bench-datasets/load/${seed}.parquet`,
      format: 'parquet',
      target: 'label',
      rowCount: Math.floor(next() * 1e7),
      split: { train: 0.7, validation: 0.15, test: 0.15 },
    },
    features,
    model: {
      type: 'gradient_boosting',
      framework: 'xgboost',
      hyperparameters: { maxDepth: 6, nEstimators: 400, learningRate: 0.05, subsample: 0.8 },
    },
    parameters: { learningRate: 0.01, epochs: 50, batchSize: 256, seed: COUNTER as unknown as number, earlyStopping: true },
    validation: { strategy: 'stratified_kfold', folds: 5, testSize: 0.2, metrics: ['roc_auc', 'f1'] },
  };
}

interface Samples {
  readers: string[];
  /**
   * Owners with a category whose first page (20 most recently updated visible templates) holds some of their own
   * templates, so the page resolves shares as well as owners.
   */
  ownersOnPage: Array<{ email: string; category: string }>;
  /** Active templates with their owner's email: edited, opened and used by their owner. */
  owned: Array<{ id: string; email: string }>;
  /** Used templates with the owner's email: the owner made many of its experiments. */
  used: Array<{ id: string; email: string }>;
}

async function sample(client: Client, count: number): Promise<Samples> {
  const readers = await client.query<{ email: string }>(`select email from users order by md5(id::text || 'bench') limit $1`, [count]);
  const owned = await client.query<{ id: string; email: string }>(
    `select t.id, u.email from experiment_templates t join users u on u.id = t.created_by
     where t.is_active order by md5(t.id::text || 'bench') limit $1`,
    [count * 4],
  );
  // Half the most used templates (thousands of experiments), half ordinary ones.
  const used = await client.query<{ id: string; email: string }>(
    `(select t.id, u.email from experiment_templates t join users u on u.id = t.created_by
      where t.is_active order by t.usage_count desc limit $1)
     union all
     (select t.id, u.email from experiment_templates t join users u on u.id = t.created_by
      where t.is_active and t.usage_count > 0 order by md5(t.id::text || 'bench') limit $1)`,
    [Math.ceil(count / 2)],
  );
  // A template newer than the category's 20th newest public one is on its owner's first page of that category.
  const ownersOnPage = await client.query<{ email: string; category: string }>(
    `with public_ranked as (
       select category, updated_at, id, row_number() over (partition by category order by updated_at desc, id desc) as n
       from experiment_templates where is_active and is_public
     ), twentieth_public as (select category, updated_at, id from public_ranked where n = 20)
     select u.email, t.category
     from experiment_templates t
     join users u on u.id = t.created_by
     left join twentieth_public p on p.category = t.category
     where t.is_active and (p.id is null or (t.updated_at, t.id) > (p.updated_at, p.id))
     group by u.email, t.category
     order by md5(u.email || t.category || 'bench') limit $1`,
    [count],
  );
  return {
    readers: readers.rows.map((row) => row.email),
    ownersOnPage: ownersOnPage.rows.map(({ email, category }) => ({ email, category: graphqlCategory(category) })),
    owned: owned.rows,
    used: used.rows,
  };
}

function graphqlCategory(stored: string): string {
  if (!isTemplateCategory(stored)) throw new Error(`unknown template category ${stored}`);
  return CATEGORIES.find((name) => TemplateCategory[name as keyof typeof TemplateCategory] === stored)!;
}

/** The operations measured, each with `count` variants drawn from the data set (same draw on every run). */
export async function buildOperations(databaseUrl: string, count: number): Promise<Operation[]> {
  const samples = await withClient(databaseUrl, (client) => sample(client, count));
  const tokens = new Map<string, string>();
  const emails = [...samples.readers, ...[...samples.ownersOnPage, ...samples.owned, ...samples.used].map((o) => o.email)];
  for (const email of new Set(emails)) tokens.set(email, await tokenFor(email));
  const as = (email: string, variables: Record<string, unknown>): Variant => ({ caller: { email, token: tokens.get(email)! }, variables });
  const scheduler = { email: SCHEDULER_EMAIL, token: await tokenFor(SCHEDULER_EMAIL, ['service']) };
  const readers = samples.readers;
  const page = (name: string, variants: Variant[], query = TEMPLATE_PAGE): Operation => ({
    name,
    kind: 'read',
    page: query === TEMPLATE_PAGE,
    query,
    pageSizeVariable: 'first',
    variants,
  });
  const readerPage = (name: string, build: (i: number) => Record<string, unknown>, query = TEMPLATE_PAGE): Operation =>
    page(
      name,
      readers.map((email, i) => as(email, { first: 20, ...build(i) })),
      query,
    );
  const categoryPage = (category: string) => ({ first: 20, filter: { categories: [category] } });

  const configuration = makeConfiguration(1);
  const errors: FieldError[] = [];
  parseConfiguration(JSON.parse(JSON.stringify(configuration).replaceAll(`"${COUNTER}"`, '1')), '', errors);
  if (errors.length > 0) throw new Error(`load configuration is invalid: ${JSON.stringify(errors)}`);

  return [
    {
      ...page(
        'templates by category, as an owner',
        samples.ownersOnPage.map(({ email, category }) => as(email, categoryPage(category))),
      ),
      costCase: 'A',
    },
    {
      ...page(
        'templates by category, anonymous',
        samples.ownersOnPage.map(({ category }) => ({ variables: categoryPage(category) })),
      ),
      costCase: 'B',
    },
    readerPage('templates by tag', (i) => ({ filter: { tags: { allOf: [TAG_VOCABULARY[i % 30]] } } })),
    readerPage('templates by text search', (i) => ({ filter: { search: SEARCH_TERMS[i % SEARCH_TERMS.length] } })),
    // The wizard's three most common filters on what a configuration holds.
    readerPage('templates by model type', (i) => ({
      filter: { configuration: { paths: [{ path: '/model/type', equals: MODEL_TYPES[i % MODEL_TYPES.length] }] } },
    })),
    readerPage('templates by framework', (i) => ({
      filter: { configuration: { paths: [{ path: '/model/framework', in: FRAMEWORK_CHOICES[i % FRAMEWORK_CHOICES.length] }] } },
    })),
    readerPage('templates by dataset format', (i) => ({
      filter: { configuration: { contains: { dataset: { format: DATASET_FORMATS[i % DATASET_FORMATS.length] } } } },
    })),
    readerPage('templates shared with me', () => ({ filter: { scope: 'SHARED_WITH_ME' } })),
    readerPage('templates by usage', () => ({ orderBy: { field: 'USAGE_COUNT' } })),
    readerPage('templates trending', () => ({ orderBy: { field: 'TRENDING' } })),
    // The last 12 weeks of each of a page of the most used templates, as a wizard's chart column.
    readerPage(
      'templates by usage with their weekly usage',
      () => ({ orderBy: { field: 'USAGE_COUNT' }, from: dayOf(Date.now() - 83 * 86_400_000), to: dayOf(Date.now()) }),
      TEMPLATE_PAGE_WITH_USAGE,
    ),
    {
      name: 'template usage by month over 12 months',
      kind: 'read',
      page: false,
      query: TEMPLATE_USAGE,
      // The busiest templates and ordinary ones (samples.used), as their owners see them.
      variants: samples.used.map(({ id, email }) =>
        as(email, {
          id,
          from: twelveMonthsBack(),
          to: dayOf(Date.now()),
        }),
      ),
    },
    readerPage(
      'templates by category + totalCount',
      (i) => ({ filter: { categories: [CATEGORIES[i % CATEGORIES.length]] } }),
      TEMPLATE_PAGE_WITH_TOTAL,
    ),
    {
      name: 'template with its 10 latest versions',
      costCase: 'C',
      kind: 'read',
      page: false,
      query: TEMPLATE_VERSIONS,
      variants: samples.owned.map(({ id, email }) => as(email, { id })),
    },
    {
      name: 'template detail (versions, shares)',
      kind: 'read',
      page: false,
      query: TEMPLATE_DETAIL,
      variants: samples.owned.map(({ id, email }) => as(email, { id })),
    },
    {
      name: 'experiments of a template',
      kind: 'read',
      page: false,
      query: TEMPLATE_EXPERIMENTS,
      pageSizeVariable: 'first',
      variants: samples.used.map(({ id, email }) => as(email, { id, first: 20 })),
    },
    {
      // Across every owner, oldest first: the partial index of the experiments in progress serves it.
      name: 'scheduler: queued and running experiments, oldest first',
      kind: 'read',
      page: false,
      query: EXPERIMENT_QUEUE,
      pageSizeVariable: 'first',
      variants: [
        { caller: scheduler, variables: { statuses: ['queued'], first: 20 } },
        { caller: scheduler, variables: { statuses: ['running'], first: 20 } },
      ],
    },
    {
      name: 'create template',
      costCase: 'D',
      kind: 'write',
      page: false,
      query: CREATE_TEMPLATE,
      variants: readers.map((email, i) =>
        as(email, {
          input: {
            name: `${LOAD_NAME_PREFIX} template ${COUNTER}`,
            description: 'Created by the load benchmark.',
            category: CATEGORIES[i % CATEGORIES.length],
            tags: [TAG_VOCABULARY[i % 20], TAG_VOCABULARY[(i * 7) % TAG_VOCABULARY.length]],
            configuration: makeConfiguration(i + 1),
          },
        }),
      ),
    },
    {
      // Every request changes the configuration, so every request writes a new version.
      name: 'update template',
      kind: 'write',
      page: false,
      query: UPDATE_TEMPLATE,
      variants: samples.owned.map(({ id, email }, i) =>
        as(email, { id, input: { configuration: makeConfiguration(i + 1) }, changeNote: `${LOAD_CHANGE_NOTE_PREFIX} ${COUNTER}` }),
      ),
    },
    {
      name: 'create experiment from template',
      kind: 'write',
      page: false,
      query: CREATE_EXPERIMENT,
      variants: samples.owned.map(({ id, email }) =>
        as(email, {
          input: { templateId: id, name: `${LOAD_NAME_PREFIX} experiment ${COUNTER}`, overrides: { parameters: { seed: COUNTER } } },
        }),
      ),
    },
  ];
}
