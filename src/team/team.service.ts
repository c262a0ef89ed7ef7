import type { EntityManager } from '@mikro-orm/postgresql';
import { AuditAction } from '../audit/audit-action';
import type { AuditLog } from '../audit/audit-log';
import { isStaff, type Actor } from '../auth/actor';
import { Sql, SqlValues } from '../db/sql';
import { withTransactionRetry } from '../db/transaction-retry';
import { canonicalUuid } from '../db/uuid';
import { ConflictError, ConflictReason, ForbiddenError, NotFoundError, ValidationError, type FieldError } from '../errors/domain-error';
import { throwIfInvalid } from '../validation/field-errors';
import { MAX_IDS_PER_CALL, parseIds } from '../validation/ids';
import { parseStorableText } from '../validation/storable';
import { TeamRole } from './team-role';
import { teamColumns, teamOf, type TeamRecord } from './team-rows';
import { visibleTeams } from './team-visibility';

export const TEAM_NAME_MAX_LENGTH = 255;
export const EXTERNAL_ID_MAX_LENGTH = 255;

/** Who may change a team: any member (leaving), or its maintainers (and staff, on any team). */
type TeamPower = 'member' | 'maintainer';

export interface AddMembersInput {
  userIds?: string[] | null;
  emails?: string[] | null;
  role?: TeamRole | null;
}

/**
 * Teams and their members. Every change locks the team's row first, so changes to one team queue up: the
 * last-maintainer rule is checked against the members as they are, and each effective change writes one event in its
 * own transaction. A team the caller may not see is NOT_FOUND, as one that does not exist; a member who is not a
 * maintainer is FORBIDDEN to manage it. Staff manage every team, their events marked as staff's.
 */
export class TeamService {
  constructor(
    private readonly em: EntityManager,
    private readonly audit: AuditLog,
  ) {}

  /** A new team with its creator as its first maintainer, and its event, in one statement. */
  async create(actor: Actor, name: unknown): Promise<TeamRecord> {
    const errors: FieldError[] = [];
    const checkedName = parseTeamName(name, '/name', errors);
    throwIfInvalid(errors);
    const values = new SqlValues();
    const [row] = await Sql.of(this.em).rows(
      `with team as (
         insert into teams (name, created_by) values (${values.bind(checkedName)}, ${values.bind(actor.userId)}::uuid)
         returning *
       ), creator as (
         insert into team_members (team_id, user_id, role) select team.id, team.created_by, 'maintainer' from team
       ), audit_event as (
         ${this.audit.insertSql(values, actor, AuditAction.TEAM_CREATED, { sql: 'team.id' }, { name: checkedName }, 'team')}
       )
       select ${teamColumns('team')} from team`,
      values.values,
    );
    return teamOf(row);
  }

  async rename(actor: Actor, teamId: string, name: unknown): Promise<TeamRecord> {
    const errors: FieldError[] = [];
    const checkedName = parseTeamName(name, '/name', errors);
    throwIfInvalid(errors);
    return withTransactionRetry(this.em, async (em) => {
      const team = await this.lockTeam(em, actor, teamId, 'maintainer');
      if (team.name === checkedName) return team;
      const [renamed] = await em.execute<Array<Record<string, unknown>>>(
        `update teams t set name = ?, updated_at = now() where t.id = ? returning ${teamColumns('t')}`,
        [checkedName, team.id],
      );
      await this.audit.record(em, actor, {
        action: AuditAction.TEAM_RENAMED,
        subjectId: team.id,
        details: { from: team.name, to: checkedName },
      });
      return teamOf(renamed);
    });
  }

