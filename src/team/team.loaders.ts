import DataLoader from 'dataloader';
import type { ActorLookup } from '../auth/actor';
import { SqlValues, type Reader } from '../db/sql';
import { canonicalUuid } from '../db/uuid';
import type { UsersSeen } from '../template/template-rows';
import { memberColumns, memberOf, teamColumns, teamOf, type TeamMemberRecord, type TeamRecord } from './team-rows';
import { visibleTeams } from './team-visibility';

/** Per-request batch loaders for teams; each batch is one statement. Members' users go to `usersSeen`. */
export function createTeamLoaders(reader: Reader, actor: ActorLookup, usersSeen: UsersSeen) {
  return {
    /** Only teams the caller may see: a hidden one loads as null, like a missing one. */
    visibleTeamById: new DataLoader<string, TeamRecord | null>(async (givenIds) => {
      const ids = [...new Set(givenIds.map(canonicalUuid).filter((id) => id !== undefined))];
      if (ids.length === 0) return givenIds.map(() => null);
      const values = new SqlValues();
      const wanted = values.bind(ids);
      const rows = await reader.rows(
        `select ${teamColumns('t')} from teams t where t.id = any(${wanted}::uuid[]) and ${visibleTeams('t', await actor(), values)}`,
        values.values,
      );
      const byId = new Map(rows.map((row) => [row.id as string, teamOf(row)]));
      return givenIds.map((id) => byId.get(canonicalUuid(id) ?? '') ?? null);
    }),

    /** Every member of each team with their role: maintainers first, then by when they joined. */
    membersByTeamId: new DataLoader<string, TeamMemberRecord[]>(async (teamIds) => {
      const rows = await reader.rows(
        `select ${memberColumns('m', 'u')}
         from team_members m join users u on u.id = m.user_id
         where m.team_id = any($1::uuid[])
         order by m.team_id, m.role = 'maintainer' desc, m.added_at, m.user_id`,
        [teamIds],
      );
      const byTeam = new Map<string, TeamMemberRecord[]>(teamIds.map((id) => [id, []]));
      for (const row of rows) {
        const member = memberOf(row);
        usersSeen(member.user);
        byTeam.get(member.teamId)!.push(member);
      }
      return teamIds.map((id) => byTeam.get(id)!);
    }),

    /** The teams each template is shared with, in sharing order: one statement for every template of the batch. */
    sharedTeamsByTemplateId: new DataLoader<string, TeamRecord[]>(async (templateIds) => {
      const rows = await reader.rows<Record<string, unknown> & { templateId: string }>(
        `select s.template_id as "templateId", ${teamColumns('t')}
         from experiment_template_team_shares s join teams t on t.id = s.team_id
         where s.template_id = any($1::uuid[])
         order by s.shared_at, s.team_id`,
        [templateIds],
      );
      const byTemplate = new Map<string, TeamRecord[]>(templateIds.map((id) => [id, []]));
      for (const row of rows) byTemplate.get(row.templateId)!.push(teamOf(row));
      return templateIds.map((id) => byTemplate.get(id)!);
    }),
  };
}

/** The teams `userId` is a member of, by name. */
export async function teamsOfMember(reader: Reader, userId: string): Promise<TeamRecord[]> {
  const rows = await reader.rows(
    `select ${teamColumns('t')}
     from team_members m join teams t on t.id = m.team_id
     where m.user_id = $1::uuid
     order by t.name, t.id`,
    [userId],
  );
  return rows.map(teamOf);
}
