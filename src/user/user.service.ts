import type { EntityManager } from '@mikro-orm/postgresql';
import type { TokenClaims } from '../auth/token-verifier';
import type { LruCache } from '../cache/lru-cache';

/** A user's row as this process last read or wrote it: enough to tell that a request's claims change nothing. */
export interface KnownUser {
  id: string;
  email: string | null;
  displayName: string | null;
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
 */
export async function upsertUserFromClaims(
  em: EntityManager,
  claims: TokenClaims,
  known: KnownUsers,
  onWrite?: () => void,
): Promise<string> {
  const remembered = known.get(claims.externalId);
  if (remembered && changesNothing(claims, remembered)) return remembered.id;
  let user = await readUser(em, claims.externalId);
  if (!user || !changesNothing(claims, user)) {
    const { written, ...upserted } = await upsert(em, claims);
    if (written) onWrite?.();
    user = upserted;
  }
  known.set(claims.externalId, user, Date.now() + KNOWN_USER_HOLD_MS);
  return user.id;
}

/** A claim the token leaves out keeps the stored value. */
function changesNothing(claims: TokenClaims, user: KnownUser): boolean {
  return (claims.email ?? user.email) === user.email && (claims.displayName ?? user.displayName) === user.displayName;
}

async function upsert(em: EntityManager, claims: TokenClaims): Promise<KnownUser & { written: boolean }> {
  const [row] = await em.execute<Array<{ id: string; email: string | null; display_name: string | null; written: boolean }>>(
    `with upserted as (
       insert into users (external_id, email, display_name) values (?, ?, ?)
       on conflict (external_id) do update
         set email = coalesce(excluded.email, users.email),
             display_name = coalesce(excluded.display_name, users.display_name)
         where users.email is distinct from coalesce(excluded.email, users.email)
            or users.display_name is distinct from coalesce(excluded.display_name, users.display_name)
       returning id, email, display_name
     )
     select id, email, display_name, true as written from upserted
     union all
     select id, email, display_name, false from users where external_id = ?
     limit 1`,
    [claims.externalId, claims.email ?? null, claims.displayName ?? null, claims.externalId],
  );
  if (row) return { id: row.id, email: row.email, displayName: row.display_name, written: row.written };
  // The same caller's first requests raced: another one inserted the row after this statement's snapshot was taken,
  // so neither half of it returned the row. A new statement sees it.
  return { ...(await readUser(em, claims.externalId))!, written: false };
}

async function readUser(em: EntityManager, externalId: string): Promise<KnownUser | undefined> {
  const [row] = await em.execute<Array<{ id: string; email: string | null; display_name: string | null }>>(
    'select id, email, display_name from users where external_id = ?',
    [externalId],
  );
  return row && { id: row.id, email: row.email, displayName: row.display_name };
}
