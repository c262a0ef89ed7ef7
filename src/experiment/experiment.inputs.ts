import { GraphQLJSON } from 'graphql-scalars';
import { GraphQLJSONObject } from '../graphql/json-object.scalar';
import { JsonFilterInput } from '../graphql/json-filter.inputs';
import { Field, Float, ID, InputType, Int } from 'type-graphql';
import type { ConfigurationSection } from '../template/configuration-schema';
import { ConfigurationSectionEnum } from '../template/configuration.types';
import { TemplateCategory } from '../template/template-category';
import type { ExperimentFilter } from './experiment-list';
import type { Experiment, JsonObject } from './experiment.entity';
import type { AnalysisMetadataInput as AnalysisMetadata, WizardStepInput } from './experiment.service';

// JSON payloads stay loosely typed here: ExperimentService checks them and reports every problem with its path.

@InputType('ExperimentFilter', { description: "Narrows the caller's experiments; filters given are combined with AND" })
export class ExperimentFilterInput implements ExperimentFilter {
  @Field(() => ID, { nullable: true, description: 'The template it was made from, while the caller may see it' })
  templateId?: string | null;

  @Field(() => TemplateCategory, { nullable: true, description: 'The category of the template, while the caller may see it' })
  templateCategory?: TemplateCategory | null;

  @Field(() => String, { nullable: true })
  status?: string | null;

  @Field(() => Boolean, { nullable: true })
  wizardCompleted?: boolean | null;

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
