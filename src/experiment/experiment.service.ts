import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AuditAction } from '../audit/audit-action';
import type { AuditEntry, AuditLog } from '../audit/audit-log';
import { isService, isStaff, type Actor } from '../auth/actor';
import { withTransactionRetry } from '../db/transaction-retry';
import { SqlValues } from '../db/sql';
import { canonicalUuid } from '../db/uuid';
import { ConflictError, ConflictReason, ForbiddenError, NotFoundError, ValidationError, type FieldError } from '../errors/domain-error';
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
import { canMove, ExperimentStatus, ExperimentStatusTarget, isInProgress } from './experiment-status';
import { Experiment, type JsonObject } from './experiment.entity';
import { seesEveryExperiment } from './experiment-visibility';

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

export interface ExperimentDetailsInput {
  name?: unknown;
  description?: unknown;
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

/**
 * Who may make a change. Whoever the rule leaves out meets an experiment that does not exist (NOT_FOUND), or, with
 * `forbidden`, is told no (FORBIDDEN) when they may see it: the new lifecycle operations tell the owner, a service or
 * staff what their role does not allow, while the wizard's and analysis' older operations answer NOT_FOUND as before.
 */
interface Permission {
  may(actor: Actor, experiment: Experiment): boolean;
  /** The refusal to a caller who sees the experiment but may not make the change. */
  forbidden?: string;
}

const isOwner = (actor: Actor, experiment: Experiment) => experiment.owner.id === actor.userId;
const OWNER: Permission = { may: isOwner };
const OWNER_OR_SERVICE: Permission = { may: (actor, experiment) => isOwner(actor, experiment) || isService(actor) };
const OWNER_EDITS: Permission = { may: isOwner, forbidden: 'Only the owner may rename, describe or delete an experiment' };

/** Services run experiments; the owner and staff cancel them. The lifecycle then says whether the move is legal. */
const STATUS_MOVES: Record<ExperimentStatusTarget, Permission> = {
  [ExperimentStatusTarget.RUNNING]: { may: isService, forbidden: 'Only a service token starts an experiment' },
  [ExperimentStatusTarget.COMPLETED]: { may: isService, forbidden: 'Only a service token completes an experiment' },
  [ExperimentStatusTarget.FAILED]: { may: isService, forbidden: 'Only a service token fails an experiment' },
  [ExperimentStatusTarget.CANCELLED]: {
    may: (actor, experiment) => isOwner(actor, experiment) || isStaff(actor),
    forbidden: 'Only the owner or staff may cancel an experiment',
  },
};

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

