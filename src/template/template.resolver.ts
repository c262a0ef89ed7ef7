import type { GraphQLResolveInfo } from 'graphql';
import { Arg, Args, Ctx, FieldResolver, ID, Info, Int, Mutation, Query, Resolver, Root } from 'type-graphql';
import { requireActor } from '../auth/actor';
import { NotFoundError } from '../errors/domain-error';
import type { Context } from '../graphql/context';
import { checkPageSize, ConnectionType, type Connection } from '../graphql/pagination';
import { selectsField, selectsPath } from '../graphql/selection';
import { User } from '../user/user.entity';
import { PatchOperation } from './patch-operation.type';
import { contentPatch } from './template-content';
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
  UpdateTemplateArgs,
} from './template.inputs';
import { TemplateService } from './template.service';

export const TemplateConnection = ConnectionType(ExperimentTemplate, 'Template');

@Resolver(() => ExperimentTemplate)
export class TemplateResolver {
  @Query(() => ExperimentTemplate, { nullable: true, description: 'A template the caller may see; null otherwise, as for an unknown id' })
  async template(@Arg('id', () => ID) id: string, @Ctx() { loaders }: Context): Promise<ExperimentTemplate | null> {
    return loaders.visibleTemplateById.load(id);
  }

  @Query(() => TemplateConnection, { description: 'Templates the caller may see, one keyset page at a time' })
  async templates(
    @Args() { filter, orderBy, first, after }: TemplatesArgs,
    @Ctx() { em, actor }: Context,
    @Info() info: GraphQLResolveInfo,
  ): Promise<Connection<ExperimentTemplate>> {
    return new TemplateService(em).list(
      actor,
      { filter, orderBy, first, after },
      { withTotalCount: selectsField(info, 'totalCount'), withConfiguration: selectsPath(info, ['edges', 'node', 'configuration']) },
    );
  }

  @FieldResolver(() => User)
  async owner(@Root() template: ExperimentTemplate, @Ctx() { loaders }: Context): Promise<User> {
    const owner = await loaders.userById.load(template.createdBy.id);
    if (!owner) throw new Error(`owner ${template.createdBy.id} of template ${template.id} is missing`);
    return owner;
  }

  // Who else has a template is the owner's business: showing it to everyone the template is shared with (or to the
  // whole world, for a public one) would leak other users' identities. Only the owner gets the list; others get [].
  @FieldResolver(() => [User], { description: 'The users it is shared with, in sharing order; empty unless the caller owns it' })
  async sharedWith(@Root() template: ExperimentTemplate, @Ctx() { actor, loaders }: Context): Promise<User[]> {
    if (!actor || template.createdBy.id !== actor.userId) return [];
    return loaders.sharedUsersByTemplateId.load(template.id);
  }

  @FieldResolver(() => [TemplateVersion], { description: 'Its history, newest first' })
  async versions(
    @Root() template: ExperimentTemplate,
    @Arg('first', () => Int, { nullable: true, description: 'At most this many (1 to 100); all when left out' }) first: number | null,
    @Ctx() { loaders }: Context,
  ): Promise<TemplateVersion[]> {
    if (first !== null && first !== undefined) checkPageSize(first);
    const versions = await loaders.versionsByTemplateId.load(template.id);
    return first ? versions.slice(0, first) : versions;
  }

  // Not `version(n)`: `version` is already the field holding the current version number.
  @FieldResolver(() => TemplateVersion, { nullable: true, description: 'One version of its history; null when there is no such version' })
  async versionSnapshot(
    @Root() template: ExperimentTemplate,
    @Arg('version', () => Int) version: number,
    @Ctx() { loaders }: Context,
  ): Promise<TemplateVersion | null> {
    return loaders.templateVersion.load({ templateId: template.id, version });
  }

