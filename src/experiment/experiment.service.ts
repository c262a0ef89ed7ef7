import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AuditAction } from '../audit/audit-action';
import type { AuditEntry, AuditLog } from '../audit/audit-log';
import { isService, type Actor } from '../auth/actor';
import { withTransactionRetry } from '../db/transaction-retry';
import { SqlValues } from '../db/sql';
import { canonicalUuid } from '../db/uuid';
import { ConflictError, ConflictReason, NotFoundError, type FieldError } from '../errors/domain-error';
import {
  CONFIGURATION_SECTIONS,
  LATEST_CONFIGURATION_SCHEMA_VERSION,
  type ConfigurationSchemaVersion,
  type ConfigurationSection,
} from '../template/configuration-schema';
import {
  isConfigurationSection,
  parseConfiguration,
  parseConfigurationOverrides,
  parseConfigurationSection,
  parseDraftConfiguration,
} from '../template/configuration-validator';
import { throwIfInvalid } from '../validation/field-errors';
import { sameJson } from '../validation/same-json';
import { parseStorableJson } from '../validation/storable';
import { parseDescription, parseName } from '../template/template-content';
import { findVisibleTemplates, visibleTemplates } from '../template/template-visibility';
import { ExperimentTemplate } from '../template/template.entity';
import { User } from '../user/user.entity';
import { mergeConfiguration } from './configuration-merge';
import { ExperimentStatus } from './experiment-status';
import { Experiment, type JsonObject } from './experiment.entity';

export interface CreateFromTemplateInput {
  templateId: string;
  name?: unknown;
  description?: unknown;
  overrides?: unknown;
  estimatedTrainingSeconds?: unknown;
}

export interface CreateFromScratchInput {
  name: unknown;
  description?: unknown;
  configuration?: unknown;
  estimatedTrainingSeconds?: unknown;
}

export interface WizardStepInput {
  step: unknown;
  state?: unknown;
  /** One section of the configuration this step edits, checked against its part of the schema. */
  section?: unknown;
  value?: unknown;
}

export const ANALYSIS_FIELDS = [
  'configurationMetadata',
  'datasetStatistics',
  'featureImportance',
  'modelRecommendations',
  'resourceRequirements',
] as const;
export type AnalysisField = (typeof ANALYSIS_FIELDS)[number];
export type AnalysisMetadataInput = Partial<Record<AnalysisField, unknown>> & { estimatedTrainingSeconds?: unknown };

export const MAX_WIZARD_STEP = 100;
const MAX_TRAINING_SECONDS = 10 * 365 * 24 * 3600;

interface UsedTemplateRow {
  id: string;
  version: number;
  configuration: JsonObject;
  configurationSchemaVersion: ConfigurationSchemaVersion;
  name: string;
}

/** What a change of an experiment did, for its audit event; null when it changed nothing. */
type ExperimentChange = Omit<AuditEntry, 'subjectId'> | null;

export class ExperimentService {
  constructor(
    private readonly em: EntityManager,
    private readonly audit: AuditLog,
  ) {}

  /**
   * Starts an experiment from a template: effective configuration = template merged with overrides, template id and
   * version recorded, and the template's usage counted by one atomic increment in the same transaction. The
   * increment's row lock also pins the version read with it; a rejected creation rolls the count back.
   */
  async createFromTemplate(actor: Actor, input: CreateFromTemplateInput): Promise<Experiment> {
    const errors: FieldError[] = [];
    const description = parseDescription(input.description, '/description', errors);
    const name = input.name === undefined ? undefined : parseName(input.name, '/name', errors);
    const estimated = parseSeconds(input.estimatedTrainingSeconds, '/estimatedTrainingSeconds', errors);
    const overrides = input.overrides ?? {};
    if (input.overrides !== undefined && input.overrides !== null) {
      parseConfigurationOverrides(overrides, '/overrides', errors);
    }
    throwIfInvalid(errors);

    return withTransactionRetry(this.em, async (em) => {
      const createdAt = new Date();
      const template = await this.countUse(em, actor, input.templateId, createdAt);
      const configuration = mergeConfiguration(template.configuration, overrides as JsonObject);
      const invalid: FieldError[] = [];
      parseConfiguration(configuration, '/overrides', invalid, template.configurationSchemaVersion);
      throwIfInvalid(invalid);
      const experiment = em.create(Experiment, {
        name: name ?? template.name,
        description,
        configuration,
        owner: em.getReference(User, actor.userId),
        template: em.getReference(ExperimentTemplate, template.id),
        templateVersion: template.version,
        resourceRequirements: resourcesOf(configuration),
        estimatedTrainingSeconds: estimated ?? null,
        createdAt,
        updatedAt: createdAt,
      });
      await this.audit.record(em, actor, {
        action: AuditAction.EXPERIMENT_CREATED,
        subjectId: experiment.id,
        details: { name: experiment.name, templateId: template.id, templateVersion: template.version },
      });
      return experiment;
    });
  }

