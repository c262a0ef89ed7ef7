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

  constructor(
    private readonly verifier: TokenVerifier,
    /** `REQUIRE_EMAIL_VERIFIED` (src/user/user-email.ts). */
    readonly requireEmailVerified = false,
  ) {}

  /**
   * The `Authorization` headers of a request, each as sent. None: anonymous (null). Anything but one header holding
   * one valid bearer token (two headers, an empty one, another scheme) is UNAUTHENTICATED: a request must not be
   * read one way here and another way by a proxy that keeps the other header.
   */
  async verify(authorizations: readonly string[] | undefined): Promise<TokenClaims | null> {
    if (!authorizations || authorizations.length === 0) return null;
    if (authorizations.length > 1) throw new UnauthenticatedError('Send one Authorization header');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorizations[0]);
    if (!match) throw new UnauthenticatedError('Authorization header must be "Bearer <token>"');
    return this.verifier.verify(match[1]);
  }

  /** `onWrite`: the caller's row was written (a new user, changed claims), so the request's reads must see it. */
  async identify(em: EntityManager, claims: TokenClaims | null, requestId: string, onWrite?: () => void): Promise<Actor | null> {
    if (!claims) return null;
    const userId = await upsertUserFromClaims(em, claims, this.knownUsers, {
      requestId,
      requireEmailVerified: this.requireEmailVerified,
      onWrite,
    });
    return { userId, roles: claims.roles };
  }
}
