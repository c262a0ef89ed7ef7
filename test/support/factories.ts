import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Role } from '../../src/auth/actor';
import { createServices, type Services } from '../../src/graphql/context';
import { LATEST_CONFIGURATION_SCHEMA_VERSION, type Configuration } from '../../src/template/configuration-schema';
import { TemplateCategory } from '../../src/template/template-category';
import type { CreateTemplateInput } from '../../src/template/template.service';
import { dataOf, type Api } from './api';

// ---------------------------------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------------------------------

/**
 * A user of the tests, made by `api.user()` (the server learns of them through their first authenticated request).
 * The same value serves as the caller of a request (`token`) and as the `Actor` a service takes (`userId`, `roles`).
 */
export interface TestUser {
  id: string;
  /** The same as `id`: what a service reads of its caller. */
  userId: string;
  /** Tessera's roles, as the server maps the token's (`admin` is staff by default). */
  roles: Role[];
  email: string;
  token: string;
}

// ---------------------------------------------------------------------------------------------------------------
// Services, for tests below the API
// ---------------------------------------------------------------------------------------------------------------

/**
 * The services one request gets, on `em` (by default a fresh fork: the request's own identity map), recording their
 * audit events under a request id of their own.
 */
export function services(api: Pick<Api, 'orm'>, em: EntityManager = api.orm.em.fork(), requestId: string = randomUUID()): Services {
  return createServices(em, requestId);
}

// ---------------------------------------------------------------------------------------------------------------
// Input
// ---------------------------------------------------------------------------------------------------------------

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

/** A template as the service takes it (category as stored: lower case). */
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

/** A tag no other test uses: filtering on it keeps a test to its own rows, public ones of other tests included. */
export function uniqueTag(prefix = 'test'): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Templates
// ---------------------------------------------------------------------------------------------------------------

export interface CreatedTemplate {
  id: string;
  name: string;
  version: number;
}

/** A template made through the service (version 1 and its snapshot), for tests below the API. */
export async function createTemplateViaService(
  api: Api,
  owner: TestUser,
  input: Partial<CreateTemplateInput> = {},
): Promise<CreatedTemplate> {
  const template = await services(api).templates.create(owner, templateInput(input));
  return { id: template.id, name: template.name, version: template.version };
}

export const CREATE_TEMPLATE = /* GraphQL */ `
  mutation Create($input: CreateTemplateInput!) {
    createTemplate(input: $input) {
      id
      name
      version
      isPublic
      isActive
      tags
      owner {
        id
      }
    }
  }
`;

/**
 * A template made through the API, the way clients make them, with `templateInput()`'s content; `input` is GraphQL's
 * (category as the enum's name: 'CLASSIFICATION').
 */
export async function createTemplateViaApi(
  api: Pick<Api, 'graphql'>,
  owner: TestUser,
  input: Record<string, unknown> = {},
): Promise<CreatedTemplate> {
  const defaults = templateInput();
  const response = await api.graphql(CREATE_TEMPLATE, {
    as: owner,
    variables: { input: { ...defaults, category: String(defaults.category).toUpperCase(), ...input } },
  });
  const { id, name, version } = dataOf(response).createTemplate;
  return { id, name, version };
}

export interface TemplateRow {
  ownerId: string;
  name?: string;
  description?: string | null;
  category?: string;
  tags?: string[];
  isPublic?: boolean;
  isActive?: boolean;
  /** Its current version: it gets snapshots 1..version, all with its content. Default 1. */
  version?: number;
  usageCount?: number;
  /** SQL timestamptz literals; `lastUsed` null means never used. Defaults: now(), null. */
  lastUsed?: string | null;
  createdAt?: string;
  updatedAt?: string;
  /** Users it is shared with. */
  sharedWith?: string[];
  /** Default: `validConfiguration()`. */
  configuration?: object;
  /** Of the template and all its snapshots, as rows from before a schema version have it. Default: the latest. */
  configurationSchemaVersion?: number;
}

/**
 * Templates straight into the tables, for data whose creation is not what a test is about: each gets its snapshots
 * and its shares. Returns the ids in the order given.
 */
export async function insertTemplates(api: Api, rows: TemplateRow[]): Promise<string[]> {
  const ids = rows.map(() => randomUUID());
  await api.db.query(
    `insert into experiment_templates
       (id, name, description, category, tags, configuration, configuration_schema_version, version, created_by, is_public, is_active,
        usage_count, last_used, created_at, updated_at)
     select id, name, description, category, tags, coalesce(configuration, $2), coalesce(configuration_schema_version, $3), version,
            created_by, is_public, is_active, usage_count, last_used, coalesce(created_at, now()), coalesce(updated_at, now())
     from jsonb_to_recordset($1::jsonb) as r(
       id uuid, name text, description text, category text, tags jsonb, configuration jsonb, configuration_schema_version smallint,
       version int, created_by uuid, is_public boolean, is_active boolean, usage_count int, last_used timestamptz,
       created_at timestamptz, updated_at timestamptz)`,
    [
      JSON.stringify(
        rows.map((row, index) => ({
          id: ids[index],
          name: row.name ?? `Template ${index + 1}`,
          description: row.description ?? null,
          category: row.category ?? 'classification',
          tags: row.tags ?? [],
          configuration: row.configuration ?? null,
          configuration_schema_version: row.configurationSchemaVersion ?? null,
          version: row.version ?? 1,
          created_by: row.ownerId,
          is_public: row.isPublic ?? false,
          is_active: row.isActive ?? true,
          usage_count: row.usageCount ?? 0,
          last_used: row.lastUsed ?? null,
          created_at: row.createdAt ?? null,
          updated_at: row.updatedAt ?? null,
        })),
      ),
      validConfiguration(),
      LATEST_CONFIGURATION_SCHEMA_VERSION,
    ],
  );
  await api.db.query(
    `insert into experiment_template_versions
       (template_id, version, name, description, category, tags, configuration, configuration_schema_version, created_by)
     select t.id, v, t.name, t.description, t.category, t.tags, t.configuration, t.configuration_schema_version, t.created_by
     from experiment_templates t cross join generate_series(1, t.version) v
     where t.id = any($1::uuid[])`,
    [ids],
  );
  const shares = rows.flatMap((row, index) => (row.sharedWith ?? []).map((userId) => ({ template_id: ids[index], user_id: userId })));
  if (shares.length > 0) {
    await api.db.query(
      `insert into experiment_template_shares (template_id, user_id, shared_by)
       select s.template_id, s.user_id, t.created_by
       from jsonb_to_recordset($1::jsonb) as s(template_id uuid, user_id uuid)
       join experiment_templates t on t.id = s.template_id`,
      [JSON.stringify(shares)],
    );
  }
  return ids;
}