  /**
   * Adds users by id or by email (a known user's, matched case-insensitively as emails are stored: lower case), with
   * one role for all; members already in keep theirs. An unknown id is BAD_USER_INPUT at its path; an unknown email
   * NOT_FOUND at its path (nobody has signed in with it: invitations are not kept).
   */
  async addMembers(actor: Actor, teamId: string, input: AddMembersInput): Promise<TeamRecord> {
    const errors: FieldError[] = [];
    const userIds = parseIds(input.userIds ?? [], '/userIds', 'user', errors, { allowEmpty: true });
    const emails = parseEmails(input.emails ?? [], '/emails', errors);
    const role = parseRole(input.role ?? TeamRole.MEMBER, '/role', errors);
    if (errors.length === 0 && userIds!.length + emails!.length === 0) {
      errors.push({ path: '/userIds', message: 'must list at least one user, here or in emails' });
    }
    if (errors.length === 0 && userIds!.length + emails!.length > MAX_IDS_PER_CALL) {
      errors.push({ path: '/userIds', message: `must list at most ${MAX_IDS_PER_CALL} users, with emails` });
    }
    throwIfInvalid(errors);
    return withTransactionRetry(this.em, async (em) => {
      const team = await this.lockTeam(em, actor, teamId, 'maintainer');
      const found = await em.execute<Array<{ id: string; email: string | null }>>(
        `select u.id, u.email from users u
         where u.id in (select wanted::uuid from jsonb_array_elements_text(?::jsonb) as wanted)
            or u.email in (select wanted from jsonb_array_elements_text(?::jsonb) as wanted)`,
        [JSON.stringify(userIds), JSON.stringify(emails)],
      );
      const knownIds = new Set(found.map((user) => user.id));
      const unknownIds = userIds!.flatMap((id, index) =>
        knownIds.has(id) ? [] : [{ path: `/userIds/${index}`, message: 'no such user' }],
      );
      if (unknownIds.length > 0) throw new ValidationError(unknownIds);
      const idOfEmail = new Map(found.flatMap((user) => (user.email ? [[user.email, user.id] as const] : [])));
      const unknownEmail = emails!.findIndex((email) => !idOfEmail.has(email));
      if (unknownEmail >= 0) throw new NotFoundError('User with this email', `/emails/${unknownEmail}`);
      const wanted = [...new Set([...userIds!, ...emails!.map((email) => idOfEmail.get(email)!)])];
      const added = await em.execute<Array<{ userId: string }>>(
        `insert into team_members (team_id, user_id, role)
         select ?, wanted::uuid, ? from jsonb_array_elements_text(?::jsonb) as wanted
         on conflict (team_id, user_id) do nothing
         returning user_id as "userId"`,
        [team.id, role, JSON.stringify(wanted)],
      );
      await this.recordMembers(em, actor, team.id, AuditAction.TEAM_MEMBERS_ADDED, wanted, added, { role });
      return team;
    });
  }

  /** Removes members (ids that are not members change nothing); never the team's last maintainer. */
  async removeMembers(actor: Actor, teamId: string, givenUserIds: string[]): Promise<TeamRecord> {
    const errors: FieldError[] = [];
    const userIds = parseIds(givenUserIds, '/userIds', 'user', errors)!;
    throwIfInvalid(errors);
    return withTransactionRetry(this.em, async (em) => {
      const team = await this.lockTeam(em, actor, teamId, 'maintainer');
      await this.remove(em, actor, team, userIds);
      return team;
    });
  }

  /** The caller leaves the team; its last maintainer cannot (CONFLICT). Returns the team's id. */
  async leave(actor: Actor, teamId: string): Promise<string> {
    return withTransactionRetry(this.em, async (em) => {
      // Staff who are not members have nothing to leave: for them as for anyone, the team is not one of theirs.
      const team = await this.lockTeam(em, { ...actor, roles: [] }, teamId, 'member');
      await this.remove(em, actor, team, [actor.userId]);
      return team.id;
    });
  }

  async setMemberRole(actor: Actor, teamId: string, givenUserId: string, givenRole: TeamRole): Promise<TeamRecord> {
    const errors: FieldError[] = [];
    const userId = canonicalUuid(givenUserId);
    if (!userId) errors.push({ path: '/userId', message: 'must be a user id (UUID)' });
    const role = parseRole(givenRole, '/role', errors);
    throwIfInvalid(errors);
    return withTransactionRetry(this.em, async (em) => {
      const team = await this.lockTeam(em, actor, teamId, 'maintainer');
      const [member] = await em.execute<Array<{ role: TeamRole }>>('select role from team_members where team_id = ? and user_id = ?', [
        team.id,
        userId,
      ]);
      if (!member) throw ValidationError.at('/userId', 'is not a member of the team');
      if (member.role === role) return team;
      if (member.role === TeamRole.MAINTAINER) await this.keepAMaintainer(em, team, [userId!]);
      await em.execute('update team_members set role = ? where team_id = ? and user_id = ?', [role, team.id, userId]);
      await this.audit.record(em, actor, {
        action: AuditAction.TEAM_MEMBER_ROLE_CHANGED,
        subjectId: team.id,
        details: { userId, from: member.role, to: role },
      });
      return team;
    });
  }

