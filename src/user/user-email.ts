import type { FieldError } from '../errors/domain-error';
import { isStorableText } from '../validation/storable';

/** RFC 5321's limit on a forward path; longer is no address anyone can sign in with. */
export const EMAIL_MAX_LENGTH = 254;

/** One `@`, something on each side, no spaces: the provider checks addresses; this only refuses what cannot be one. */
const EMAIL_SHAPE = /^[^\s@]+@[^\s@]+$/;

/**
 * An address as Tessera keeps it and compares it: trimmed and lower-cased, the same for a token's `email` claim, a
 * share's address and a lookup. Rows written before Tessera may hold other cases: SQL compares `lower(email)`.
 */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** One normalised address, or an error at `path`. */
export function parseEmail(value: unknown, path: string, errors: FieldError[]): string | undefined {
  if (typeof value !== 'string' || !isStorableText(value)) {
    errors.push({ path, message: 'must be an email address' });
    return undefined;
  }
  const email = normaliseEmail(value);
  if (email.length > EMAIL_MAX_LENGTH) errors.push({ path, message: `must be an email address of at most ${EMAIL_MAX_LENGTH} characters` });
  else if (!EMAIL_SHAPE.test(email)) errors.push({ path, message: 'must be an email address' });
  else return email;
  return undefined;
}

/**
 * Whether a user's stored address may stand for them (sharing by email, `userByEmail`, pending shares): never when the
 * identity provider said `email_verified: false`; when it said nothing (`null`), unless `requireVerified`
 * (`REQUIRE_EMAIL_VERIFIED`). The same rule as `trustedEmailSql`.
 */
export function isTrustedEmail(emailVerified: boolean | null, requireVerified: boolean): boolean {
  return emailVerified === true || (emailVerified === null && !requireVerified);
}

/** `isTrustedEmail` as SQL over users alias `alias`. */
export function trustedEmailSql(alias: string, requireVerified: boolean): string {
  return requireVerified ? `${alias}.email_verified` : `${alias}.email_verified is not false`;
}

/**
 * Serialises everything that decides who an address names in one transaction: sharing or unsharing by email, and a
 * user's row taking that address. Without it, a share made while its recipient's first sign-in commits could see no
 * user and leave a pending share the sign-in's snapshot missed. Bind one address per call; take several in sorted order.
 */
export const EMAIL_LOCK_SQL = `select pg_advisory_xact_lock(hashtextextended('tessera.email:' || ?, 0))`;
