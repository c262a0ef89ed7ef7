import type { EntityManager } from '@mikro-orm/postgresql';
import { AuditLog } from '../audit/audit-log';
import { LruCache } from '../cache/lru-cache';
import { UnauthenticatedError } from '../errors/domain-error';
import { TeamClaimSync } from '../team/team-claim';
import { MAX_KNOWN_USERS, upsertUserFromClaims, type KnownUsers } from '../user/user.service';
import type { Actor } from './actor';
import type { TokenClaims, TokenVerifier } from './token-verifier';

/**
 * Turns an `Authorization` header into the request's caller in two steps: `verify` (no database: a bad token is
 * refused before anything else) and `identify` (the user row, once the operation is known to be acceptable).
 */
export class Authenticator {
  private readonly knownUsers: KnownUsers = new LruCache(MAX_KNOWN_USERS);
  private readonly teamClaims = new TeamClaimSync();

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

  /**
   * `onWrite`: the caller's row (a new user, changed claims, claimed pending shares) or their teams (from the token's
   * groups) were written, so the request's reads must see it. Changes they cause are audited under `requestId`.
   */
  async identify(em: EntityManager, claims: TokenClaims | null, requestId: string, onWrite?: () => void): Promise<Actor | null> {
    if (!claims) return null;
    const userId = await upsertUserFromClaims(em, claims, this.knownUsers, {
      requestId,
      requireEmailVerified: this.requireEmailVerified,
      onWrite,
    });
    const actor = { userId, roles: claims.roles };
    if (claims.groups) await this.teamClaims.keepInStep(em, actor, claims.groups, new AuditLog(requestId), onWrite);
    return actor;
  }
}
