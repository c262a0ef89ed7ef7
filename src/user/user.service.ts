import type { EntityManager } from '@mikro-orm/postgresql';
import { AuditLog } from '../audit/audit-log';
import type { TokenClaims } from '../auth/token-verifier';
import type { LruCache } from '../cache/lru-cache';
import { withTransactionRetry } from '../db/transaction-retry';
import { claimPendingShares } from '../template/template-pending-shares';
import { EMAIL_LOCK_SQL, isTrustedEmail } from './user-email';

/** A user's row as this process last read or wrote it: enough to tell that a request's claims change nothing. */
export interface KnownUser {
  id: string;
  email: string | null;
  emailVerified: boolean | null;
  displayName: string | null;
}

export interface IdentifyOptions {
  /** The request's id, for the audit events of pending shares the caller's new address claims. */
  requestId: string;
  /** `REQUIRE_EMAIL_VERIFIED`: whether an address the token does not say is verified may stand for the caller. */
  requireEmailVerified: boolean;
  /** The caller's row was written: the request's reads must see it. */
  onWrite?: () => void;
}

/** Users this process has seen, by token subject. */
export type KnownUsers = LruCache<string, KnownUser>;

export const MAX_KNOWN_USERS = 10_000;
/**
 * The server never deletes a user nor changes its subject, so the id a subject maps to cannot change; a row deleted by
 * hand (the foreign keys cascade) is recreated by the caller's next request after this long at most.
 */
export const KNOWN_USER_HOLD_MS = 10 * 60_000;

/**
 * Users come from the identity provider's tokens: the first request creates the row, later ones refresh its email
 * and name when they changed. A caller this process knows, with unchanged claims, costs no statement; one it does not
 * know costs one read: an upsert that changes nothing still locks the row, takes a transaction id and flushes WAL,
 * which a read request must not do.
 *
 * A write that gives the row an address (new user, new email, its `email_verified` changed) runs in a transaction
 * holding the address's lock, and claims the address's pending shares there when the address may stand for the user
 * (`isTrustedEmail`): a share by email committed before it is claimed, one committed after it sees the user.
 */
export async function upsertUserFromClaims(
  em: EntityManager,
  claims: TokenClaims,
  known: KnownUsers,
  options: IdentifyOptions,
): Promise<string> {
  const remembered = known.get(claims.externalId);
  if (remembered && changesNothing(claims, remembered)) return remembered.id;
  let user = await readUser(em, claims.externalId);
  if (!user || !changesNothing(claims, user)) {
    const before = user;
    const email = claims.email;
    const { written, ...upserted } =
      email === undefined
        ? await upsert(em, claims)
        : await withTransactionRetry(em, async (tx) => {
            await tx.execute(EMAIL_LOCK_SQL, [email]);
            const result = await upsert(tx, claims);
            const addressChanged = before?.email !== result.email || before?.emailVerified !== result.emailVerified;
            if (result.written && addressChanged && isTrustedEmail(result.emailVerified, options.requireEmailVerified)) {
              await claimPendingShares(tx, new AuditLog(options.requestId), { id: result.id, email });
            }
            return result;
          });
    if (written) options.onWrite?.();
    user = upserted;
  }
  known.set(claims.externalId, user, Date.now() + KNOWN_USER_HOLD_MS);
  return user.id;
}

/**
 * A claim the token leaves out keeps the stored value. `email_verified` belongs to the address: a token that says
 * nothing of it keeps what was stored for the same address, and a new address it says nothing of is unknown (null).
 */
function changesNothing(claims: TokenClaims, user: KnownUser): boolean {
  if ((claims.displayName ?? user.displayName) !== user.displayName) return false;
  if (claims.email === undefined) return true;
  return claims.email === user.email && (claims.emailVerified ?? user.emailVerified) === user.emailVerified;
}

/** `changesNothing`'s rule for `email_verified`, over the upsert's `excluded` (the claims) and `users` (the row). */
const NEXT_EMAIL_VERIFIED = `case when excluded.email is null then users.email_verified
                                 when excluded.email_verified is not null then excluded.email_verified
                                 when excluded.email = users.email then users.email_verified end`;

async function upsert(em: EntityManager, claims: TokenClaims): Promise<KnownUser & { written: boolean }> {
  const [row] = await em.execute<Array<UserRow & { written: boolean }>>(
    `with upserted as (
       insert into users (external_id, email, email_verified, display_name) values (?, ?, ?, ?)
       on conflict (external_id) do update
         set email = coalesce(excluded.email, users.email),
             email_verified = ${NEXT_EMAIL_VERIFIED},
             display_name = coalesce(excluded.display_name, users.display_name)
         where users.email is distinct from coalesce(excluded.email, users.email)
            or users.email_verified is distinct from ${NEXT_EMAIL_VERIFIED}
            or users.display_name is distinct from coalesce(excluded.display_name, users.display_name)
       returning id, email, email_verified, display_name
     )
     select id, email, email_verified, display_name, true as written from upserted
     union all
     select id, email, email_verified, display_name, false from users where external_id = ?
     limit 1`,
    [
      claims.externalId,
      claims.email ?? null,
      claims.email === undefined ? null : (claims.emailVerified ?? null),
      claims.displayName ?? null,
      claims.externalId,
    ],
  );
  if (row) return { ...knownUserOf(row), written: row.written };
  // The same caller's first requests raced: another one inserted the row after this statement's snapshot was taken,
  // so neither half of it returned the row. A new statement sees it.
  return { ...(await readUser(em, claims.externalId))!, written: false };
}

interface UserRow {
  id: string;
  email: string | null;
  email_verified: boolean | null;
  display_name: string | null;
}

function knownUserOf(row: UserRow): KnownUser {
  return { id: row.id, email: row.email, emailVerified: row.email_verified, displayName: row.display_name };
}

async function readUser(em: EntityManager, externalId: string): Promise<KnownUser | undefined> {
  const [row] = await em.execute<UserRow[]>('select id, email, email_verified, display_name from users where external_id = ?', [
    externalId,
  ]);
  return row && knownUserOf(row);
}
