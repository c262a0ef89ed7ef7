import type { Experiment } from './experiment.entity';

/**
 * An experiment as reads return it: a plain object of its columns. The entities mutations return fit it too, so one
 * set of field resolvers serves both.
 */
export type ExperimentRecord = Omit<Experiment, 'owner' | 'template'> & {
  owner: { id: string };
  template?: { id: string } | null;
};

/** Every column of an ExperimentRecord over alias `e`; intervals as seconds, as the entity maps them. */
export const EXPERIMENT_COLUMNS =
  'e.id, e.name, e.description, e.status, e.configuration, e.owner_id as "ownerId", e.template_id as "templateId", ' +
  'e.template_version as "templateVersion", e.created_at as "createdAt", e.updated_at as "updatedAt", ' +
  'e.configuration_metadata as "configurationMetadata", e.dataset_statistics as "datasetStatistics", ' +
  'e.feature_importance as "featureImportance", e.model_recommendations as "modelRecommendations", ' +
  'e.resource_requirements as "resourceRequirements", e.wizard_completed as "wizardCompleted", ' +
  'e.wizard_step_completed as "wizardStepCompleted", e.wizard_state as "wizardState", ' +
  'extract(epoch from e.estimated_training_time)::float8 as "estimatedTrainingSeconds", ' +
  'extract(epoch from e.actual_training_time)::float8 as "actualTrainingSeconds"';

export type ExperimentRow = Omit<ExperimentRecord, 'owner' | 'template'> & { ownerId: string; templateId: string | null };

/** The experiment in a row selected with `EXPERIMENT_COLUMNS` (other columns of the row are left out). */
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
  };
}
