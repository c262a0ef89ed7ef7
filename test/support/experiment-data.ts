import { TemplateService, type CreateTemplateInput } from '../../src/template/template.service';
import type { Api } from './api';
import { templateInput, validConfiguration, type TestUser } from './factories';

/** A template made the way the API makes them (version 1 and its snapshot), through the service. */
export async function createTemplate(
  api: Api,
  owner: TestUser,
  input: Partial<CreateTemplateInput> = {},
): Promise<{ id: string; name: string }> {
  const template = await new TemplateService(api.orm.em.fork()).create(owner, templateInput(input));
  return { id: template.id, name: template.name };
}

export async function usageOf(api: Api, templateId: string): Promise<{ usage_count: number; last_used: Date | null }> {
  const [row] = await api.db.query('select usage_count, last_used from experiment_templates where id = $1', [templateId]);
  return row as { usage_count: number; last_used: Date | null };
}

export interface TemplateRows {
  ownerId: string;
  count: number;
  category?: string;
  isPublic?: boolean;
  /** Every template gets snapshots 1..version. */
  version?: number;
}

/** Many templates at once, with SQL: for data whose creation is not what a test is about. */
export async function insertTemplates(api: Api, rows: TemplateRows): Promise<string[]> {
  const inserted = await api.db.query<{ id: string }>(
    `insert into experiment_templates (name, category, configuration, version, created_by, is_public)
     select 'Template ' || n, $2, $3, $4, $1, $5 from generate_series(1, $6) n
     returning id`,
    [rows.ownerId, rows.category ?? 'classification', validConfiguration(), rows.version ?? 1, rows.isPublic ?? false, rows.count],
  );
  const ids = inserted.map((row) => row.id);
  await api.db.query(
    `insert into experiment_template_versions (template_id, version, name, category, configuration, created_by)
     select t.id, v, t.name, t.category, t.configuration, t.created_by
     from experiment_templates t cross join generate_series(1, t.version) v
     where t.id = any($1::uuid[])`,
    [ids],
  );
  return ids;
}

export interface ExperimentRow {
  ownerId: string;
  name?: string;
  templateId?: string | null;
  templateVersion?: number | null;
  status?: string;
  wizardCompleted?: boolean;
  /** An SQL timestamptz literal; defaults to now(). */
  createdAt?: string;
}

/** Experiments with SQL; returns their ids in the order given. Rows without `createdAt` share one now(). */
export async function insertExperiments(api: Api, rows: ExperimentRow[]): Promise<string[]> {
  const inserted = await api.db.query<{ id: string }>(
    `insert into ml_experiments (name, owner_id, template_id, template_version, status, wizard_completed, configuration, created_at)
     select r.name, r.owner_id, r.template_id, r.template_version, r.status, r.wizard_completed, $2, coalesce(r.created_at, now())
     from jsonb_to_recordset($1::jsonb) as r(
       name text, owner_id uuid, template_id uuid, template_version int, status text, wizard_completed boolean, created_at timestamptz)
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
          created_at: row.createdAt ?? null,
        })),
      ),
      validConfiguration(),
    ],
  );
  return inserted.map((row) => row.id);
}
