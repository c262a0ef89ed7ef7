import { randomUUID } from 'node:crypto';
import { GraphQLJSONObject } from '../graphql/json-object.scalar';
import { Field, ID, Int, ObjectType } from 'type-graphql';
import { Collection, Entity, Enum, ManyToMany, ManyToOne, PrimaryKey, Property, OptionalProps, type Rel } from '@mikro-orm/core';
import { User } from '../user/user.entity';
import { TemplateCategory } from './template-category';
import { TemplateShare } from './template-share.entity';
import { LATEST_CONFIGURATION_SCHEMA_VERSION, type Configuration } from './configuration-schema';

@Entity({ tableName: 'experiment_templates' })
@ObjectType('Template', { description: 'A reusable experiment configuration', simpleResolvers: true })
export class ExperimentTemplate {
  [OptionalProps]?:
    | 'description'
    | 'tags'
    | 'configurationSchemaVersion'
    | 'version'
    | 'isActive'
    | 'isPublic'
    | 'usageCount'
    | 'lastUsed'
    | 'createdAt'
    | 'updatedAt';

  @Field(() => ID)
  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Field(() => String)
  @Property({ type: 'varchar', length: 255 })
  name!: string;

  @Field(() => String, { nullable: true })
  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Field(() => TemplateCategory)
  @Enum({ items: () => TemplateCategory, type: 'text' })
  category!: TemplateCategory;

  @Field(() => [String], { description: 'Normalised: lower-case, dashes for spaces, no duplicates' })
  @Property({ type: 'jsonb' })
  tags: string[] = [];

  @Field(() => GraphQLJSONObject, { description: 'Valid at `configurationSchemaVersion`' })
  @Property({ type: 'jsonb' })
  configuration!: Configuration;

  @Field(() => Int, {
    description:
      'The configuration schema version its configuration was validated against: the latest unless it predates it. Experiments made from it are validated against it; `upgradeTemplateSchema` (or any change of content) brings it to the latest',
  })
  @Property({ type: 'smallint' })
  configurationSchemaVersion: number = LATEST_CONFIGURATION_SCHEMA_VERSION;

  /**
   * Content version: raised only by TemplateService while it holds the row lock. A plain column on purpose: an ORM
   * optimistic-lock property would also be bumped by every usage increment.
   */
  @Field(() => Int, { description: 'Content version: raised by one by every change of content' })
  @Property({ type: 'integer' })
  version: number = 1;

  @Field(() => Boolean)
  @Property({ type: 'boolean' })
  isActive: boolean = true;

  @ManyToOne(() => User, { fieldName: 'created_by', deleteRule: 'cascade' })
  createdBy!: Rel<User>;

  @Field(() => Boolean)
  @Property({ type: 'boolean' })
  isPublic: boolean = false;

  @Field(() => Int, { description: 'Experiments created from this template' })
  @Property({ type: 'integer' })
  usageCount: number = 0;

  @Field(() => Date, { nullable: true, description: 'When an experiment was last created from it' })
  @Property({ type: 'timestamptz', nullable: true })
  lastUsed?: Date | null;

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Field(() => Date)
  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();

  @ManyToMany({ entity: () => User, pivotEntity: () => TemplateShare, joinColumn: 'template_id', inverseJoinColumn: 'user_id' })
  sharedWith = new Collection<User>(this);
}
