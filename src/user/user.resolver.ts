import { Ctx, Query, Resolver } from 'type-graphql';
import type { Context } from '../graphql/context';
import { User } from './user.entity';

@Resolver(() => User)
export class UserResolver {
  @Query(() => User, { nullable: true, description: 'The caller, or null when anonymous' })
  async me(@Ctx() { em, actor }: Context): Promise<User | null> {
    return actor ? em.findOne(User, { id: actor.userId }) : null;
  }
}
