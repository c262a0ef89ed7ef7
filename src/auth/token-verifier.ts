import type { KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { LruCache } from '../cache/lru-cache';
import { UnauthenticatedError } from '../errors/domain-error';
import { normaliseEmail } from '../user/user-email';
import { isStorableText } from '../validation/storable';
import { Role, SERVICE_ROLE_VALUE } from './actor';
import { hs256Key, verifyHs256, type VerifiedPayload } from './hs256-token';

export interface TokenVerifierOptions {
  secret?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /** The claim holding the caller's roles; default `roles`. */
  rolesClaim?: string;
  /** The value in it that makes the caller staff; default `admin`. */
  staffRole?: string;
  /** The claim listing the caller's groups (`TEAMS_CLAIM`): read into `TokenClaims.groups` when set. */
  teamsClaim?: string;
}

/** Shared by every request that presents the same token: frozen. */
export interface TokenClaims {
  readonly externalId: string;
  readonly email?: string;
  /** The `email_verified` claim, when the token carries one (a boolean, or its text): whether the provider checked `email`. */
  readonly emailVerified?: boolean;
  readonly displayName?: string;
  /** Tessera's roles, mapped from the token's: other values are dropped. */
  readonly roles: readonly Role[];
  /**
   * The identity provider's groups of the caller, when TEAMS_CLAIM is set and the token carries that claim as an array
   * (its strings only); undefined otherwise, which leaves team memberships alone.
   */
  readonly groups?: readonly string[];
}

const ASYMMETRIC_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/** Clients reuse a token for its lifetime, and a few thousand callers at once is far beyond one process's share. */
export const MAX_CACHED_TOKENS = 5_000;
/**
 * How long a verified token is trusted without checking it again, when its `exp` is later: jose's default `cacheMaxAge`
 * for a remote key set, so a key withdrawn from the JWKS stops being honoured no later than it did without this cache.
 */
export const MAX_TOKEN_HOLD_MS = 10 * 60_000;

/**
 * How far ahead of ours an identity provider's clock may run: a token issued (`iat`) later than that is refused. Neither
 * jose nor the HS256 check looks at `iat` unless asked for a maximum age.
 */
export const MAX_CLOCK_SKEW_SECONDS = 60;

/** HS256 with the configured secret (node:crypto), or the identity provider's JWKS (jose). */
export class TokenVerifier {
  private readonly key: KeyObject | JWTVerifyGetKey;
  /** Only tokens that passed every check, each until its `exp` at the latest. */
  private readonly verified = new LruCache<string, TokenClaims>(MAX_CACHED_TOKENS);
  private hits = 0;
  private readonly roleOf: ReadonlyMap<string, Role>;

  constructor(private readonly options: TokenVerifierOptions) {
    this.roleOf = new Map([
      [SERVICE_ROLE_VALUE, Role.SERVICE],
      [options.staffRole ?? 'admin', Role.STAFF],
    ]);
    if (options.secret) {
      this.key = hs256Key(options.secret);
    } else if (options.jwksUrl) {
      this.key = createRemoteJWKSet(new URL(options.jwksUrl));
    } else {
      throw new Error('TokenVerifier needs a secret or a JWKS URL');
    }
  }

  /** Tokens answered from the cache, without verifying them again. */
  get cacheHits(): number {
    return this.hits;
  }

  async verify(token: string): Promise<TokenClaims> {
    const known = this.verified.get(token);
    if (known) {
      this.hits += 1;
      return known;
    }
    const payload =
      typeof this.key === 'function' ? await this.verifyWithKeySet(token, this.key) : verifyHs256(token, this.key, this.options);
    const claims = claimsOf(payload, (value) => this.roleOf.get(value), this.options.rolesClaim ?? 'roles', this.options.teamsClaim);
    this.verified.set(token, claims, Math.min(payload.exp * 1000, Date.now() + MAX_TOKEN_HOLD_MS));
    return claims;
  }

  private async verifyWithKeySet(token: string, keySet: JWTVerifyGetKey): Promise<VerifiedPayload> {
    try {
      const { payload } = await jwtVerify(token, keySet, {
        algorithms: ASYMMETRIC_ALGORITHMS,
        issuer: this.options.issuer,
        audience: this.options.audience,
        requiredClaims: ['exp', 'sub'],
      });
      return payload as VerifiedPayload;
    } catch (error) {
      // The identity provider's key set out of reach is our failure, not the caller's: it goes up unmasked here and
      // reaches the client as INTERNAL_SERVER_ERROR, the log with its cause.
      if (isKeySetUnavailable(error)) throw error;
      throw new UnauthenticatedError(describeJoseError(error));
    }
  }
}

/**
 * The claims a request's caller is made of; a token whose claims the users table could not hold is refused. Roles are
 * read from `rolesClaim` (a list; anything else there holds no role) and mapped to Tessera's by `roleOf`; groups from
 * `teamsClaim` when it is set.
 */
function claimsOf(
  payload: VerifiedPayload,
  roleOf: (value: string) => Role | undefined,
  rolesClaim: string,
  teamsClaim: string | undefined,
): TokenClaims {
  if (typeof payload.iat === 'number' && payload.iat > Date.now() / 1000 + MAX_CLOCK_SKEW_SECONDS) invalidClaim('iat');
  const text = (claim: 'sub' | 'email' | 'name') => {
    const value = payload[claim];
    if (typeof value !== 'string' || !value.trim()) return undefined;
    if (!isStorableText(value)) invalidClaim(claim);
    return value.trim();
  };
  const externalId = text('sub');
  if (!externalId) throw new UnauthenticatedError('Token has no subject');
  const email = text('email');
  const given: unknown = Object.hasOwn(payload, rolesClaim) ? payload[rolesClaim] : undefined;
  const values = Array.isArray(given) ? given.filter((value): value is string => typeof value === 'string') : [];
  const roles = [...new Set(values.map(roleOf).filter((role) => role !== undefined))];
  const groupsClaim: unknown = teamsClaim !== undefined && Object.hasOwn(payload, teamsClaim) ? payload[teamsClaim] : undefined;
  // Groups are matched to teams' external ids, which hold storable text of at most 255 characters: others match none.
  const groups = Array.isArray(groupsClaim)
    ? [
        ...new Set(groupsClaim.filter((g): g is string => typeof g === 'string' && g.length > 0 && g.length <= 255 && isStorableText(g))),
      ].sort()
    : undefined;
  return Object.freeze({
    externalId,
    email: email === undefined ? undefined : normaliseEmail(email),
    emailVerified: emailVerifiedOf(payload.email_verified),
    displayName: text('name'),
    roles: Object.freeze(roles),
    ...(groups ? { groups: Object.freeze(groups) } : {}),
  });
}

/**
 * OpenID Connect's `email_verified` is a boolean; some providers (Amazon Cognito among them) send the text "true" or
 * "false". Taken either way: a "false" read as absent would let an unverified address count.
 */
function emailVerifiedOf(claim: unknown): boolean | undefined {
  if (typeof claim === 'boolean') return claim;
  if (claim === 'true' || claim === 'false') return claim === 'true';
  return undefined;
}

function invalidClaim(claim: string): never {
  throw new UnauthenticatedError(`Token claim "${claim}" is invalid`);
}

function isKeySetUnavailable(error: unknown): boolean {
  if (!(error instanceof joseErrors.JOSEError)) return true;
  return error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid || error.code === 'ERR_JOSE_GENERIC';
}

function describeJoseError(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'Token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `Token claim "${error.claim}" is invalid`;
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'Token algorithm is not allowed';
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'Token signature is invalid';
  return 'Token is invalid';
}
