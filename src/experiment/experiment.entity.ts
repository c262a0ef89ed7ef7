import { randomUUID } from 'node:crypto';
import { GraphQLJSONObject } from '../graphql/json-object.scalar';
import { Field, Float, ID, Int, ObjectType } from 'type-graphql';
import { Entity, ManyToOne, PrimaryKey, Property, OptionalProps, type Rel } from '@mikro-orm/core';
import { IntervalSecondsType } from '../db/interval-seconds.type';
import { ExperimentTemplate } from '../template/template.entity';
import { User } from '../user/user.entity';
import { ExperimentStatus } from './experiment-status';

export type JsonObject = Record<string, unknown>;

@Entity({ tableName: 'ml_experiments' })
@ObjectType('Experiment', { description: 'An ML experiment, possibly created from a template', simpleResolvers: true })
export class Experiment {
  [OptionalProps]?:
    | 'description'
    | 'status'
    | 'configuration'
    | 'createdAt'
    | 'updatedAt'
    | 'template'
    | 'templateVersion'
    | 'configurationMetadata'
    | 'datasetStatistics'
    | 'featureImportance'
    | 'modelRecommendations'
    | 'resourceRequirements'
    | 'wizardCompleted'
    | 'wizardStepCompleted'
    | 'wizardState'
    | 'estimatedTrainingSeconds'
    | 'actualTrainingSeconds'
    | 'startedAt'
    | 'finishedAt';

  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Field(() => String)
  @Property({ type: 'varchar', length: 255 })
  name!: string;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Field(() => String, {
    description:
      'draft, queued, running, completed, failed, cancelled (older rows may hold others, which stay as they are: no move leaves them)',
  })
  @Property({ type: 'varchar', length: 32 })
  status: string = ExperimentStatus.DRAFT;

  @Field(() => GraphQLJSONObject)
  @Property({ type: 'jsonb' })
  configuration: JsonObject = {};

  @ManyToOne(() => User, { fieldName: 'owner_id', deleteRule: 'cascade' })
  owner!: Rel<User>;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();

  // Added by the template extension; rows older than it read back the defaults.

  @ManyToOne(() => ExperimentTemplate, { fieldName: 'template_id', nullable: true, deleteRule: 'set null' })
  template?: Rel<ExperimentTemplate> | null;

  @Field(() => Int, { nullable: true, description: 'The template version this experiment was created from' })
  @Property({ type: 'integer', nullable: true })
  templateVersion?: number | null;

  @Field(() => GraphQLJSONObject)
  @Property({ type: 'jsonb' })
  configurationMetadata: JsonObject = {};

  @Field(() => GraphQLJSONObject)
  @Property({ type: 'jsonb' })
  datasetStatistics: JsonObject = {};

  @Field(() => GraphQLJSONObject)
  @Property({ type: 'jsonb' })
  featureImportance: JsonObject = {};

  @Field(() => GraphQLJSONObject)
  @Property({ type: 'jsonb' })
  modelRecommendations: JsonObject = {};

  @Field(() => GraphQLJSONObject)
  @Property({ type: 'jsonb' })
  resourceRequirements: JsonObject = {};

  @Field(() => Boolean)
  @Property({ type: 'boolean' })
  wizardCompleted: boolean = false;

  @Field(() => Int, { description: 'The furthest wizard step reached' })
  @Property({ type: 'integer' })
  wizardStepCompleted: number = 0;

  @Field(() => GraphQLJSONObject, { nullable: true })
  @Property({ type: 'jsonb', nullable: true })
  wizardState?: JsonObject | null;

  @Field(() => Float, { nullable: true })
  @Property({ type: IntervalSecondsType, nullable: true, fieldName: 'estimated_training_time' })
  estimatedTrainingSeconds?: number | null;

  @Field(() => Float, { nullable: true })
  @Property({ type: IntervalSecondsType, nullable: true, fieldName: 'actual_training_time' })
  actualTrainingSeconds?: number | null;

  // Written by the status moves: when a service started it, and when it completed, failed or was cancelled.

  @Field(() => Date, { nullable: true, description: 'When a service moved it to running; null until then' })
  @Property({ type: 'timestamptz', nullable: true })
  startedAt?: Date | null;

  @Field(() => Date, { nullable: true, description: 'When it completed, failed or was cancelled; null until then' })
  @Property({ type: 'timestamptz', nullable: true })
  finishedAt?: Date | null;
}
