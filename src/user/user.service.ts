import type { EntityManager } from '@mikro-orm/postgresql';
import type { TokenClaims } from '../auth/token-verifier';

/**
 * Users come from the identity provider's tokens: the first request creates the row, later ones refresh its email
 * and name when they changed. One statement either way, and writes only when something changed.
 */
export async function upsertUserFromClaims(em: EntityManager, claims: TokenClaims): Promise<string> {
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
