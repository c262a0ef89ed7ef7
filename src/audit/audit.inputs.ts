import { ArgsType, Field, ID, InputType } from 'type-graphql';
import { PageArgs } from '../graphql/connection';
import { AuditAction } from './audit-action';
import type { AuditEventFilter as Filter } from './audit-list';

@InputType({ description: 'Narrows the audit events; filters given are combined with AND' })
export class AuditEventFilter implements Filter {
  @Field(() => ID, { nullable: true, description: 'Events about this template, experiment or team (deleted ones too)' })
  subjectId?: string | null;

  @Field(() => ID, { nullable: true, description: 'Events of this user (as a user, a service or staff)' })
  actorId?: string | null;

  @Field(() => [AuditAction], { nullable: true, description: 'Any of these actions; an empty list filters nothing' })
  actions?: AuditAction[] | null;

  @Field(() => Date, { nullable: true, description: 'Events at or after this time' })
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: 'Events before this time' })
  to?: Date | null;
}

@ArgsType()
export class AuditEventsArgs extends PageArgs {
  @Field(() => AuditEventFilter, { nullable: true })
  filter?: AuditEventFilter | null;
}
