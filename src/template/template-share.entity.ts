import { Entity, ManyToOne, Property, OptionalProps, type Rel } from '@mikro-orm/core';
import { User } from '../user/user.entity';
import { ExperimentTemplate } from './template.entity';

@Entity({ tableName: 'experiment_template_shares' })
export class TemplateShare {
  [OptionalProps]?: 'sharedBy' | 'sharedAt';

  @ManyToOne(() => ExperimentTemplate, { primary: true, fieldName: 'template_id', deleteRule: 'cascade' })
  template!: Rel<ExperimentTemplate>;

  @ManyToOne(() => User, { primary: true, fieldName: 'user_id', deleteRule: 'cascade' })
  user!: Rel<User>;

  @ManyToOne(() => User, { fieldName: 'shared_by', nullable: true, deleteRule: 'set null' })
  sharedBy?: Rel<User> | null;

  @Property({ type: 'timestamptz' })
  sharedAt: Date = new Date();
}
