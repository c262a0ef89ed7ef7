import { randomUUID } from 'node:crypto';
import { GraphQLJSONObject } from '../graphql/json-object.scalar';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Entity, Enum, ManyToOne, PrimaryKey, Property, Unique, OptionalProps, type Rel } from '@mikro-orm/core';
import { User } from '../user/user.entity';
import { TemplateCategory } from './template-category';
import { ExperimentTemplate } from './template.entity';
import { LATEST_CONFIGURATION_SCHEMA_VERSION, type Configuration } from './configuration-schema';

/** One immutable snapshot of a template's content: the audit trail. */
@Entity({ tableName: 'experiment_template_versions' })
@ObjectType('TemplateVersion', { description: "An immutable snapshot of a template's content", simpleResolvers: true })
@Unique({ properties: ['template', 'version'] })
export class TemplateVersion {
  [OptionalProps]?: 'description' | 'tags' | 'configurationSchemaVersion' | 'createdBy' | 'createdAt' | 'changeNote';

  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => ExperimentTemplate, { fieldName: 'template_id', deleteRule: 'cascade' })
  template!: Rel<ExperimentTemplate>;

  @Field(() => Int)
  @Property({ type: 'integer' })
  version!: number;

  @Field(() => String)
  @Property({ type: 'varchar', length: 255 })
  name!: string;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Field(() => TemplateCategory)
  @Enum({ items: () => TemplateCategory, type: 'text' })
  category!: TemplateCategory;

  @Field(() => [String])
  @Property({ type: 'jsonb' })
  tags: string[] = [];

  @Field(() => GraphQLJSONObject)
  @Property({ type: 'jsonb' })
  configuration!: Configuration;

  @Field(() => Int, { description: 'The configuration schema version its configuration was validated against' })
  @Property({ type: 'smallint' })
  configurationSchemaVersion: number = LATEST_CONFIGURATION_SCHEMA_VERSION;

  @ManyToOne(() => User, { fieldName: 'created_by', nullable: true, deleteRule: 'set null' })
  createdBy?: Rel<User> | null;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  changeNote?: string | null;
}