    return this.changeExperiment(actor, id, async (experiment, em) => {
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
    return this.changeExperiment(actor, id, async (experiment, em) => {
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
    return this.changeExperiment(
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
      OWNER_OR_SERVICE,
    );
  }

  async recordTrainingTime(actor: Actor, id: string, seconds: unknown): Promise<Experiment> {
    const errors: FieldError[] = [];
    const actual = parseSeconds(seconds, '/actualTrainingSeconds', errors);
    if (actual === undefined && errors.length === 0) errors.push({ path: '/actualTrainingSeconds', message: 'is required' });
    throwIfInvalid(errors);
    return this.changeExperiment(
      actor,
      id,
      (experiment) => {
        const from = experiment.actualTrainingSeconds ?? null;
        if (from === actual) return null;
        experiment.actualTrainingSeconds = actual;
        return { action: AuditAction.EXPERIMENT_TRAINING_TIME_RECORDED, details: { from, to: actual } };
      },
      OWNER_OR_SERVICE,
    );
  }

  /** A new name or description, by the owner, of an experiment no service holds (not queued or running). */
  async updateDetails(actor: Actor, id: string, input: ExperimentDetailsInput): Promise<Experiment> {
    const errors: FieldError[] = [];
    const name = input.name === undefined ? undefined : parseName(input.name, '/name', errors);
    const description = input.description === undefined ? undefined : parseDescription(input.description, '/description', errors);
    throwIfInvalid(errors);
    return this.changeExperiment(
      actor,
      id,
      (experiment) => {
        refuseWhileInProgress(experiment, 'renamed or described');
        const changed: string[] = [];
        if (name !== undefined && name !== experiment.name) {
          experiment.name = name;
          changed.push('name');
        }
        if (description !== undefined && description !== experiment.description) {
          experiment.description = description;
          changed.push('description');
        }
        return changed.length === 0 ? null : { action: AuditAction.EXPERIMENT_UPDATED, details: { changed } };
      },
      OWNER_EDITS,
    );
  }

  /**
   * Deletes the owner's experiment, unless a service holds it (queued or running). Its template's usage count stays:
   * it counts the experiments created from the template. Its audit events stay, this deletion's among them.
   */
  async delete(actor: Actor, id: string): Promise<string> {
    return withTransactionRetry(this.em, async (em) => {
      const experiment = await this.lockVisible(em, actor, id, OWNER_EDITS);
      refuseWhileInProgress(experiment, 'deleted');
      await em.nativeDelete(Experiment, { id: experiment.id });
      await this.audit.record(em, actor, {
        action: AuditAction.EXPERIMENT_DELETED,
        subjectId: experiment.id,
        details: { name: experiment.name, status: experiment.status, templateId: experiment.template?.id ?? null },
      });
      return experiment.id;
    });
  }

  /**
   * One move of the lifecycle, under the row lock: who may make it (`STATUS_MOVES`), then whether the current status
   * allows it (CONFLICT with `currentStatus` otherwise: of two concurrent moves, the second meets the first's status).
   * Starting records `startedAt`; completing, failing and cancelling record `finishedAt`.
   */
  async changeStatus(actor: Actor, id: string, to: ExperimentStatusTarget): Promise<Experiment> {
    const permission = Object.hasOwn(STATUS_MOVES, to) ? STATUS_MOVES[to] : undefined;
    if (!permission) throw ValidationError.at('/to', 'is not a status an experiment moves to');
    return this.changeExperiment(
      actor,
      id,
      (experiment) => {
        const from = experiment.status;
        const target = to as string as ExperimentStatus;
        if (!canMove(from, target)) {
          throw new ConflictError(`An experiment that is ${from} cannot move to ${target}`, ConflictReason.StatusTransition, {
            currentStatus: from,
          });
        }
        experiment.status = target;
        if (target === ExperimentStatus.RUNNING) experiment.startedAt = new Date();
        else experiment.finishedAt = new Date();
        return { action: AuditAction.EXPERIMENT_STATUS_CHANGED, details: { from, to: target } };
      },
      permission,
    );
  }

  /**
   * Locks the experiment, applies `change` and records the event it describes; a change that changed nothing (null)
   * writes nothing, `updatedAt` included.
   */
  private async changeExperiment(
    actor: Actor,
    id: string,
    change: (experiment: Experiment, em: EntityManager) => ExperimentChange | Promise<ExperimentChange>,
    permission: Permission = OWNER,
  ): Promise<Experiment> {
    return withTransactionRetry(this.em, async (em) => {
      const experiment = await this.lockVisible(em, actor, id, permission);
      const event = await change(experiment, em);
      if (event) {
        experiment.updatedAt = new Date();
        await this.audit.record(em, actor, { ...event, subjectId: experiment.id });
      }
      return experiment;
    });
  }

  /**
   * The experiment, locked until the transaction ends, when `permission` lets the caller change it. One the caller
   * may not see (another owner's, for anyone but a service or staff) is NOT_FOUND, like an id nobody used.
   */
  private async lockVisible(em: EntityManager, actor: Actor, id: string, permission: Permission): Promise<Experiment> {
    const experimentId = canonicalUuid(id);
    if (!experimentId) throw new NotFoundError('Experiment');
    const experiment = await em.findOne(Experiment, { id: experimentId }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
    if (!experiment || !(isOwner(actor, experiment) || seesEveryExperiment(actor))) throw new NotFoundError('Experiment');
    if (permission.may(actor, experiment)) return experiment;
    if (permission.forbidden) throw new ForbiddenError(permission.forbidden);
    throw new NotFoundError('Experiment');
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

/** A queued or running experiment is a service's: its owner changes it only by cancelling it. */
function refuseWhileInProgress(experiment: Experiment, what: string): void {
  if (isInProgress(experiment.status)) {
    throw new ConflictError(`A ${experiment.status} experiment cannot be ${what}: cancel it first`, ConflictReason.ExperimentInProgress, {
      currentStatus: experiment.status,
    });
  }
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
