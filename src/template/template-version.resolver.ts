import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { Context } from '../graphql/context';
import { User } from '../user/user.entity';
import { TemplateVersion } from './template-version.entity';

@Resolver(() => TemplateVersion)
export class TemplateVersionResolver {
  @FieldResolver(() => User, { nullable: true, description: 'Who made it; null once their account is gone' })
  async createdBy(@Root() version: TemplateVersion, @Ctx() { loaders }: Context): Promise<User | null> {
    return version.createdBy ? loaders.userById.load(version.createdBy.id) : null;
  }
}
