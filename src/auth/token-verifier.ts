import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { LruCache } from '../cache/lru-cache';
import { UnauthenticatedError } from '../errors/domain-error';

export interface TokenVerifierOptions {
  secret?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
}

/** Shared by every request that presents the same token: frozen. */
export interface TokenClaims {
  readonly externalId: string;
  readonly email?: string;
  readonly displayName?: string;
  readonly roles: readonly string[];
}

const SYMMETRIC_ALGORITHMS = ['HS256'];
const ASYMMETRIC_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'EdDSA'];

/** Clients reuse a token for its lifetime, and a few thousand callers at once is far beyond one process's share. */
export const MAX_CACHED_TOKENS = 5_000;
/**
 * How long a verified token is trusted without checking it again, when its `exp` is later: jose's default `cacheMaxAge`
 * for a remote key set, so a key withdrawn from the JWKS stops being honoured no later than it did without this cache.
 */
export const MAX_TOKEN_HOLD_MS = 10 * 60_000;

export class TokenVerifier {
  private readonly key: Uint8Array | JWTVerifyGetKey;
  private readonly algorithms: string[];
  /** Only tokens that passed every check, each until its `exp` at the latest. */
  private readonly verified = new LruCache<string, TokenClaims>(MAX_CACHED_TOKENS);
  private hits = 0;

  constructor(private readonly options: TokenVerifierOptions) {
    if (options.secret) {
      this.key = new TextEncoder().encode(options.secret);
      this.algorithms = SYMMETRIC_ALGORITHMS;
    } else if (options.jwksUrl) {
      this.key = createRemoteJWKSet(new URL(options.jwksUrl));
      this.algorithms = ASYMMETRIC_ALGORITHMS;
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
    const payload = await this.verifySignedPayload(token);
    const claims = claimsOf(payload);
    // `exp` is a required claim, checked to be a number.
    this.verified.set(token, claims, Math.min(payload.exp! * 1000, Date.now() + MAX_TOKEN_HOLD_MS));
    return claims;
  }

  private async verifySignedPayload(token: string): Promise<JWTPayload> {
    try {
      const verifyOptions = {
        algorithms: this.algorithms,
        issuer: this.options.issuer,
        audience: this.options.audience,
        requiredClaims: ['exp', 'sub'],
      };
      // jose overloads on the key kind; both branches take the same options.
      const { payload } =
        this.key instanceof Uint8Array ? await jwtVerify(token, this.key, verifyOptions) : await jwtVerify(token, this.key, verifyOptions);
      return payload;
    } catch (error) {
      // The identity provider's key set out of reach is our failure, not the caller's: it goes up unmasked here and
      // reaches the client as INTERNAL_SERVER_ERROR, the log with its cause.
      if (isKeySetUnavailable(error)) throw error;
      throw new UnauthenticatedError(describeJoseError(error));
    }
  }
}

function claimsOf(payload: JWTPayload): TokenClaims {
  const text = (value: unknown) => (typeof value === 'string' && value.trim() ? value.trim() : undefined);
  const externalId = text(payload.sub);
  if (!externalId) throw new UnauthenticatedError('Token has no subject');
  const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === 'string') : [];
  return Object.freeze({
    externalId,
    email: text(payload.email)?.toLowerCase(),
    displayName: text(payload.name),
    roles: Object.freeze(roles),
  });
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
