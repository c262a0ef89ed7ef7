import type { GraphQLResolveInfo } from 'graphql';
import { Args, Ctx, FieldResolver, Info, Resolver, Root } from 'type-graphql';
import { isStaff } from '../auth/actor';
import { checkPageSize, emptyPage } from '../db/keyset';
import { connectionOf, PageArgs, type Connection } from '../graphql/connection';
import type { Context } from '../graphql/context';
import { selectsField, selectsPath } from '../graphql/selection';
import type { TemplateRecord } from '../template/template-rows';
import { ExperimentTemplate } from '../template/template.entity';
import { checkAuditCursor } from './audit-list';
import type { AuditEventRecord } from './audit-rows';
import { AuditEventConnection } from './audit.resolver';

/** `Template.auditTrail`, kept with the audit trail: type-graphql merges it into the Template type. */
@Resolver(() => ExperimentTemplate)
export class TemplateAuditResolver {
  // What happened to a template, and who did it, is its owner's business (and staff's): anyone else it is visible to
  // gets an empty trail, as `sharedWith` answers them an empty list.
  @FieldResolver(() => AuditEventConnection, {
    description: 'Everything that happened to it, newest first: for its owner and staff; empty for anyone else',
  })
  async auditTrail(
    @Root() template: TemplateRecord,
    @Args() { first, after }: PageArgs,
    @Ctx() context: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Connection<AuditEventRecord>> {
    // Checked here so one bad argument fails its own field, not the whole batch.
    checkPageSize(first);
    checkAuditCursor(after);
    const caller = await context.actor();
    if (!caller || (template.createdBy.id !== caller.userId && !isStaff(caller))) return connectionOf(emptyPage());
    const page = await context.loaders.auditTrailBySubject.load({
      subjectId: template.id,
      first,
      after: after ?? null,
      withActor: selectsPath(info, ['edges', 'node', 'actor']),
      withTotalCount: selectsField(info, 'totalCount'),
    });
    return connectionOf(page);
  }
}
