import { isStaff, type Actor } from '../auth/actor';
import type { SqlValues } from '../db/sql';

/**
 * The one visibility rule for teams, as SQL over a team alias: its members see it, staff see every team, nobody else
 * sees any. A hidden team answers as one that does not exist.
 */
export function visibleTeams(alias: string, actor: Actor | null, values: SqlValues): string {
  if (!actor) return 'false';
  if (isStaff(actor)) return 'true';
  return (
    `exists (select 1 from team_members visible_member ` +
    `where visible_member.team_id = ${alias}.id and visible_member.user_id = ${values.bind(actor.userId)}::uuid)`
  );
}
