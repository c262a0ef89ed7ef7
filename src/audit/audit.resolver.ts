import type { GraphQLResolveInfo } from 'graphql';
import { Args, Authorized, Ctx, FieldResolver, Info, Query, Resolver, Root } from 'type-graphql';
import { Role } from '../auth/actor';
import { connectionOf, ConnectionType, type Connection } from '../graphql/connection';
import type { Context } from '../graphql/context';
import { selectsField, selectsPath } from '../graphql/selection';
import { User } from '../user/user.entity';
import type { UserRecord } from '../user/user-rows';
import { AuditEvent } from './audit-event.type';
import { listAuditEvents } from './audit-list';
import type { AuditEventRecord } from './audit-rows';
import { AuditEventsArgs } from './audit.inputs';

export const AuditEventConnection = ConnectionType(AuditEvent, 'AuditEvent');

@Resolver(() => AuditEvent)
export class AuditEventResolver {
  @Authorized(Role.STAFF)
  @Query(() => AuditEventConnection, { description: 'Staff only: audit events of every subject and actor, newest first' })
  async auditEvents(
    @Args() { filter, first, after }: AuditEventsArgs,
    @Ctx() { reader, loaders }: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Connection<AuditEventRecord>> {
    const page = await listAuditEvents(
      reader,
      filter ?? {},
      { first, after },
      { withTotalCount: selectsField(info, 'totalCount'), withActor: selectsPath(info, ['edges', 'node', 'actor']) },
    );
    for (const { node } of page.rows) if (node.readWith?.actor) loaders.usersSeen(node.readWith.actor);
    return connectionOf(page);
  }

  // Synchronous when the event's statement read its actor: no promise per event of a page.
  @FieldResolver(() => User, { nullable: true, description: 'Who made the change; null once their account is gone' })
  actor(@Root() event: AuditEventRecord, @Ctx() { loaders }: Context): UserRecord | null | Promise<UserRecord | null> {
    if (event.readWith) return event.readWith.actor;
    return loaders.userById.load(event.actorId);
  }
}
