import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { isService, requireActor, type Actor } from '../auth/actor';
import { jsonProblems } from '../db/storable';
import { withTransactionRetry } from '../db/transaction-retry';
import { isUuid } from '../db/uuid';
import { ConflictError, NotFoundError, ValidationError, nestErrors, type FieldError } from '../errors/domain-error';
import type { ConfigurationSection } from '../template/configuration-schema';
import {
  MAX_CONFIGURATION_BYTES,
  isConfigurationSection,
  validateConfiguration,
  validateConfigurationSection,
  validateDraftConfiguration,
} from '../template/configuration-validator';
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
  name: string;
}

export class ExperimentService {
  constructor(private readonly em: EntityManager) {}

  /** The experiment if `actor` owns it (or is a service), else null. */
  async findVisible(actor: Actor | null, id: string): Promise<Experiment | null> {
    if (!actor || !isUuid(id)) return null;
    const experiment = await this.em.findOne(Experiment, { id });
    if (!experiment) return null;
    return experiment.owner.id === actor.userId || isService(actor) ? experiment : null;
  }

  /**
   * Starts an experiment from a template: effective configuration = template merged with overrides, template id and
   * version recorded, and the template's usage counted by one atomic increment in the same transaction. The
   * increment's row lock also pins the version read with it; a rejected creation rolls the count back.
   */
  async createFromTemplate(actorOrNull: Actor | null, input: CreateFromTemplateInput): Promise<Experiment> {
    const actor = requireActor(actorOrNull);
    const errors: FieldError[] = [];
    const description = parseDescription(input.description, errors);
    const name = input.name === undefined ? undefined : parseName(input.name, errors);
    const estimated = parseSeconds(input.estimatedTrainingSeconds, '/estimatedTrainingSeconds', errors);
    const overrides = input.overrides ?? {};
    if (input.overrides !== undefined && input.overrides !== null) {
      errors.push(...nestErrors('/overrides', checkOverridesShape(overrides)));
    }
    if (errors.length > 0) throw new ValidationError(errors);

    return withTransactionRetry(this.em, async (em) => {
      const template = await this.countUse(em, actor, input.templateId);
      const configuration = mergeConfiguration(template.configuration, overrides as JsonObject);
      const invalid = validateConfiguration(configuration);
      if (invalid.length > 0) throw new ValidationError(nestErrors('/overrides', invalid));
      return em.create(Experiment, {
        name: name ?? template.name,
        description,
        configuration,
        owner: em.getReference(User, actor.userId),
        template: em.getReference(ExperimentTemplate, template.id),
        templateVersion: template.version,
        estimatedTrainingSeconds: estimated ?? null,
      });
    });
  }

  /** A draft without a template: present sections must be valid, missing ones are filled in by the wizard. */
  async createFromScratch(actorOrNull: Actor | null, input: CreateFromScratchInput): Promise<Experiment> {
    const actor = requireActor(actorOrNull);
    const errors: FieldError[] = [];
    const name = parseName(input.name, errors);
    const description = parseDescription(input.description, errors);
    const estimated = parseSeconds(input.estimatedTrainingSeconds, '/estimatedTrainingSeconds', errors);
    const configuration = input.configuration ?? {};
    errors.push(...nestErrors('/configuration', validateDraftConfiguration(configuration)));
    if (errors.length > 0) throw new ValidationError(errors);
    return withTransactionRetry(this.em, async (em) =>
      em.create(Experiment, {
        name: name!,
        description,
        configuration: configuration,
        owner: em.getReference(User, actor.userId),
        estimatedTrainingSeconds: estimated ?? null,
      }),
    );
  }

  /** Saves where the wizard is and what it holds; the furthest step reached is kept. */
  async saveWizardStep(actor: Actor | null, id: string, input: WizardStepInput): Promise<Experiment> {
    const errors: FieldError[] = [];
    const step = input.step;
    if (typeof step !== 'number' || !Number.isInteger(step) || step < 0 || step > MAX_WIZARD_STEP) {
      errors.push({ path: '/step', message: `must be an integer from 0 to ${MAX_WIZARD_STEP}` });
    }
    if (input.state !== undefined && input.state !== null) checkJsonObject(input.state, '/state', errors);
    let section: ConfigurationSection | undefined;
    if (input.section !== undefined && input.section !== null) {
      if (typeof input.section !== 'string' || !isConfigurationSection(input.section)) {
        errors.push({ path: '/section', message: 'must be one of: dataset, features, model, parameters, validation' });
      } else {
        section = input.section;
        errors.push(...nestErrors('/value', validateConfigurationSection(section, input.value).map(withoutSection(section))));
      }
    }
    if (errors.length > 0) throw new ValidationError(errors);

    return this.changeOwned(actor, id, (experiment) => {
      if (experiment.wizardCompleted) throw new ConflictError('The wizard is already completed for this experiment');
      experiment.wizardStepCompleted = Math.max(experiment.wizardStepCompleted, step as number);
      if (input.state !== undefined) experiment.wizardState = (input.state as JsonObject | null) ?? null;
      if (section) experiment.configuration = { ...experiment.configuration, [section]: input.value };
    });
  }

  /** Finishes the wizard: the whole configuration must now be valid; the draft is queued. */
  async completeWizard(actor: Actor | null, id: string): Promise<Experiment> {
    return this.changeOwned(actor, id, (experiment) => {
      if (experiment.wizardCompleted) return;
      const invalid = validateConfiguration(experiment.configuration);
      if (invalid.length > 0) throw new ValidationError(nestErrors('/configuration', invalid), 'The configuration is not complete');
      experiment.wizardCompleted = true;
      if (experiment.status === (ExperimentStatus.DRAFT as string)) experiment.status = ExperimentStatus.QUEUED;
    });
  }

