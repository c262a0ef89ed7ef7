import { randomUUID } from 'node:crypto';
import { Entity, Enum, ManyToOne, PrimaryKey, Property, Unique, OptionalProps, type Rel } from '@mikro-orm/core';
import { User } from '../user/user.entity';
import { TemplateCategory } from './template-category';
import { ExperimentTemplate } from './template.entity';
import type { Configuration } from './configuration-schema';

/** One immutable snapshot of a template's content: the audit trail. */
@Entity({ tableName: 'experiment_template_versions' })
@Unique({ properties: ['template', 'version'] })
export class TemplateVersion {
  [OptionalProps]?: 'description' | 'tags' | 'createdBy' | 'createdAt' | 'changeNote';

  @PrimaryKey({ type: 'uuid' })
  id: string = randomUUID();

  @ManyToOne(() => ExperimentTemplate, { fieldName: 'template_id', deleteRule: 'cascade' })
  template!: Rel<ExperimentTemplate>;

  @Property({ type: 'integer' })
  version!: number;

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

  @ManyToOne(() => User, { fieldName: 'created_by', nullable: true, deleteRule: 'set null' })
  createdBy?: Rel<User> | null;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();

  @Property({ type: 'text', nullable: true })
  changeNote?: string | null;
}
