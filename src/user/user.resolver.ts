import { Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import { isStaff, type Actor } from '../auth/actor';
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

  @FieldResolver(() => String, {
    nullable: true,
    description: "The user's email: shown to that user and to staff only, null to everybody else (they see the display name)",
  })
  async email(@Root() user: UserRecord, @OptionalActor() actor: Actor | null): Promise<string | null> {
    return actor && (actor.userId === user.id || isStaff(actor)) ? (user.email ?? null) : null;
  }
}
