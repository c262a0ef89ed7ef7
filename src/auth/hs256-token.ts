import { createHmac, createSecretKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { UnauthenticatedError } from '../errors/domain-error';

export interface Hs256Expectations {
  issuer?: string;
  audience?: string;
}

/** A verified payload: `sub` and a numeric `exp` are required, like jose's `requiredClaims: ['exp', 'sub']`. */
export type VerifiedPayload = Record<string, unknown> & { sub: unknown; exp: number };

const BASE64URL_SEGMENT = /^[A-Za-z0-9_-]+$/;
/** One character left over encodes no byte: not base64url at all, though Buffer would decode around it. */
const isBase64url = (segment: string) => BASE64URL_SEGMENT.test(segment) && segment.length % 4 !== 1;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

export function hs256Key(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret, 'utf8'));
}

/**
 * HS256 checked synchronously with node:crypto: jose goes through WebCrypto, asynchronous and about ten times the CPU
 * per token. The checks are jose's for `jwtVerify(token, secret, { algorithms: ['HS256'], issuer, audience,
 * requiredClaims: ['exp', 'sub'] })`, in its order (test/auth/token-verifier.test.ts holds the two to the same
 * verdicts); the one leniency left out is padding (`=`), which JWTs never carry.
 */
export function verifyHs256(token: string, key: KeyObject, expected: Hs256Expectations): VerifiedPayload {
  const segments = token.split('.');
  if (segments.length !== 3 || !segments.every(isBase64url)) invalid('Token is invalid');
  const [encodedHeader, encodedPayload, signature] = segments;
  const header = jsonObjectOf(encodedHeader);
  if (!hasOnlyKnownExtensions(header)) invalid('Token is invalid');
  if (typeof header.alg !== 'string' || !header.alg) invalid('Token is invalid');
  if (header.alg !== 'HS256') invalid('Token algorithm is not allowed');

  const expectedSignature = createHmac('sha256', key).update(`${encodedHeader}.${encodedPayload}`).digest();
  const presentedSignature = Buffer.from(signature, 'base64url');
  if (presentedSignature.length !== expectedSignature.length || !timingSafeEqual(presentedSignature, expectedSignature)) {
    invalid('Token signature is invalid');
  }

  const payload = jsonObjectOf(encodedPayload);
  const required = [...(expected.issuer !== undefined ? ['iss'] : []), ...(expected.audience !== undefined ? ['aud'] : []), 'sub', 'exp'];
  for (const claim of required) if (!Object.hasOwn(payload, claim)) invalidClaim(claim);
  if (expected.issuer !== undefined && payload.iss !== expected.issuer) invalidClaim('iss');
  if (expected.audience !== undefined && !hasAudience(payload.aud, expected.audience)) invalidClaim('aud');
  for (const claim of ['iat', 'nbf', 'exp']) {
    if (payload[claim] !== undefined && typeof payload[claim] !== 'number') invalidClaim(claim);
  }
  const now = Math.floor(Date.now() / 1000);
  if (typeof payload.nbf === 'number' && payload.nbf > now) invalidClaim('nbf');
  if ((payload.exp as number) <= now) invalid('Token has expired');
  return payload as VerifiedPayload;
}

/** jose knows one critical extension, `b64`, and a JWT may only use it to say what is true anyway: `b64: true`. */
function hasOnlyKnownExtensions(header: Record<string, unknown>): boolean {
  if (header.crit === undefined) return true;
  return Array.isArray(header.crit) && header.crit.length === 1 && header.crit[0] === 'b64' && header.b64 === true;
}

function jsonObjectOf(segment: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(strictUtf8.decode(Buffer.from(segment, 'base64url')));
  } catch {
    invalid('Token is invalid');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) invalid('Token is invalid');
  return parsed as Record<string, unknown>;
}

function hasAudience(aud: unknown, audience: string): boolean {
  return aud === audience || (Array.isArray(aud) && aud.includes(audience));
}

function invalidClaim(claim: string): never {
  invalid(`Token claim "${claim}" is invalid`);
}

function invalid(message: string): never {
  throw new UnauthenticatedError(message);
}
