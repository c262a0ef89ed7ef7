import { userColumns, userOf, type UserRecord } from '../user/user-rows';
import type { TeamRole } from './team-role';
import type { Team } from './team.entity';

/** A team as reads (and TeamService) return it: its columns as a plain object. */
export type TeamRecord = Pick<Team, 'id' | 'name' | 'externalId' | 'createdAt' | 'updatedAt'>;

/** A member as reads return them: the user read along with the membership. */
export interface TeamMemberRecord {
  teamId: string;
  user: UserRecord;
  role: TeamRole;
  addedAt: Date;
}

/** The columns of a TeamRecord over alias `alias`. */
export function teamColumns(alias: string): string {
  return (
    `${alias}.id, ${alias}.name, ${alias}.external_id as "externalId", ` +
    `${alias}.created_at as "createdAt", ${alias}.updated_at as "updatedAt"`
  );
}

/** The team in a row selected with `teamColumns` (other columns of the row are left out). */
export function teamOf(row: Record<string, unknown>): TeamRecord {
  return {
    id: row.id as string,
    name: row.name as string,
    externalId: row.externalId as string | null,
    createdAt: row.createdAt as Date,
    updatedAt: row.updatedAt as Date,
  };
}

/** The columns of a TeamMemberRecord over a membership alias `m` and a user alias `u`. */
export function memberColumns(membership: string, user: string): string {
  return `${membership}.team_id as "teamId", ${membership}.role, ${membership}.added_at as "addedAt", ${userColumns(user, 'user_')}`;
}

export function memberOf(row: Record<string, unknown>): TeamMemberRecord {
  return { teamId: row.teamId as string, role: row.role as TeamRole, addedAt: row.addedAt as Date, user: userOf(row, 'user_')! };
}
