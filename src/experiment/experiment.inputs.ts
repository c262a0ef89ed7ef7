import { GraphQLJSON } from 'graphql-scalars';
import { GraphQLJSONObject } from '../graphql/json-object.scalar';
import { JsonFilterInput } from '../graphql/json-filter.inputs';
import { Field, Float, ID, InputType, Int, registerEnumType } from 'type-graphql';
import { OrderDirection } from '../db/keyset';
import { SEARCH_MAX_LENGTH } from '../db/text-search';
import type { ConfigurationSection } from '../template/configuration-schema';
import { ConfigurationSectionEnum } from '../template/configuration.types';
import { TemplateCategory } from '../template/template-category';
import { ExperimentOrderField, type ExperimentFilter, type TimeRange } from './experiment-list';
import { ExperimentStatusTarget } from './experiment-status';
import type { Experiment, JsonObject } from './experiment.entity';
import type { AnalysisMetadataInput as AnalysisMetadata, ExperimentDetailsInput, WizardStepInput } from './experiment.service';

registerEnumType(ExperimentOrderField, {
  name: 'ExperimentOrderField',
  description: 'What to sort experiments by; ties are broken by id',
  valuesConfig: { STATUS: { description: 'By the stored status text, alphabetically' } },
});

registerEnumType(ExperimentStatusTarget, {
  name: 'ExperimentStatusTarget',
  description:
    'Where `changeExperimentStatus` moves an experiment: a service token moves queued to RUNNING and running to COMPLETED or ' +
    'FAILED; the owner or staff move queued or running to CANCELLED. A draft is queued by `completeWizard`.',
});

// JSON payloads stay loosely typed here: ExperimentService checks them and reports every problem with its path.

@InputType('TimeRange', { description: 'A span of time: `from` inclusive, `to` exclusive; either may be left out' })
export class TimeRangeInput implements TimeRange {
  @Field(() => Date, { nullable: true, description: 'At or after this time' })
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Before this time' })
  to?: Date | null;
}

@InputType('ExperimentFilter', {
  description:
    "Narrows the experiments the caller may see (their own; every owner's for a service token or staff); filters given are combined with AND",
})
export class ExperimentFilterInput implements ExperimentFilter {
  @Field(() => ID, { nullable: true, description: 'The template it was made from, while the caller may see it' })
  templateId?: string | null;

  @Field(() => [ID], {
    nullable: true,
    description: 'Any of these templates, among those the caller may see; an empty list filters nothing. At most 100',
  })
  templateIds?: string[] | null;

  @Field(() => TemplateCategory, { nullable: true, description: 'The category of the template, while the caller may see it' })
  templateCategory?: TemplateCategory | null;

  @Field(() => String, { nullable: true, deprecationReason: 'Use `statuses`, which takes one or more' })
  status?: string | null;

  @Field(() => [String], {
    nullable: true,
    description: "Any of these statuses (older rows may hold others than the lifecycle's); an empty list filters nothing. At most 20",
  })
  statuses?: string[] | null;

  @Field(() => Boolean, { nullable: true })
  wizardCompleted?: boolean | null;

  @Field(() => TimeRangeInput, { nullable: true, description: 'When it was created' })
  createdAt?: TimeRangeInput | null;

  @Field(() => TimeRangeInput, { nullable: true, description: 'When it last changed' })
  updatedAt?: TimeRangeInput | null;

  @Field(() => String, {
    nullable: true,
    description: `Case-insensitive text found in the name or description, at most ${SEARCH_MAX_LENGTH} characters`,
  })
  search?: string | null;

  @Field(() => ID, {
    nullable: true,
    description: "The owner's experiments, for a service token or staff; anyone else only ever lists their own",
  })
  ownerId?: string | null;

  @Field(() => JsonFilterInput, { nullable: true, description: 'What the configuration holds' })
  configuration?: JsonFilterInput | null;

  @Field(() => JsonFilterInput, { nullable: true, description: 'What the configuration metadata written by analysis holds' })
  configurationMetadata?: JsonFilterInput | null;

  @Field(() => JsonFilterInput, { nullable: true, description: 'What the dataset statistics hold' })
  datasetStatistics?: JsonFilterInput | null;

  @Field(() => JsonFilterInput, { nullable: true, description: 'What the feature importance holds' })
  featureImportance?: JsonFilterInput | null;

  @Field(() => JsonFilterInput, { nullable: true, description: 'What the model recommendations hold' })
  modelRecommendations?: JsonFilterInput | null;

  @Field(() => JsonFilterInput, { nullable: true, description: 'What the resource requirements hold' })
  resourceRequirements?: JsonFilterInput | null;
}

@InputType({ description: 'Sort order of an experiment list' })
export class ExperimentOrder {
  @Field(() => ExperimentOrderField, { defaultValue: ExperimentOrderField.CREATED_AT })
  field?: ExperimentOrderField;

  @Field(() => OrderDirection, { nullable: true, description: 'Default: ascending for NAME and STATUS, descending for the others' })
  direction?: OrderDirection | null;
}

@InputType({ description: 'An experiment from a template: its configuration merged with the overrides' })
export class CreateExperimentFromTemplateInput implements Partial<Experiment> {
  @Field(() => ID)
  templateId!: string;

  @Field(() => String, { nullable: true, description: "Defaults to the template's name" })
  name?: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'Objects merge recursively into the template configuration; scalars and arrays replace',
  })
  overrides?: JsonObject | null;

  @Field(() => Float, { nullable: true })
  estimatedTrainingSeconds?: number | null;
}

@InputType({ description: 'A draft experiment without a template; sections left out are filled in by the wizard' })
export class CreateExperimentInput implements Partial<Experiment> {
  @Field(() => String, { description: '1 to 255 characters' })
  name!: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'A partial configuration: sections given must be valid' })
  configuration?: JsonObject;

  @Field(() => Float, { nullable: true })
  estimatedTrainingSeconds?: number | null;
}

@InputType({ description: 'A new name or description: fields left out stay as they are; a null description clears it' })
export class UpdateExperimentInput implements ExperimentDetailsInput {
  @Field(() => String, { nullable: true, description: '1 to 255 characters' })
  name?: string;

  @Field(() => String, { nullable: true })
  description?: string | null;
}

@InputType({ description: 'Where the wizard is, what it holds, and optionally one configuration section it edited' })
export class SaveWizardStepInput implements WizardStepInput {
  @Field(() => Int, { description: 'The step just completed; the furthest step reached is kept' })
  step!: number;

  @Field(() => GraphQLJSONObject, { nullable: true, description: "The wizard's own state; null clears it, absent keeps it" })
  state?: JsonObject | null;

  @Field(() => ConfigurationSectionEnum, { nullable: true })
  section?: ConfigurationSection | null;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The new value of `section`, checked against its part of the schema' })
  value?: unknown;
}

@InputType({ description: 'Analysis results; each field given replaces the stored one' })
export class AnalysisMetadataInput implements AnalysisMetadata {
  @Field(() => GraphQLJSONObject, { nullable: true })
  configurationMetadata?: JsonObject;

  @Field(() => GraphQLJSONObject, { nullable: true })
  datasetStatistics?: JsonObject;

  @Field(() => GraphQLJSONObject, { nullable: true })
  featureImportance?: JsonObject;

  @Field(() => GraphQLJSONObject, { nullable: true })
  modelRecommendations?: JsonObject;

  @Field(() => GraphQLJSONObject, { nullable: true })
  resourceRequirements?: JsonObject;

  @Field(() => Float, { nullable: true })
  estimatedTrainingSeconds?: number | null;
}