  /** Analysis results from the owner or a service: each field given replaces the stored one. */
  async writeAnalysisMetadata(actor: Actor | null, id: string, input: AnalysisMetadataInput): Promise<Experiment> {
    const errors: FieldError[] = [];
    const given = ANALYSIS_FIELDS.filter((field) => input[field] !== undefined);
    for (const field of given) checkJsonObject(input[field], `/${field}`, errors);
    const estimated = parseSeconds(input.estimatedTrainingSeconds, '/estimatedTrainingSeconds', errors);
    if (given.length === 0 && input.estimatedTrainingSeconds === undefined) {
      errors.push({ path: '', message: 'must give at least one field' });
    }
    if (errors.length > 0) throw new ValidationError(errors);
    return this.changeOwned(
      actor,
      id,
      (experiment) => {
        for (const field of given) experiment[field] = input[field] as JsonObject;
        if (estimated !== undefined) experiment.estimatedTrainingSeconds = estimated;
      },
      { allowService: true },
    );
  }

  async recordTrainingTime(actor: Actor | null, id: string, seconds: unknown): Promise<Experiment> {
    const errors: FieldError[] = [];
    const actual = parseSeconds(seconds, '/actualTrainingSeconds', errors);
    if (actual === undefined && errors.length === 0) errors.push({ path: '/actualTrainingSeconds', message: 'is required' });
    if (errors.length > 0) throw new ValidationError(errors);
    return this.changeOwned(
      actor,
      id,
      (experiment) => {
        experiment.actualTrainingSeconds = actual;
      },
      { allowService: true },
    );
  }

  private async changeOwned(
    actorOrNull: Actor | null,
    id: string,
    change: (experiment: Experiment) => void,
    options: { allowService?: boolean } = {},
  ): Promise<Experiment> {
    const actor = requireActor(actorOrNull);
    if (!isUuid(id)) throw new NotFoundError('Experiment');
    return withTransactionRetry(this.em, async (em) => {
      const experiment = await em.findOne(Experiment, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
      const allowed = experiment && (experiment.owner.id === actor.userId || (options.allowService && isService(actor)));
      if (!experiment || !allowed) throw new NotFoundError('Experiment');
      change(experiment);
      experiment.updatedAt = new Date();
      return experiment;
    });
  }

  private async countUse(em: EntityManager, actor: Actor, templateId: string): Promise<UsedTemplateRow> {
    if (!isUuid(templateId)) throw new NotFoundError('Template');
    const visible = visibleTemplates('t', actor);
    const [used] = await em.execute<UsedTemplateRow[]>(
      `update experiment_templates t
         set usage_count = t.usage_count + 1, last_used = now()
       where t.id = ? and t.is_active and ${visible.sql}
       returning t.id, t.version, t.configuration, t.name`,
      [templateId, ...visible.params],
    );
    if (used) return used;
    const [template] = await findVisibleTemplates(em, actor, [templateId]);
    if (!template) throw new NotFoundError('Template');
    throw new ConflictError('Template is inactive and cannot start new experiments', { reason: 'TEMPLATE_INACTIVE' });
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

const MAX_METADATA_BYTES = 256 * 1024;

/** A JSON object for a jsonb column: storable (no NUL, no lone surrogates, bounded nesting; see src/db/storable.ts) and within the size limit. */
function checkJsonObject(value: unknown, path: string, errors: FieldError[]): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push({ path, message: 'must be an object' });
    return;
  }
  const unstorable = jsonProblems(value, path);
  if (unstorable.length > 0) errors.push(...unstorable);
  else if (Buffer.byteLength(JSON.stringify(value)) > MAX_METADATA_BYTES) {
    errors.push({ path, message: `must be at most ${MAX_METADATA_BYTES} bytes of JSON` });
  }
}

/**
 * Overrides are partial by nature (`{ model: { hyperparameters: { maxDepth: 4 } } }` keeps the template's model type),
 * so they cannot be held to the section schemas on their own: only their shape is checked here, an object of known
 * sections within the size limit. The merged configuration is then validated in full, with paths under `/overrides`.
 */
function checkOverridesShape(overrides: unknown): FieldError[] {
  if (typeof overrides !== 'object' || overrides === null || Array.isArray(overrides)) {
    return [{ path: '', message: 'must be object' }];
  }
  // Before anything walks it recursively (JSON.stringify here, the merge after): see src/db/storable.ts.
  const unstorable = jsonProblems(overrides);
  if (unstorable.length > 0) return unstorable;
  const bytes = Buffer.byteLength(JSON.stringify(overrides));
  if (bytes > MAX_CONFIGURATION_BYTES) {
    return [{ path: '', message: `must be at most ${MAX_CONFIGURATION_BYTES} bytes of JSON (got ${bytes})` }];
  }
  return Object.keys(overrides)
    .filter((key) => !isConfigurationSection(key))
    .map((key) => ({ path: `/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`, message: 'is not an allowed property' }));
}

/** Section errors point into the configuration (`/model/type`); for a step's `value` they point into the value. */
function withoutSection(section: ConfigurationSection) {
  return (error: FieldError): FieldError => ({ ...error, path: error.path.slice(section.length + 1) });
}