/** How often a template was used, as stored, with its version and last edit (counting a use is not an edit). */
/** The content columns of a template's snapshot at `version`, as stored. */
export async function snapshotContent(api: Api, templateId: string, version: number): Promise<Record<string, unknown>> {
  const [row] = await api.db.query(
    'select name, description, category, tags, configuration from experiment_template_versions where template_id = $1 and version = $2',
    [templateId, version],
  );
  return row;
}

export async function usageOf(
  api: Api,
  templateId: string,
): Promise<{ usage_count: number; last_used: Date | null; version: number; updated_at: Date }> {
  const [row] = await api.db.query<{ usage_count: number; last_used: Date | null; version: number; updated_at: Date }>(
    'select usage_count, last_used, version, updated_at from experiment_templates where id = $1',
    [templateId],
  );
  return row;
}

/** The ids of one `templates` page, with its page info (and the total unless `withTotal` is false), for a caller. */
export async function listIds(
  api: Api,
  as: TestUser | null,
  args: { filter?: unknown; orderBy?: unknown; first?: number; after?: string | null } = {},
  { withTotal = true } = {},
): Promise<{ ids: string[]; hasNextPage: boolean; endCursor: string | null; totalCount?: number }> {
  const response = await api.graphql(
    `query List($filter: TemplateFilter, $orderBy: TemplateOrder, $first: Int, $after: String) {
       templates(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
         edges { cursor node { id } }
         pageInfo { hasNextPage endCursor }
         ${withTotal ? 'totalCount' : ''}
       }
     }`,
    { as, variables: { first: 100, ...args } },
  );
  const { templates } = dataOf(response);
  return {
    ids: templates.edges.map((edge: { node: { id: string } }) => edge.node.id),
    hasNextPage: templates.pageInfo.hasNextPage,
    endCursor: templates.pageInfo.endCursor,
    totalCount: templates.totalCount,
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Experiments
// ---------------------------------------------------------------------------------------------------------------

export interface ExperimentRow {
  ownerId: string;
  name?: string;
  templateId?: string | null;
  templateVersion?: number | null;
  status?: string;
  wizardCompleted?: boolean;
  /** Default: `validConfiguration()`. */
  configuration?: object;
  /** An ISO timestamp; defaults to now(). */
  createdAt?: string;
}

/** Experiments with SQL; returns their ids in the order given. Rows without `createdAt` share one now(). */
export async function insertExperiments(api: Api, rows: ExperimentRow[]): Promise<string[]> {
  const inserted = await api.db.query<{ id: string }>(
    `insert into ml_experiments (name, owner_id, template_id, template_version, status, wizard_completed, configuration, created_at)
     select r.name, r.owner_id, r.template_id, r.template_version, r.status, r.wizard_completed, coalesce(r.configuration, $2),
            coalesce(r.created_at, now())
     from jsonb_to_recordset($1::jsonb) as r(
       name text, owner_id uuid, template_id uuid, template_version int, status text, wizard_completed boolean, configuration jsonb,
       created_at timestamptz)
     returning id`,
    [
      JSON.stringify(
        rows.map((row, index) => ({
          name: row.name ?? `Experiment ${index + 1}`,
          owner_id: row.ownerId,
          template_id: row.templateId ?? null,
          template_version: row.templateVersion ?? (row.templateId ? 1 : null),
          status: row.status ?? 'draft',
          wizard_completed: row.wizardCompleted ?? false,
          configuration: row.configuration ?? null,
          created_at: row.createdAt ?? null,
        })),
      ),
      validConfiguration(),
    ],
  );
  return inserted.map((row) => row.id);
}

// ---------------------------------------------------------------------------------------------------------------
// Audit events
// ---------------------------------------------------------------------------------------------------------------

/** An audit event as stored (action as stored too: `template.shared`). */
export interface StoredAuditEvent {
  id: string;
  action: string;
  actorId: string;
  actorKind: string;
  subjectType: string;
  subjectId: string;
  requestId: string;
  details: Record<string, any>;
  occurredAt: Date;
}

/** A subject's audit events as stored, in the order they were written. */
export async function auditEventsOf(api: Pick<Api, 'db'>, subjectId: string): Promise<StoredAuditEvent[]> {
  return api.db.query<StoredAuditEvent & Record<string, unknown>>(
    `select id, action, actor_id as "actorId", actor_kind as "actorKind", subject_type as "subjectType", subject_id as "subjectId",
            request_id as "requestId", details, occurred_at as "occurredAt"
     from audit_events where subject_id = $1 order by occurred_at, id`,
    [subjectId],
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Assertions
// ---------------------------------------------------------------------------------------------------------------

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
