import type { EntityManager } from '@mikro-orm/postgresql';
import { UnauthenticatedError } from '../errors/domain-error';
import { upsertUserFromClaims } from '../user/user.service';
import type { Actor } from './actor';
import type { TokenVerifier } from './token-verifier';

/** Turns an `Authorization` header into the request's actor: none is anonymous, a bad one is refused outright. */
export class Authenticator {
  constructor(private readonly verifier: TokenVerifier) {}

  async authenticate(em: EntityManager, authorization: string | undefined): Promise<Actor | null> {
    if (!authorization) return null;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) throw new UnauthenticatedError('Authorization header must be "Bearer <token>"');
    const claims = await this.verifier.verify(match[1]);
    const userId = await upsertUserFromClaims(em, claims);
    return { userId, roles: claims.roles };
  }
}
