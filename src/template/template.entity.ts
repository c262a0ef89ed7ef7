import { randomUUID } from 'node:crypto';
import { Collection, Entity, Enum, ManyToMany, ManyToOne, PrimaryKey, Property, OptionalProps, type Rel } from '@mikro-orm/core';
import { User } from '../user/user.entity';
import { TemplateCategory } from './template-category';
import { TemplateShare } from './template-share.entity';
import type { Configuration } from './configuration-schema';

@Entity({ tableName: 'experiment_templates' })
export class ExperimentTemplate {
  [OptionalProps]?: 'description' | 'tags' | 'version' | 'isActive' | 'isPublic' | 'usageCount' | 'lastUsed' | 'createdAt' | 'updatedAt';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @Property({ type: 'varchar', length: 255 })
  name!: string;

  @Property({ type: 'text', nullable: true })
  description: string | null = null;

  @Enum({ items: () => TemplateCategory, type: 'text' })
  category!: TemplateCategory;

  @Property({ type: 'jsonb' })
  tags: string[] = [];

  @Property({ type: 'jsonb' })
  configuration!: Configuration;

  /** Content version: bumped only by an explicit conditional UPDATE in the service, never by the ORM. */
  @Property({ type: 'integer' })
  version: number = 1;

  @Property({ type: 'boolean' })
  isActive: boolean = true;

  @ManyToOne(() => User, { fieldName: 'created_by', deleteRule: 'cascade' })
  createdBy!: Rel<User>;

  @Property({ type: 'boolean' })
  isPublic: boolean = false;

  @Property({ type: 'integer' })
  usageCount: number = 0;

  @Property({ type: 'timestamptz', nullable: true })
  lastUsed?: Date | null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'timestamptz' })
  updatedAt: Date = new Date();

  @ManyToMany({ entity: () => User, pivotEntity: () => TemplateShare, joinColumn: 'template_id', inverseJoinColumn: 'user_id' })
  sharedWith = new Collection<User>(this);
}
