import type { EntityManager } from '@mikro-orm/postgresql';
import type { TokenClaims } from '../auth/token-verifier';

/**
 * Users come from the identity provider's tokens: the first request creates the row, later ones refresh its email
 * and name when they changed. A known caller with unchanged claims costs one read: an upsert that changes nothing
 * still locks the row, takes a transaction id and flushes WAL, which a read request must not do.
 */
export async function upsertUserFromClaims(em: EntityManager, claims: TokenClaims): Promise<string> {
  const [known] = await em.execute<Array<{ id: string; email: string | null; display_name: string | null }>>(
    'select id, email, display_name from users where external_id = ?',
    [claims.externalId],
  );
  const unchanged =
    known !== undefined &&
    (claims.email ?? known.email) === known.email &&
    (claims.displayName ?? known.display_name) === known.display_name;
  if (unchanged) return known.id;
  const rows = await em.execute<Array<{ id: string }>>(
    `with upserted as (
       insert into users (external_id, email, display_name) values (?, ?, ?)
       on conflict (external_id) do update
         set email = coalesce(excluded.email, users.email),
             display_name = coalesce(excluded.display_name, users.display_name)
         where users.email is distinct from coalesce(excluded.email, users.email)
            or users.display_name is distinct from coalesce(excluded.display_name, users.display_name)
       returning id
     )
     select id from upserted
     union all
     select id from users where external_id = ?
     limit 1`,
    [claims.externalId, claims.email ?? null, claims.displayName ?? null, claims.externalId],
  );
  return rows[0].id;
}
