import { Ctx, Query, Resolver } from 'type-graphql';
import type { Actor } from '../auth/actor';
import { OptionalActor } from '../graphql/authorization';
import type { Context } from '../graphql/context';
import { User } from './user.entity';
import type { UserRecord } from './user-rows';

@Resolver(() => User)
export class UserResolver {
  @Query(() => User, { nullable: true, description: 'The caller, or null when anonymous' })
  async me(@OptionalActor() actor: Actor | null, @Ctx() { loaders }: Context): Promise<UserRecord | null> {
    return actor ? loaders.userById.load(actor.userId) : null;
  }
}
