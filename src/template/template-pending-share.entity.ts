import { Field, ObjectType } from 'type-graphql';
import { Entity, ManyToOne, OptionalProps, Property, type Rel } from '@mikro-orm/core';
import { User } from '../user/user.entity';
import { ExperimentTemplate } from './template.entity';

/**
 * A share addressed to an email nobody it may stand for has signed in with yet: it becomes a share when a user with that
 * address is first written (src/template/template-pending-shares.ts). Written and read with SQL; the entity keeps the
 * ORM's picture of the schema whole and is the GraphQL type.
 */
@Entity({ tableName: 'template_pending_shares' })
@ObjectType('PendingShare', { description: 'A share with an email address nobody has signed in with yet', simpleResolvers: true })
export class TemplatePendingShare {
  [OptionalProps]?: 'invitedBy' | 'invitedAt';

  @ManyToOne(() => ExperimentTemplate, { primary: true, fieldName: 'template_id', deleteRule: 'cascade' })
  template!: Rel<ExperimentTemplate>;

  @Field(() => String, { description: 'Lower-cased: the address a user must sign in with, verified, to get the share' })
  @Property({ type: 'text', primary: true })
  email!: string;

  @ManyToOne(() => User, { fieldName: 'invited_by', nullable: true, deleteRule: 'set null' })
  invitedBy?: Rel<User> | null;

  @Field(() => Date, { description: 'When it was shared' })
  @Property({ type: 'timestamptz', fieldName: 'created_at' })
  invitedAt: Date = new Date();
}