  @FieldResolver(() => [PatchOperation], {
    nullable: true,
    description: 'The JSON Patch (RFC 6902) turning version `from` into version `to`; NOT_FOUND when either is missing',
  })
  async diff(@Root() template: ExperimentTemplate, @Args() { from, to }: DiffArgs, @Ctx() { loaders }: Context): Promise<PatchOperation[]> {
    const [source, target] = await Promise.all(
      [from, to].map((version) => loaders.templateVersion.load({ templateId: template.id, version })),
    );
    if (!source) throw new NotFoundError(`Version ${from} of the template`);
    if (!target) throw new NotFoundError(`Version ${to} of the template`);
    return contentPatch(source, target);
  }

  @Mutation(() => ExperimentTemplate, { description: 'A new template owned by the caller, at version 1' })
  async createTemplate(@Arg('input', () => CreateTemplateInput) input: CreateTemplateInput, @Ctx() { em, actor }: Context) {
    return new TemplateService(em).create(requireActor(actor), input);
  }

  @Mutation(() => ExperimentTemplate, { description: 'Changes content (owner only): the next version when anything changed' })
  async updateTemplate(@Args() { id, input, expectedVersion, changeNote }: UpdateTemplateArgs, @Ctx() { em, actor }: Context) {
    return new TemplateService(em).update(requireActor(actor), id, input, { expectedVersion: expectedVersion ?? undefined, changeNote });
  }

  @Mutation(() => ExperimentTemplate, { description: "Writes an old version's content as the next version (owner only)" })
  async revertTemplate(@Args() { id, toVersion, expectedVersion, changeNote }: RevertTemplateArgs, @Ctx() { em, actor }: Context) {
    return new TemplateService(em).revert(requireActor(actor), id, toVersion, {
      expectedVersion: expectedVersion ?? undefined,
      changeNote,
    });
  }

  @Mutation(() => ExperimentTemplate, { description: 'A private copy of a visible template, owned by the caller, at version 1' })
  async cloneTemplate(@Args() { id, name }: CloneTemplateArgs, @Ctx() { em, actor }: Context) {
    return new TemplateService(em).clone(requireActor(actor), id, { name: name ?? undefined });
  }

  @Mutation(() => ExperimentTemplate, { description: 'Takes it out of listings and out of use (owner only); history and experiments stay' })
  async deactivateTemplate(@Args() { id }: TemplateIdArgs, @Ctx() { em, actor }: Context) {
    return new TemplateService(em).setActive(requireActor(actor), id, false);
  }

  @Mutation(() => ExperimentTemplate, { description: 'Brings a deactivated template back (owner only)' })
  async reactivateTemplate(@Args() { id }: TemplateIdArgs, @Ctx() { em, actor }: Context) {
    return new TemplateService(em).setActive(requireActor(actor), id, true);
  }

  @Mutation(() => ID, {
    description: 'Deletes it with its history and shares (owner only); experiments keep their data and lose the link. Returns the id',
  })
  async deleteTemplate(@Args() { id }: TemplateIdArgs, @Ctx() { em, actor }: Context): Promise<string> {
    await new TemplateService(em).delete(requireActor(actor), id);
    return id;
  }

  @Mutation(() => ExperimentTemplate, { description: 'Shares it with users (owner only); sharing twice is harmless' })
  async shareTemplate(@Args() { id, userIds }: ShareTemplateArgs, @Ctx() { em, actor }: Context) {
    return new TemplateService(em).share(requireActor(actor), id, userIds);
  }

  @Mutation(() => ExperimentTemplate, { description: 'Stops sharing it with users (owner only)' })
  async unshareTemplate(@Args() { id, userIds }: ShareTemplateArgs, @Ctx() { em, actor }: Context) {
    return new TemplateService(em).unshare(requireActor(actor), id, userIds);
  }

  @Mutation(() => ExperimentTemplate, { description: 'Makes it visible to everyone, or only to its owner and shares again (owner only)' })
  async setTemplatePublic(@Args() { id, isPublic }: SetTemplatePublicArgs, @Ctx() { em, actor }: Context) {
    return new TemplateService(em).setPublic(requireActor(actor), id, isPublic);
  }
}
