import type { Experiment } from './experiment.entity';

/** The JSON documents of an experiment (kilobytes each on older rows), read only when a query selects them. */
export const EXPERIMENT_DOCUMENTS = {
  configuration: 'e.configuration',
  configurationMetadata: 'e.configuration_metadata',
  datasetStatistics: 'e.dataset_statistics',
  featureImportance: 'e.feature_importance',
  modelRecommendations: 'e.model_recommendations',
  resourceRequirements: 'e.resource_requirements',
  wizardState: 'e.wizard_state',
} as const;

export type ExperimentDocument = keyof typeof EXPERIMENT_DOCUMENTS;

export const EXPERIMENT_DOCUMENT_FIELDS = Object.keys(EXPERIMENT_DOCUMENTS) as ExperimentDocument[];

/**
 * An experiment as reads return it: a plain object of its columns, its documents only when selected. The entities
 * mutations return fit it too, so one set of field resolvers serves both.
 */
export type ExperimentRecord = Omit<Experiment, 'owner' | 'template' | ExperimentDocument> &
  Partial<Pick<Experiment, ExperimentDocument>> & {
    owner: { id: string };
    template?: { id: string } | null;
  };

const SCALAR_COLUMNS =
  'e.id, e.name, e.description, e.status, e.owner_id as "ownerId", e.template_id as "templateId", ' +
  'e.template_version as "templateVersion", e.created_at as "createdAt", e.updated_at as "updatedAt", ' +
  'e.wizard_completed as "wizardCompleted", e.wizard_step_completed as "wizardStepCompleted", ' +
  'extract(epoch from e.estimated_training_time)::float8 as "estimatedTrainingSeconds", ' +
  'extract(epoch from e.actual_training_time)::float8 as "actualTrainingSeconds", ' +
  'e.started_at as "startedAt", e.finished_at as "finishedAt"';

/** The columns of an ExperimentRecord over alias `e` with `documents`; intervals as seconds, as the entity maps them. */
export function experimentColumns(documents: readonly ExperimentDocument[]): string {
  return [SCALAR_COLUMNS, ...documents.map((field) => `${EXPERIMENT_DOCUMENTS[field]} as "${field}"`)].join(', ');
}

export type ExperimentRow = Omit<ExperimentRecord, 'owner' | 'template'> & { ownerId: string; templateId: string | null };

/** The experiment in a row selected with `experimentColumns` (other columns of the row are left out). */
export function experimentOf(row: ExperimentRow): ExperimentRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    status: row.status,
    configuration: row.configuration,
    owner: { id: row.ownerId },
    template: row.templateId === null ? null : { id: row.templateId },
    templateVersion: row.templateVersion,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    configurationMetadata: row.configurationMetadata,
    datasetStatistics: row.datasetStatistics,
    featureImportance: row.featureImportance,
    modelRecommendations: row.modelRecommendations,
    resourceRequirements: row.resourceRequirements,
    wizardCompleted: row.wizardCompleted,
    wizardStepCompleted: row.wizardStepCompleted,
    wizardState: row.wizardState,
    estimatedTrainingSeconds: row.estimatedTrainingSeconds,
    actualTrainingSeconds: row.actualTrainingSeconds,
    startedAt: row.startedAt,
    finishedAt: row.finishedAt,
  };
}