  /** Deletes the team with its memberships and template shares (maintainers and staff). Returns its id. */
  async delete(actor: Actor, teamId: string): Promise<string> {
    return withTransactionRetry(this.em, async (em) => {
      const team = await this.lockTeam(em, actor, teamId, 'maintainer');
      const [{ memberCount }] = await em.execute<Array<{ memberCount: number }>>(
        'select count(*)::integer as "memberCount" from team_members where team_id = ?',
        [team.id],
      );
      await em.execute('delete from teams where id = ?', [team.id]);
      await this.audit.record(em, actor, {
        action: AuditAction.TEAM_DELETED,
        subjectId: team.id,
        details: { name: team.name, memberCount },
      });
      return team.id;
    });
  }

  /**
   * Staff only (the resolver checks the role): the identity provider's group this team follows, or null to stop.
   * From then on, each member's token claim (TEAMS_CLAIM) adds and removes them.
   */
  async setExternalId(actor: Actor, teamId: string, externalId: unknown): Promise<TeamRecord> {
    const errors: FieldError[] = [];
    const checked = externalId === null || externalId === undefined ? null : parseExternalId(externalId, '/externalId', errors);
    throwIfInvalid(errors);
    return withTransactionRetry(this.em, async (em) => {
      const team = await this.lockTeam(em, actor, teamId, 'maintainer');
      if (team.externalId === checked) return team;
      if (checked !== null) {
        // Under the lock of the team that holds it, if any: two staff naming one group for two teams queue here.
        const [holder] = await em.execute<Array<{ id: string }>>('select id from teams where external_id = ? for update', [checked]);
        if (holder) {
          throw new ConflictError('Another team already follows this group', ConflictReason.ExternalIdTaken, { teamId: holder.id });
        }
      }
      const [changed] = await em.execute<Array<Record<string, unknown>>>(
        `update teams t set external_id = ?, updated_at = now() where t.id = ? returning ${teamColumns('t')}`,
        [checked, team.id],
      );
      await this.audit.record(em, actor, {
        action: AuditAction.TEAM_EXTERNAL_ID_CHANGED,
        subjectId: team.id,
        details: { from: team.externalId, to: checked },
      });
      return teamOf(changed);
    });
  }

  private async remove(em: EntityManager, actor: Actor, team: TeamRecord, userIds: string[]): Promise<void> {
    await this.keepAMaintainer(em, team, userIds);
    const removed = await em.execute<Array<{ userId: string }>>(
      `delete from team_members
       where team_id = ? and user_id in (select wanted::uuid from jsonb_array_elements_text(?::jsonb) as wanted)
       returning user_id as "userId"`,
      [team.id, JSON.stringify(userIds)],
    );
    await this.recordMembers(em, actor, team.id, AuditAction.TEAM_MEMBERS_REMOVED, userIds, removed);
  }

  /** CONFLICT when no maintainer would be left once `leaving` are no longer maintainers. The team row is locked. */
  private async keepAMaintainer(em: EntityManager, team: TeamRecord, leaving: string[]): Promise<void> {
    const [{ remaining }] = await em.execute<Array<{ remaining: number }>>(
      `select count(*)::integer as remaining from team_members
       where team_id = ? and role = 'maintainer'
         and user_id not in (select wanted::uuid from jsonb_array_elements_text(?::jsonb) as wanted)`,
      [team.id, JSON.stringify(leaving)],
    );
    if (remaining === 0) {
      throw new ConflictError(
        'A team must keep at least one maintainer: make another member a maintainer first, or delete the team',
        ConflictReason.LastMaintainer,
      );
    }
  }