  /** A draft without a template: present sections must be valid, missing ones are filled in by the wizard. */
  async createFromScratch(actor: Actor, input: CreateFromScratchInput): Promise<Experiment> {
    const errors: FieldError[] = [];
    const name = parseName(input.name, '/name', errors);
    const description = parseDescription(input.description, '/description', errors);
    const estimated = parseSeconds(input.estimatedTrainingSeconds, '/estimatedTrainingSeconds', errors);
    const configuration = input.configuration ?? {};
    parseDraftConfiguration(configuration, '/configuration', errors);
    throwIfInvalid(errors);
    return withTransactionRetry(this.em, async (em) => {
      const experiment = em.create(Experiment, {
        name: name!,
        description,
        configuration: configuration,
        owner: em.getReference(User, actor.userId),
        estimatedTrainingSeconds: estimated ?? null,
      });
      await this.audit.record(em, actor, {
        action: AuditAction.EXPERIMENT_CREATED,
        subjectId: experiment.id,
        details: { name: experiment.name, templateId: null, templateVersion: null },
      });
      return experiment;
    });
  }

  /** Saves where the wizard is and what it holds; the furthest step reached is kept. */
  async saveWizardStep(actor: Actor, id: string, input: WizardStepInput): Promise<Experiment> {
    const errors: FieldError[] = [];
    const step = input.step;
    if (typeof step !== 'number' || !Number.isInteger(step) || step < 0 || step > MAX_WIZARD_STEP) {
      errors.push({ path: '/step', message: `must be an integer from 0 to ${MAX_WIZARD_STEP}` });
    }
    if (input.state !== undefined && input.state !== null) parseJsonObject(input.state, '/state', errors);
    let section: ConfigurationSection | undefined;
    if (input.section !== undefined && input.section !== null) {
      if (!isConfigurationSection(input.section)) {
        errors.push({ path: '/section', message: `must be one of: ${CONFIGURATION_SECTIONS.join(', ')}` });
      } else {
        section = input.section;
      }
    }
    // A section's value is checked at the experiment's schema version, known once it is read: its problems and the
    // others are then reported together.
    if (!section) throwIfInvalid(errors);

    return this.changeOwned(actor, id, async (experiment, em) => {
      if (section) {
        parseConfigurationSection(section, input.value, '/value', errors, await schemaVersionOf(em, experiment), '/section');
        throwIfInvalid(errors);
      }
      if (experiment.wizardCompleted) {
        throw new ConflictError('The wizard is already completed for this experiment', ConflictReason.WizardCompleted, {
          currentStatus: experiment.status,
        });
      }
      const changed: string[] = [];
      if ((step as number) > experiment.wizardStepCompleted) {
        experiment.wizardStepCompleted = step as number;
        changed.push('wizardStepCompleted');
      }
      const state = (input.state as JsonObject | null | undefined) ?? null;
      if (input.state !== undefined && !sameJson(experiment.wizardState ?? null, state)) {
        experiment.wizardState = state;
        changed.push('wizardState');
      }
      if (section && !sameJson(experiment.configuration[section], input.value)) {
        experiment.configuration = { ...experiment.configuration, [section]: input.value };
        changed.push(`configuration/${section}`);
      }
      if (changed.length === 0) return null;
      return { action: AuditAction.EXPERIMENT_WIZARD_SAVED, details: { wizardStepCompleted: experiment.wizardStepCompleted, changed } };
    });
  }

