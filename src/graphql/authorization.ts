import { createParameterDecorator, type AuthChecker } from 'type-graphql';
import type { Actor } from '../auth/actor';
import { UnauthenticatedError } from '../errors/domain-error';
import type { Context } from './context';

/** `@Authorized()` operations need a caller; refused with UNAUTHENTICATED (not type-graphql's own error) otherwise. */
export const authChecker: AuthChecker<Context> = async ({ context }) => {
  if (await context.actor()) return true;
  throw new UnauthenticatedError();
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
