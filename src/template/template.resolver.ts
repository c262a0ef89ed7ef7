import { getArgumentValues, getNamedType, type GraphQLObjectType, type GraphQLResolveInfo } from 'graphql';
import { Arg, Args, Authorized, Ctx, FieldResolver, ID, Info, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { isStaff, type Actor } from '../auth/actor';
import { checkPageSize, MAX_PAGE_SIZE } from '../db/keyset';
import { NotFoundError } from '../errors/domain-error';
import { CurrentActor, OptionalActor } from '../graphql/authorization';
import { connectionOf, ConnectionType, type Connection } from '../graphql/connection';
import type { Context } from '../graphql/context';
import { GraphQLJSONObject } from '../graphql/json-object.scalar';
import type { Loaders } from '../graphql/loaders';
import { nodeSelects, selectedFieldNodes, selectsField, selectsPath } from '../graphql/selection';
import { User } from '../user/user.entity';
import type { UserRecord } from '../user/user-rows';
import { PatchOperation } from './patch-operation.type';
import { contentPatch } from './template-content';
import { templateDocumentOf, type TemplateDocument } from './template-document';
import { TemplatePendingShare } from './template-pending-share.entity';
import { TemplateVersion } from './template-version.entity';
import { ExperimentTemplate } from './template.entity';
import {
  CloneTemplateArgs,
  CreateTemplateInput,
  DiffArgs,
  RevertTemplateArgs,
  SetTemplatePublicArgs,
  ShareTemplateArgs,
  TemplateIdArgs,
  TemplatesArgs,
  TemplateUsageArgs,
  TransferTemplateArgs,
  UpdateTemplateArgs,
  UpgradeTemplateSchemaArgs,
} from './template.inputs';
import { parseUsageRange, type UsagePoint as UsagePointRecord } from './template-usage';
import { UsagePoint } from './usage-point.type';
import { listTemplates } from './template-list';
import type { HistoryRequest, PendingShareRecord, TemplateRecord, VersionContentRecord, VersionRecord } from './template-rows';

export const TemplateConnection = ConnectionType(ExperimentTemplate, 'Template');

@Resolver(() => ExperimentTemplate)
export class TemplateResolver {
  @Query(() => ExperimentTemplate, { nullable: true, description: 'A template the caller may see; null otherwise, as for an unknown id' })
  async template(
    @Arg('id', () => ID) id: string,
    @Ctx() { loaders }: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<TemplateRecord | null> {
    return loaders.visibleTemplateById.load({
      id,
      withConfiguration: selectsField(info, 'configuration'),
      history: historyRequestOf(info),
    });
  }

  @Query(() => GraphQLJSONObject, {
    nullable: true,
    description:
      'A template the caller may see as a portable document (format "tessera.template"): its content, the configuration schema version and, with `withHistory`, every version oldest first; null otherwise, as for an unknown id',
  })
  async exportTemplate(
    @Arg('id', () => ID) id: string,
    @Arg('withHistory', () => Boolean, { defaultValue: false }) withHistory: boolean,
    @Ctx() { loaders }: Context,
  ): Promise<TemplateDocument | null> {
    const template = await loaders.visibleTemplateById.load({
      id,
      withConfiguration: true,
      history: withHistory ? { first: null, withConfiguration: true } : null,
    });
    return template && templateDocumentOf(template, template.readWith?.versions?.list, new Date());
  }

  @Query(() => TemplateConnection, { description: 'Templates the caller may see, one keyset page at a time' })
  async templates(
    @Args() { filter, orderBy, first, after }: TemplatesArgs,
    @OptionalActor() actor: Actor | null,
    @Ctx() { reader, loaders }: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Connection<TemplateRecord>> {
    const page = await listTemplates(
      reader,
      actor,
      { filter, orderBy },
      { first, after },
      {
        withTotalCount: selectsField(info, 'totalCount'),
        withConfiguration: selectsPath(info, ['edges', 'node', 'configuration']),
        withOwner: selectsPath(info, ['edges', 'node', 'owner']),
        withSharedWith: selectsPath(info, ['edges', 'node', 'sharedWith']),
      },
    );
    for (const { node } of page.rows) if (node.readWith?.owner) loaders.usersSeen(node.readWith.owner);
    return connectionOf(page);
  }

  // Synchronous when the template's statement read the relation: no promise per row of a page.
  @FieldResolver(() => User)
  owner(@Root() template: TemplateRecord, @Ctx() { loaders }: Context): UserRecord | Promise<UserRecord> {
    return template.readWith?.owner ?? ownerOf(template, loaders);
  }

  // Who else has a template is the owner's business (and staff's, who manage its shares): showing it to everyone the
  // template is shared with (or to the whole world, for a public one) would leak other users' identities. Others get [].
  @FieldResolver(() => [User], {
    description: 'The users it is shared with, in sharing order; empty unless the caller owns it or is staff',
  })
  sharedWith(@Root() template: TemplateRecord, @Ctx() context: Context): UserRecord[] | Promise<UserRecord[]> {
    return template.readWith?.sharedWith ?? sharedUsersOf(template, context);
  }

  // Like sharedWith: the addresses a template is shared with are the owner's business, and staff's, who manage its shares.
  @FieldResolver(() => [TemplatePendingShare], {
    description: 'Shares with addresses nobody has signed in with yet, oldest first; empty unless the caller owns it or is staff',
  })
  async pendingShares(@Root() template: TemplateRecord, @Ctx() context: Context): Promise<PendingShareRecord[]> {
    const caller = await context.actor();
    if (!caller || (template.createdBy.id !== caller.userId && !isStaff(caller))) return [];
    return context.loaders.pendingSharesByTemplateId.load(template.id);
  }

  @FieldResolver(() => [TemplateVersion], { description: 'Its history, newest first' })
  versions(
    @Root() template: TemplateRecord,
    @Arg('first', () => Int, { nullable: true, description: 'At most this many (1 to 100); all when left out' }) first: number | null,
    @Ctx() { loaders }: Context,
    @Info() info: GraphQLResolveInfo,
  ): VersionRecord[] | Promise<VersionRecord[]> {
    if (first !== null && first !== undefined) checkPageSize(first);
    const withConfiguration = selectsField(info, 'configuration');
    const read = template.readWith?.versions;
    if (read && read.history.first === (first ?? null) && (read.history.withConfiguration || !withConfiguration)) return read.list;
    return loaders.versionsByTemplateId.load({ templateId: template.id, first: first ?? null, withConfiguration });
  }

  // Not `version(n)`: `version` is already the field holding the current version number.
  @FieldResolver(() => TemplateVersion, { nullable: true, description: 'One version of its history; null when there is no such version' })
  async versionSnapshot(
    @Root() template: TemplateRecord,
    @Arg('version', () => Int) version: number,
    @Ctx() { loaders }: Context,
  ): Promise<VersionContentRecord | null> {
    return loaders.templateVersion.load({ templateId: template.id, version });
  }

  @FieldResolver(() => [UsagePoint], {
    description:
      'Experiments created from it (by anyone: counts only) per bucket of UTC days from `from` to `to`, oldest first, every bucket of the range listed (0 when none)',
  })
  async usage(
    @Root() template: TemplateRecord,
    @Args() { from, to, bucket }: TemplateUsageArgs,
    @Ctx() { loaders }: Context,
  ): Promise<UsagePointRecord[]> {
    return loaders.usageByTemplateId.load({ templateId: template.id, ...parseUsageRange(from, to, bucket) });
  }

  @FieldResolver(() => [PatchOperation], {
    nullable: true,
    description: 'The JSON Patch (RFC 6902) turning version `from` into version `to`; NOT_FOUND when either is missing',
  })
  async diff(@Root() template: TemplateRecord, @Args() { from, to }: DiffArgs, @Ctx() { loaders }: Context): Promise<PatchOperation[]> {
    const [source, target] = await Promise.all(
      [from, to].map((version) => loaders.templateVersion.load({ templateId: template.id, version })),
    );
    if (!source) throw new NotFoundError(`Version ${from} of the template`);
    if (!target) throw new NotFoundError(`Version ${to} of the template`);
    return contentPatch(source, target);
  }

  @Authorized()
  @Mutation(() => ExperimentTemplate, { description: 'A new template owned by the caller, at version 1' })
  async createTemplate(
    @Arg('input', () => CreateTemplateInput) input: CreateTemplateInput,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ) {
    return services.templates.create(actor, input);
  }

  @Authorized()
  @Mutation(() => ExperimentTemplate, {
    description:
      'A new template owned by the caller from a document `exportTemplate` wrote, at version 1, with every check creation has; errors point into the document (`/document/...`). A history in the document is not imported',
  })
  async importTemplate(
    @Arg('document', () => GraphQLJSONObject) document: Record<string, unknown>,
    @Arg('isPublic', () => Boolean, { defaultValue: false }) isPublic: boolean,
    @Arg('changeNote', () => String, { nullable: true, description: 'Default: "Imported from template <id> version <n>"' })
    changeNote: string | null,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ) {
    return services.templates.importDocument(actor, document, { isPublic, changeNote: changeNote ?? undefined });
  }

  @Authorized()
  @Mutation(() => ExperimentTemplate, {
    description:
      "Changes content (owner or staff): the next version, by the caller, when anything changed. The next version is at the latest configuration schema version: a configuration given is validated against it, and a template's configuration carried over from an older version is upgraded (BAD_USER_INPUT at its `/configuration/...` paths when it does not fit the latest: send a configuration)",
  })
  async updateTemplate(
    @Args() { id, input, expectedVersion, changeNote }: UpdateTemplateArgs,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ) {
    return services.templates.update(actor, id, input, { expectedVersion: expectedVersion ?? undefined, changeNote });
  }

  @Authorized()
  @Mutation(() => ExperimentTemplate, {
    description:
      'Writes its configuration, upgraded to the latest configuration schema version, as the next version (owner or staff), audited as an update naming the upgrade; a template already at the latest is returned unchanged. BAD_USER_INPUT with the `/configuration/...` paths when the upgraded configuration is not valid: fix it with `updateTemplate` instead',
  })
  async upgradeTemplateSchema(
    @Args() { id, expectedVersion, changeNote }: UpgradeTemplateSchemaArgs,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ) {
    return services.templates.upgradeSchema(actor, id, { expectedVersion: expectedVersion ?? undefined, changeNote });
  }

  @Authorized()
  @Mutation(() => ExperimentTemplate, {
    description:
      "Writes an old version's content as the next version (owner or staff), its configuration upgraded to the latest schema version",
  })
  async revertTemplate(
    @Args() { id, toVersion, expectedVersion, changeNote }: RevertTemplateArgs,
    @CurrentActor() actor: Actor,
    @Ctx() { services }: Context,
  ) {
    return services.templates.revert(actor, id, toVersion, {
      expectedVersion: expectedVersion ?? undefined,
      changeNote,
    });
  }

  @Authorized()
  @Mutation(() => ExperimentTemplate, { description: 'A private copy of a visible template, owned by the caller, at version 1' })
  async cloneTemplate(@Args() { id, name }: CloneTemplateArgs, @CurrentActor() actor: Actor, @Ctx() { services }: Context) {
    return services.templates.clone(actor, id, { name: name ?? undefined });
  }

  @Authorized()
  @Mutation(() => ExperimentTemplate, {
    description: 'Takes it out of listings and out of use (owner or staff); history and experiments stay',
  })
  async deactivateTemplate(@Args() { id }: TemplateIdArgs, @CurrentActor() actor: Actor, @Ctx() { services }: Context) {
    return services.templates.setActive(actor, id, false);
  }

  @Authorized()
  @Mutation(() => ExperimentTemplate, { description: 'Brings a deactivated template back (owner or staff)' })
  async reactivateTemplate(@Args() { id }: TemplateIdArgs, @CurrentActor() actor: Actor, @Ctx() { services }: Context) {
    return services.templates.setActive(actor, id, true);
  }

  @Authorized()
  @Mutation(() => ID, {
    description:
      'Deletes it with its history and shares (owner or staff); experiments keep their data and lose the link, its audit events stay. Returns the id',
  })
  async deleteTemplate(@Args() { id }: TemplateIdArgs, @CurrentActor() actor: Actor, @Ctx() { services }: Context): Promise<string> {
    return services.templates.delete(actor, id);
  }

  @Authorized()
  @Mutation(() => ExperimentTemplate, {
    description: "Shares it with users, by id or by email (owner or staff); sharing twice, or with the template's owner, is harmless",
  })
  async shareTemplate(@Args() { id, userIds, emails }: ShareTemplateArgs, @CurrentActor() actor: Actor, @Ctx() { services }: Context) {
    return services.templates.share(actor, id, userIds ?? [], emails ?? []);
  }

  @Authorized()
  @Mutation(() => ExperimentTemplate, {
    description: 'Stops sharing it with users, by id or by email (owner or staff); an address nobody holds withdraws its pending share',
  })
  async unshareTemplate(@Args() { id, userIds, emails }: ShareTemplateArgs, @CurrentActor() actor: Actor, @Ctx() { services }: Context) {
    return services.templates.unshare(actor, id, userIds ?? [], emails ?? []);
  }

  @Authorized()
  @Mutation(() => ExperimentTemplate, {
    description:
      'Gives it to another user (owner or staff), whose share of it goes; the old owner keeps it only if it is shared with them. Transferring to the owner changes nothing',
  })
  async transferTemplate(@Args() { id, toUserId }: TransferTemplateArgs, @CurrentActor() actor: Actor, @Ctx() { services }: Context) {
    return services.templates.transfer(actor, id, toUserId);
  }

  @Authorized()
  @Mutation(() => ExperimentTemplate, {
    description: 'Makes it visible to everyone, or only to its owner and shares again (owner or staff)',
  })
  async setTemplatePublic(@Args() { id, isPublic }: SetTemplatePublicArgs, @CurrentActor() actor: Actor, @Ctx() { services }: Context) {
    return services.templates.setPublic(actor, id, isPublic);
  }
}

async function ownerOf(template: TemplateRecord, loaders: Loaders): Promise<UserRecord> {
  const owner = await loaders.userById.load(template.createdBy.id);
  if (!owner) throw new Error(`owner ${template.createdBy.id} of template ${template.id} is missing`);
  return owner;
}

async function sharedUsersOf(template: TemplateRecord, context: Context): Promise<UserRecord[]> {
  const caller = await context.actor();
  if (!caller || (template.createdBy.id !== caller.userId && !isStaff(caller))) return [];
  return context.loaders.sharedUsersByTemplateId.load(template.id);
}

/**
 * The history `template(id)` can read in its own statement: the one `versions` field of the selection, with a valid
 * page size. Anything else (no such field, several with different arguments, a size `versions` will refuse) is left to
 * the field's own load.
 */
function historyRequestOf(info: GraphQLResolveInfo): HistoryRequest | null {
  const [node, ...others] = selectedFieldNodes(info, 'versions');
  if (!node || others.length > 0) return null;
  const field = (getNamedType(info.returnType) as GraphQLObjectType).getFields().versions;
  let first: unknown;
  try {
    ({ first } = getArgumentValues(field, node, info.variableValues));
  } catch {
    return null;
  }
  const valid =
    first === null || first === undefined || (Number.isInteger(first) && (first as number) >= 1 && (first as number) <= MAX_PAGE_SIZE);
  if (!valid) return null;
  return { first: (first as number | null | undefined) ?? null, withConfiguration: nodeSelects(info, node, 'configuration') };
}
