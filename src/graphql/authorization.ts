import { createParameterDecorator, type AuthChecker } from 'type-graphql';
import type { Actor } from '../auth/actor';
import { ForbiddenError, UnauthenticatedError } from '../errors/domain-error';
import type { Context } from './context';

/**
 * `@Authorized()` operations need a caller: UNAUTHENTICATED (not type-graphql's own error) otherwise.
 * `@Authorized(Role.STAFF)` ones need a caller with one of the roles named: FORBIDDEN for any other caller.
 */
export const authChecker: AuthChecker<Context> = async ({ context }, roles) => {
  const actor = await context.actor();
  if (!actor) throw new UnauthenticatedError();
  if (roles.length > 0 && !roles.some((role) => (actor.roles as readonly string[]).includes(role))) {
    throw new ForbiddenError(`Only ${roles.join(' or ')} may do this`);
  }
  return true;
};

/** The caller of an `@Authorized()` operation. */
export function CurrentActor() {
  return createParameterDecorator<Context>(async ({ context }): Promise<Actor> => {
    const actor = await context.actor();
    if (!actor) throw new UnauthenticatedError();
    return actor;
  });
}

/** The caller of an operation open to anonymous callers; null when anonymous. */
export function OptionalActor() {
  return createParameterDecorator<Context>(({ context }): Promise<Actor | null> => context.actor());
}