  /**
   * Finishes the wizard: the whole configuration must now be valid (at its schema version); the draft is queued and its
   * resource requirements, when nothing wrote any yet, are the configuration's `resources`.
   */
  async completeWizard(actor: Actor, id: string): Promise<Experiment> {
    return this.changeOwned(actor, id, async (experiment, em) => {
      if (experiment.wizardCompleted) return null;
      const invalid: FieldError[] = [];
      parseConfiguration(experiment.configuration, '/configuration', invalid, await schemaVersionOf(em, experiment));
      throwIfInvalid(invalid, 'The configuration is not complete');
      experiment.wizardCompleted = true;
      // What the analysis service wrote stands; otherwise the requirements start from what the configuration states.
      if (Object.keys(experiment.resourceRequirements).length === 0)
        experiment.resourceRequirements = resourcesOf(experiment.configuration);
      // Older rows may hold another status, which completing the wizard leaves as it is.
      if (experiment.status !== (ExperimentStatus.DRAFT as string)) {
        return { action: AuditAction.EXPERIMENT_WIZARD_COMPLETED, details: { status: experiment.status } };
      }
      experiment.status = ExperimentStatus.QUEUED;
      return {
        action: AuditAction.EXPERIMENT_STATUS_CHANGED,
        details: { from: ExperimentStatus.DRAFT, to: ExperimentStatus.QUEUED, wizardCompleted: true },
      };
    });
  }

  /** Analysis results from the owner or a service: each field given replaces the stored one. */
  async writeAnalysisMetadata(actor: Actor, id: string, input: AnalysisMetadataInput): Promise<Experiment> {
    const errors: FieldError[] = [];
    const given = ANALYSIS_FIELDS.filter((field) => input[field] !== undefined);
    for (const field of given) parseJsonObject(input[field], `/${field}`, errors);
    const estimated = parseSeconds(input.estimatedTrainingSeconds, '/estimatedTrainingSeconds', errors);
    if (given.length === 0 && input.estimatedTrainingSeconds === undefined) {
      errors.push({ path: '', message: 'must give at least one field' });
    }
    throwIfInvalid(errors);
    return this.changeOwned(
      actor,
      id,
      (experiment) => {
        const changed: string[] = [];
        for (const field of given) {
          if (sameJson(experiment[field], input[field])) continue;
          experiment[field] = input[field] as JsonObject;
          changed.push(field);
        }
        if (estimated !== undefined && experiment.estimatedTrainingSeconds !== estimated) {
          experiment.estimatedTrainingSeconds = estimated;
          changed.push('estimatedTrainingSeconds');
        }
        return changed.length === 0 ? null : { action: AuditAction.EXPERIMENT_ANALYSIS_WRITTEN, details: { changed } };
      },
      { allowService: true },
    );
  }

  async recordTrainingTime(actor: Actor, id: string, seconds: unknown): Promise<Experiment> {
    const errors: FieldError[] = [];
    const actual = parseSeconds(seconds, '/actualTrainingSeconds', errors);
    if (actual === undefined && errors.length === 0) errors.push({ path: '/actualTrainingSeconds', message: 'is required' });
    throwIfInvalid(errors);
    return this.changeOwned(
      actor,
      id,
      (experiment) => {
        const from = experiment.actualTrainingSeconds ?? null;
        if (from === actual) return null;
        experiment.actualTrainingSeconds = actual;
        return { action: AuditAction.EXPERIMENT_TRAINING_TIME_RECORDED, details: { from, to: actual } };
      },
      { allowService: true },
    );
  }

