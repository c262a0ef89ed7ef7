import { Arg, Authorized, Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import { isStaff, type Actor } from '../auth/actor';
import { RateLimitedError, type FieldError } from '../errors/domain-error';
import { OptionalActor } from '../graphql/authorization';
import { throwIfInvalid } from '../validation/field-errors';
import { parseEmail } from './user-email';
import type { Context } from '../graphql/context';
import { User } from './user.entity';
import type { UserRecord } from './user-rows';

@Resolver(() => User)
export class UserResolver {
  @Query(() => User, { nullable: true, description: 'The caller, or null when anonymous' })
  async me(@OptionalActor() actor: Actor | null, @Ctx() { loaders }: Context): Promise<UserRecord | null> {
    return actor ? loaders.userById.load(actor.userId) : null;
  }

  /**
   * One exact address, never a list: there is no directory to enumerate. Each lookup counts against the caller's
   * `RATE_LIMIT_USER_BY_EMAIL_PER_MINUTE`, so guessing addresses is slow.
   */
  @Authorized()
  @Query(() => User, {
    nullable: true,
    description:
      'The user an email address stands for (compared lower-cased; an address the identity provider did not verify may not count, see REQUIRE_EMAIL_VERIFIED), or null. Callers with a token only; each lookup counts against a limit per minute of its own (RATE_LIMITED with retryAfterSeconds past it)',
  })
  async userByEmail(
    @Arg('email', () => String) email: string,
    @Ctx() { claims, rateLimiter, loaders }: Context,
  ): Promise<UserRecord | null> {
    const errors: FieldError[] = [];
    const address = parseEmail(email, '/email', errors);
    throwIfInvalid(errors);
    const decision = await rateLimiter.takeOperation('user_by_email', `sub:${claims!.externalId}`);
    if (!decision.allowed) throw new RateLimitedError(decision.scope, decision.retryAfterSeconds);
    return loaders.userByEmail.load(address!);
  }

  @FieldResolver(() => String, {
    nullable: true,
    description: "The user's email: shown to that user and to staff only, null to everybody else (they see the display name)",
  })
  async email(@Root() user: UserRecord, @OptionalActor() actor: Actor | null): Promise<string | null> {
    return actor && (actor.userId === user.id || isStaff(actor)) ? (user.email ?? null) : null;
  }
}
