import type { EntityManager } from '@mikro-orm/postgresql';
import { LruCache } from '../cache/lru-cache';
import { UnauthenticatedError } from '../errors/domain-error';
import { MAX_KNOWN_USERS, upsertUserFromClaims, type KnownUsers } from '../user/user.service';
import type { Actor } from './actor';
import type { TokenClaims, TokenVerifier } from './token-verifier';

/**
 * Turns an `Authorization` header into the request's caller in two steps: `verify` (no database: a bad token is
 * refused before anything else) and `identify` (the user row, once the operation is known to be acceptable).
 */
export class Authenticator {
  private readonly knownUsers: KnownUsers = new LruCache(MAX_KNOWN_USERS);

  constructor(private readonly verifier: TokenVerifier) {}

  /** No header: anonymous (null). A header that does not hold a valid token: UNAUTHENTICATED. */
  async verify(authorization: string | undefined): Promise<TokenClaims | null> {
    if (!authorization) return null;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new UnauthenticatedError('Authorization header must be "Bearer <token>"');
    return this.verifier.verify(match[1]);
  }

  /** `onWrite`: the caller's row was written (a new user, changed claims), so the request's reads must see it. */
  async identify(em: EntityManager, claims: TokenClaims | null, onWrite?: () => void): Promise<Actor | null> {
    if (!claims) return null;
    const userId = await upsertUserFromClaims(em, claims, this.knownUsers, onWrite);
    return { userId, roles: claims.roles };
  }
}
