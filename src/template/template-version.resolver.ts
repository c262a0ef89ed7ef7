import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { Context } from '../graphql/context';
import { User } from '../user/user.entity';
import type { UserRecord } from '../user/user-rows';
import type { VersionRecord } from './template-rows';
import { TemplateVersion } from './template-version.entity';

@Resolver(() => TemplateVersion)
export class TemplateVersionResolver {
  @FieldResolver(() => User, { nullable: true, description: 'Who made it; null once their account is gone' })
  // Synchronous when the version's statement read its author: no promise per version of a history.
  createdBy(@Root() version: VersionRecord, @Ctx() { loaders }: Context): UserRecord | null | Promise<UserRecord | null> {
    if (version.readWith) return version.readWith.author;
    return version.createdBy ? loaders.userById.load(version.createdBy.id) : null;
  }
}
