import type { EntityManager } from '@mikro-orm/postgresql';
import { AuditAction } from '../audit/audit-action';
import type { AuditLog } from '../audit/audit-log';
import type { Actor } from '../auth/actor';
import { LruCache } from '../cache/lru-cache';
import { withTransactionRetry } from '../db/transaction-retry';
import { KNOWN_USER_HOLD_MS, MAX_KNOWN_USERS } from '../user/user.service';
import { TeamRole } from './team-role';

interface MembershipChanges {
  /** Teams following one of the caller's groups, which the caller is not a member of. */
  join: string[];
  /** Teams following a group the caller is no longer in, which the caller is a member of. */
  leave: string[];
}

/**
 * Keeps a caller's membership of teams that follow an identity provider group (`teams.external_id`) in step with the
 * groups their token names (TEAMS_CLAIM): joined as `member` when a group appears, removed when it goes, whatever
 * their role (access follows the identity provider, so a group's last maintainer may leave it with members only:
 * staff then name a maintainer). Teams without an external id are left alone.
 *
 * Like the caller's own row (user.service.ts), a request whose groups this process last saw in step costs no
 * statement, and one it does not know costs one read: only a real change writes, so a read request takes no
 * transaction id. What was seen is held for a while only, so that a team that starts following a group (or a member a
 * maintainer removed) is put in step again within that time even when the token's groups stay the same.
 */
export class TeamClaimSync {
  private readonly inStep = new LruCache<string, string>(MAX_KNOWN_USERS);

  async keepInStep(em: EntityManager, actor: Actor, groups: readonly string[], audit: AuditLog, onWrite?: () => void): Promise<void> {
    const seen = JSON.stringify(groups);
    if (this.inStep.get(actor.userId) === seen) return;
    const changes = await changesOf(em, actor.userId, groups);
    if (changes.join.length + changes.leave.length > 0) {
      await withTransactionRetry(em, async (tx) => {
        // The teams' rows first, in one order, as every membership change takes them: then the changes as they are now.
        await tx.execute(
          'select id from teams where id in (select wanted::uuid from jsonb_array_elements_text(?::jsonb) as wanted) order by id for update',
          [JSON.stringify([...changes.join, ...changes.leave])],
        );
        const { join, leave } = await changesOf(tx, actor.userId, groups);
        const joined = await tx.execute<Array<{ teamId: string }>>(
          `insert into team_members (team_id, user_id, role)
           select wanted::uuid, ?, ? from jsonb_array_elements_text(?::jsonb) as wanted
           on conflict (team_id, user_id) do nothing
           returning team_id as "teamId"`,
          [actor.userId, TeamRole.MEMBER, JSON.stringify(join)],
        );
        const left = await tx.execute<Array<{ teamId: string }>>(
          `delete from team_members
           where user_id = ? and team_id in (select wanted::uuid from jsonb_array_elements_text(?::jsonb) as wanted)
           returning team_id as "teamId"`,
          [actor.userId, JSON.stringify(leave)],
        );
        for (const { teamId } of joined) {
          await audit.record(tx, actor, {
            action: AuditAction.TEAM_MEMBERS_ADDED,
            subjectId: teamId,
            details: { userIds: [actor.userId], role: TeamRole.MEMBER, viaTeamsClaim: true },
          });
        }
        for (const { teamId } of left) {
          await audit.record(tx, actor, {
            action: AuditAction.TEAM_MEMBERS_REMOVED,
            subjectId: teamId,
            details: { userIds: [actor.userId], viaTeamsClaim: true },
          });
        }
      });
      onWrite?.();
    }
    this.inStep.set(actor.userId, seen, Date.now() + KNOWN_USER_HOLD_MS);
  }
}

async function changesOf(em: EntityManager, userId: string, groups: readonly string[]): Promise<MembershipChanges> {
  const rows = await em.execute<Array<{ id: string; wanted: boolean; member: boolean }>>(
    `select t.id, true as wanted,
            exists (select 1 from team_members m where m.team_id = t.id and m.user_id = ?) as member
     from teams t
     where t.external_id in (select g from jsonb_array_elements_text(?::jsonb) as g)
     union all
     select t.id, false, true
     from team_members m join teams t on t.id = m.team_id
     where m.user_id = ? and t.external_id is not null
       and t.external_id not in (select g from jsonb_array_elements_text(?::jsonb) as g)
     order by id`,
    [userId, JSON.stringify(groups), userId, JSON.stringify(groups)],
  );
  return {
    join: rows.filter((row) => row.wanted && !row.member).map((row) => row.id),
    leave: rows.filter((row) => !row.wanted).map((row) => row.id),
  };
}