  /**
   * Locks the experiment, applies `change` and records the event it describes; a change that changed nothing (null)
   * writes nothing, `updatedAt` included.
   */
  private async changeOwned(
    actor: Actor,
    id: string,
    change: (experiment: Experiment, em: EntityManager) => ExperimentChange | Promise<ExperimentChange>,
    options: { allowService?: boolean } = {},
  ): Promise<Experiment> {
    const experimentId = canonicalUuid(id);
    if (!experimentId) throw new NotFoundError('Experiment');
    return withTransactionRetry(this.em, async (em) => {
      const experiment = await em.findOne(Experiment, { id: experimentId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      const allowed = experiment && (experiment.owner.id === actor.userId || (options.allowService && isService(actor)));
      if (!experiment || !allowed) throw new NotFoundError('Experiment');
      const event = await change(experiment, em);
      if (event) {
        experiment.updatedAt = new Date();
        await this.audit.record(em, actor, { ...event, subjectId: experiment.id });
      }
      return experiment;
    });
  }

  /**
   * Counts one use everywhere usage is kept, in one statement: the template's total and TRENDING count, and its
   * experiments on the UTC day of `createdAt` (the experiment's own creation time, so that the series counts what the
   * experiments' `created_at` says, as the migration's backfill did).
   */
  private async countUse(em: EntityManager, actor: Actor, templateId: string, createdAt: Date): Promise<UsedTemplateRow> {
    const id = canonicalUuid(templateId);
    if (!id) throw new NotFoundError('Template');
    const values = new SqlValues('question');
    const where = `t.id = ${values.bind(id)} and t.is_active and ${visibleTemplates('t', actor, values)}`;
    const day = `(${values.bind(createdAt.toISOString())}::timestamptz at time zone 'utc')::date`;
    const [used] = await em.execute<UsedTemplateRow[]>(
      `with used as (
         update experiment_templates t
           set usage_count = t.usage_count + 1, trending_count = t.trending_count + 1, last_used = now()
         where ${where}
         returning t.id, t.version, t.configuration, t.configuration_schema_version as "configurationSchemaVersion", t.name
       ), daily as (
         insert into template_usage_daily as d (template_id, day, experiments)
         select used.id, ${day}, 1 from used
         on conflict (template_id, day) do update set experiments = d.experiments + 1
       )
       select * from used`,
      values.values,
    );
    if (used) return used;
    const [template] = await findVisibleTemplates(em, actor, [id]);
    if (!template) throw new NotFoundError('Template');
    throw new ConflictError('Template is inactive and cannot start new experiments', ConflictReason.TemplateInactive);
  }
}

/**
 * The schema version an experiment's configuration is checked against: the one its template version was validated
 * against, so that templates behind the latest stay usable; the latest for an experiment without a template (made
 * from scratch, or whose template was deleted).
 */
async function schemaVersionOf(em: EntityManager, experiment: Experiment): Promise<ConfigurationSchemaVersion> {
  const templateId = experiment.template?.id;
  if (!templateId || experiment.templateVersion == null) return LATEST_CONFIGURATION_SCHEMA_VERSION;
  const [row] = await em.execute<Array<{ configurationSchemaVersion: ConfigurationSchemaVersion }>>(
    `select configuration_schema_version as "configurationSchemaVersion" from experiment_template_versions
     where template_id = ? and version = ?`,
    [templateId, experiment.templateVersion],
  );
  return row?.configurationSchemaVersion ?? LATEST_CONFIGURATION_SCHEMA_VERSION;
}

/** The requirements a configuration states (`resources`, since schema version 2): a copy, or none. */
function resourcesOf(configuration: JsonObject): JsonObject {
  const resources = configuration.resources;
  return typeof resources === 'object' && resources !== null && !Array.isArray(resources) ? structuredClone(resources as JsonObject) : {};
}

function parseSeconds(value: unknown, path: string, errors: FieldError[]): number | null | undefined {
  if (value === undefined || value === null) return value;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > MAX_TRAINING_SECONDS) {
    errors.push({ path, message: `must be a number of seconds from 0 to ${MAX_TRAINING_SECONDS}` });
    return undefined;
  }
  return value;
}

/** A JSON object for a jsonb column: storable and within the size limit (see src/validation/storable.ts). */
function parseJsonObject(value: unknown, path: string, errors: FieldError[]): JsonObject | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push({ path, message: 'must be an object' });
    return undefined;
  }
  return parseStorableJson(value as JsonObject, path, errors);
}
