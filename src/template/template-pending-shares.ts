import type { EntityManager } from '@mikro-orm/postgresql';
import { AuditAction } from '../audit/audit-action';
import type { AuditLog } from '../audit/audit-log';
import { SqlValues } from '../db/sql';

/**
 * Turns the pending shares of `email` into shares of the user who now holds it, in the caller's transaction (the
 * write of that user's row, under the address's lock: `EMAIL_LOCK_SQL`), in one statement. Each claimed pending share
 * is one `TEMPLATE_PENDING_SHARE_CLAIMED` event on its template, acted by that user: they caused it by signing in, and
 * an event's actor is a user. A pending share of the template's own owner (an address they share with themselves
 * while it does not stand for them) is claimed without a share, as sharing with oneself is.
 */
export async function claimPendingShares(em: EntityManager, audit: AuditLog, user: { id: string; email: string }): Promise<number> {
  const values = new SqlValues('question');
  const rows = await em.execute<Array<{ claimed: number }>>(
    `with claimed as (
       delete from template_pending_shares p where p.email = ${values.bind(user.email)}::text
       returning p.template_id, p.invited_by
     ), shared as (
       insert into experiment_template_shares (template_id, user_id, shared_by)
       select c.template_id, ${values.bind(user.id)}::uuid, c.invited_by
       from claimed c join experiment_templates t on t.id = c.template_id and t.created_by <> ${values.bind(user.id)}::uuid
       on conflict (template_id, user_id) do nothing
     ), audited as (
       ${audit.insertSql(
         values,
         { userId: user.id, roles: [] },
         AuditAction.TEMPLATE_PENDING_SHARE_CLAIMED,
         { sql: 'c.template_id' },
         { email: user.email, userId: user.id },
         'claimed c',
       )}
     )
     select count(*)::int as claimed from claimed`,
    values.values,
  );
  return rows[0].claimed;
}