  /** One event naming the users really added or removed, in the order asked; none when none. */
  private async recordMembers(
    em: EntityManager,
    actor: Actor,
    teamId: string,
    action: AuditAction.TEAM_MEMBERS_ADDED | AuditAction.TEAM_MEMBERS_REMOVED,
    asked: string[],
    changed: Array<{ userId: string }>,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    if (changed.length === 0) return;
    const changedIds = new Set(changed.map((row) => row.userId));
    const userIds = [...new Set(asked)].filter((userId) => changedIds.has(userId));
    await this.audit.record(em, actor, { action, subjectId: teamId, details: { userIds, ...details } });
  }

  /**
   * Locks the team's row for the rest of the transaction once the caller may see it (NOT_FOUND otherwise, as for an
   * unknown id) and has `power` over it (FORBIDDEN otherwise); staff have every power.
   */
  private async lockTeam(em: EntityManager, actor: Actor, teamId: string, power: TeamPower): Promise<TeamRecord> {
    const id = canonicalUuid(teamId);
    if (!id) throw new NotFoundError('Team');
    const values = new SqlValues('question');
    const [row] = await em.execute<Array<Record<string, unknown> & { callerRole: TeamRole | null }>>(
      `select ${teamColumns('t')},
              (select m.role from team_members m where m.team_id = t.id and m.user_id = ${values.bind(actor.userId)}::uuid) as "callerRole"
       from teams t
       where t.id = ${values.bind(id)}::uuid and ${visibleTeams('t', actor, values)}
       for update of t`,
      values.values,
    );
    if (!row) throw new NotFoundError('Team');
    if (power === 'maintainer' && row.callerRole !== TeamRole.MAINTAINER && !isStaff(actor)) {
      throw new ForbiddenError('Only a maintainer of the team may do this');
    }
    return teamOf(row);
  }
}

function parseTeamName(name: unknown, path: string, errors: FieldError[]): string | undefined {
  if (typeof name !== 'string' || name.trim().length === 0) {
    errors.push({ path, message: 'must not be empty' });
    return undefined;
  }
  const trimmed = name.trim();
  if (trimmed.length > TEAM_NAME_MAX_LENGTH) {
    errors.push({ path, message: `must be at most ${TEAM_NAME_MAX_LENGTH} characters` });
    return undefined;
  }
  return parseStorableText(trimmed, path, errors);
}

function parseExternalId(externalId: unknown, path: string, errors: FieldError[]): string | undefined {
  if (typeof externalId !== 'string' || externalId.trim().length === 0) {
    errors.push({ path, message: 'must not be empty (null stops following a group)' });
    return undefined;
  }
  if (externalId.length > EXTERNAL_ID_MAX_LENGTH) {
    errors.push({ path, message: `must be at most ${EXTERNAL_ID_MAX_LENGTH} characters` });
    return undefined;
  }
  // Exactly as the identity provider writes the group: claims are matched as they come.
  return parseStorableText(externalId, path, errors);
}

function parseRole(role: unknown, path: string, errors: FieldError[]): TeamRole | undefined {
  if (role === TeamRole.MEMBER || role === TeamRole.MAINTAINER) return role;
  errors.push({ path, message: 'must be MEMBER or MAINTAINER' });
  return undefined;
}

/** Emails as users' rows hold them (trimmed, lower case), in the order given. */
function parseEmails(emails: string[], path: string, errors: FieldError[]): string[] | undefined {
  if (emails.length > MAX_IDS_PER_CALL) {
    errors.push({ path, message: `must list at most ${MAX_IDS_PER_CALL} emails` });
    return undefined;
  }
  const before = errors.length;
  const parsed = emails.map((email, index) => {
    const normalized = email.trim().toLowerCase();
    if (normalized.length === 0 || normalized.length > 320 || !normalized.includes('@')) {
      errors.push({ path: `${path}/${index}`, message: 'must be an email address' });
      return normalized;
    }
    return parseStorableText(normalized, `${path}/${index}`, errors) ?? normalized;
  });
  return errors.length === before ? parsed : undefined;
}
