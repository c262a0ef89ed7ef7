import { randomUUID } from 'node:crypto';
import { Entity, ManyToOne, PrimaryKey, Property, OptionalProps, type Rel } from '@mikro-orm/core';
import { IntervalSecondsType } from '../db/interval-seconds.type';
import { ExperimentTemplate } from '../template/template.entity';
import { User } from '../user/user.entity';
import { ExperimentStatus } from './experiment-status';

export type JsonObject = Record<string, unknown>;

@Entity({ tableName: 'ml_experiments' })
export class Experiment {
  [OptionalProps]?: 'description' | 'status' | 'configuration' | 'createdAt' | 'updatedAt' | 'template' | 'templateVersion' | 'configurationMetadata' | 'datasetStatistics' | 'featureImportance' | 'modelRecommendations' | 'resourceRequirements' | 'wizardCompleted' | 'wizardStepCompleted' | 'wizardState' | 'estimatedTrainingSeconds' | 'actualTrainingSeconds';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'varchar', length: 255 })
  name!: string;

  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Property({ type: 'varchar', length: 32 })
  status: string = ExperimentStatus.Draft;

  @Property({ type: 'jsonb' })
  configuration: JsonObject = {};

  @ManyToOne(() => User, { fieldName: 'owner_id', deleteRule: 'cascade' })
  owner!: Rel<User>;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();

  // Added by the template extension; rows older than it read back the defaults.

  @ManyToOne(() => ExperimentTemplate, { fieldName: 'template_id', nullable: true, deleteRule: 'set null' })
  template?: Rel<ExperimentTemplate> | null;

  @Property({ type: 'integer', nullable: true })
  templateVersion?: number | null;

  @Property({ type: 'jsonb' })
  configurationMetadata: JsonObject = {};

  @Property({ type: 'jsonb' })
  datasetStatistics: JsonObject = {};

  @Property({ type: 'jsonb' })
  featureImportance: JsonObject = {};

  @Property({ type: 'jsonb' })
  modelRecommendations: JsonObject = {};

  @Property({ type: 'jsonb' })
  resourceRequirements: JsonObject = {};

  @Property({ type: 'boolean' })
  wizardCompleted: boolean = false;

  @Property({ type: 'integer' })
  wizardStepCompleted: number = 0;

  @Property({ type: 'jsonb', nullable: true })
  wizardState?: JsonObject | null;

  @Property({ type: IntervalSecondsType, nullable: true, fieldName: 'estimated_training_time' })
  estimatedTrainingSeconds?: number | null;

  @Property({ type: IntervalSecondsType, nullable: true, fieldName: 'actual_training_time' })
  actualTrainingSeconds?: number | null;
}
