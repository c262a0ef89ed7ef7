import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AuditAction } from '../audit/audit-action';
import { DetailsSql, type AuditDetails, type AuditEntry, type AuditLog } from '../audit/audit-log';
import { isStaff, type Actor } from '../auth/actor';
import { Sql, SqlValues } from '../db/sql';
import { withRetry, withTransactionRetry } from '../db/transaction-retry';
import { canonicalUuid } from '../db/uuid';
import { ConflictError, ConflictReason, ForbiddenError, NotFoundError, ValidationError, type FieldError } from '../errors/domain-error';
import { throwIfInvalid } from '../validation/field-errors';
import { MAX_IDS_PER_CALL, parseIds } from '../validation/ids';
import { User } from '../user/user.entity';
import { EMAIL_LOCK_SQL, parseEmail, trustedEmailSql } from '../user/user-email';
import { ExperimentTemplate } from './template.entity';
import { parseTemplateDocument } from './template-document';
import { LATEST_CONFIGURATION_SCHEMA_VERSION, type Configuration, type ConfigurationSchemaVersion } from './configuration-schema';
import { parseUpgradedConfiguration } from './configuration-validator';
import {
  CHANGE_NOTE_MAX_LENGTH,
  NAME_MAX_LENGTH,
  changedContentFields,
  contentOf,
  parseChangeNote,
  parseTemplateContent,
  parseTemplateContentPatch,
  type TemplateContent,
  type TemplateContentInput,
} from './template-content';
import { templateColumns, templateOf, type TemplateRecord, type TemplateRow } from './template-rows';
import { findVisibleTemplates } from './template-visibility';
import { visibleTeams } from '../team/team-visibility';

export interface CreateTemplateInput extends TemplateContentInput {
  isPublic?: boolean;
  changeNote?: unknown;
}

export interface ChangeOptions {
  /** The version the client edited; the change fails with CONFLICT when the template has moved on since. */
  expectedVersion?: number;
  changeNote?: unknown;
}

export class TemplateService {
  constructor(
    private readonly em: EntityManager,
    private readonly audit: AuditLog,
    /** `REQUIRE_EMAIL_VERIFIED` (src/user/user-email.ts). */
    private readonly requireEmailVerified = false,
  ) {}

  async create(actor: Actor, input: CreateTemplateInput): Promise<TemplateRecord> {
    return this.insert(actor, input, (content) => ({ action: AuditAction.TEMPLATE_CREATED, details: { name: content.name } }));
  }

  /**
   * Changes content and writes the next version in one statement (`writeNextVersion`): concurrent updates queue up on
   * the row's lock, none is lost, no version number is taken twice.
   */
  async update(actor: Actor, id: string, input: TemplateContentInput, options: ChangeOptions = {}): Promise<TemplateRecord> {
    const errors: FieldError[] = [];
    const patch = parseTemplateContentPatch(input, errors);
    const changeNote = parseChangeNote(options.changeNote, '/changeNote', errors);
    throwIfInvalid(errors);
    return this.changeContent(actor, id, patch, {
      expectedVersion: options.expectedVersion,
      changeNote,
      action: AuditAction.TEMPLATE_UPDATED,
    });
  }

  /**
   * The template's configuration upgraded to the latest schema version, as its next version (an audited update whose
   * details name the upgrade). A template already at the latest is returned as it is: nothing is written.
   */
  async upgradeSchema(actor: Actor, id: string, options: ChangeOptions = {}): Promise<TemplateRecord> {
    const errors: FieldError[] = [];
    const changeNote = parseChangeNote(options.changeNote, '/changeNote', errors);
    throwIfInvalid(errors);
    return this.changeContent(
      actor,
      id,
      {},
      {
        expectedVersion: options.expectedVersion,
        changeNote: changeNote ?? `Upgraded to configuration schema version ${LATEST_CONFIGURATION_SCHEMA_VERSION}`,
        action: AuditAction.TEMPLATE_UPDATED,
        upgrade: true,
      },
    );
  }

  /**
   * A new template from a portable document (`template-document.ts`), with every check creation has; errors point
   * into the document (`/document/...`). Its history starts at version 1 here.
   */
  async importDocument(
    actor: Actor,
    document: Record<string, unknown>,
    options: { isPublic?: boolean; changeNote?: unknown } = {},
  ): Promise<TemplateRecord> {
    const errors: FieldError[] = [];
    const content = parseTemplateDocument(document, '/document', errors);
    throwIfInvalid(errors);
    const source = document.source as { templateId?: unknown; version?: unknown } | undefined;
    // What the document says it came from: the caller's claim, which nothing here can check.
    const claimedId = canonicalUuid(source?.templateId);
    const claimedSource = claimedId && Number.isInteger(source?.version) ? { templateId: claimedId, version: source!.version } : null;
    const origin = claimedSource ? ` from template ${claimedSource.templateId} version ${String(claimedSource.version)}` : '';
    const input = {
      ...content!,
      isPublic: options.isPublic,
      changeNote: options.changeNote ?? `Imported${origin}`.slice(0, CHANGE_NOTE_MAX_LENGTH),
    };
    return this.insert(actor, input, (imported) => ({
      action: AuditAction.TEMPLATE_IMPORTED,
      details: { name: imported.name, documentSource: claimedSource },
    }));
  }

  /** Writes an old version's content as a new version: history is never rewritten. */
  async revert(actor: Actor, id: string, toVersion: number, options: ChangeOptions = {}): Promise<TemplateRecord> {
    const errors: FieldError[] = [];
    const changeNote = parseChangeNote(options.changeNote, '/changeNote', errors);
    throwIfInvalid(errors);
    for (;;) {
      const current = await this.readChangeable(actor, id, options.expectedVersion);
      const [snapshot] = await Sql.of(this.em).rows<TemplateContent & { configurationSchemaVersion: number }>(
        `select v.name, v.description, v.category, v.tags, v.configuration, v.configuration_schema_version as "configurationSchemaVersion"
         from experiment_template_versions v where v.template_id = $1::uuid and v.version = $2::integer`,
        [current.id, toVersion],
      );
      if (!snapshot) throw new NotFoundError(`Version ${toVersion} of the template`);
      const sameContent = changedContentFields(contentOf(current), contentOf(snapshot)).length === 0;
      if (sameContent && snapshot.configurationSchemaVersion === current.configurationSchemaVersion) return current;
      const written = await this.writeNextVersion(actor, current.id, upgradedContent(snapshot, '/configuration'), {
        versionRead: current.version,
        changeNote: changeNote ?? `Reverted to version ${toVersion}`,
        action: AuditAction.TEMPLATE_REVERTED,
        details: { restoredVersion: toVersion },
      });
      if (written.kind !== 'moved') return this.outcomeOf(actor, id, written);
    }
  }

  /** A private copy owned by the caller, starting its own history at version 1. */
  async clone(actor: Actor, id: string, options: { name?: unknown } = {}): Promise<TemplateRecord> {
    const [source] = await findVisibleTemplates(this.em, actor, [id]);
    if (!source) throw new NotFoundError('Template');
    if (!source.isActive && source.createdBy.id !== actor.userId) {
      throw new ConflictError('Template is inactive', ConflictReason.TemplateInactive);
    }
    const name = options.name ?? `${source.name} (copy)`.slice(0, NAME_MAX_LENGTH);
    const input = {
      ...upgradedContent(source, '/configuration'),
      name,
      changeNote: `Cloned from template ${source.id} version ${source.version}`,
    };
    return this.insert(actor, input, (content) => ({
      action: AuditAction.TEMPLATE_CLONED,
      details: { name: content.name, sourceTemplateId: source.id, sourceVersion: source.version },
    }));
  }

  async setActive(actor: Actor, id: string, isActive: boolean): Promise<ExperimentTemplate> {
    return this.changeSettings(actor, id, (template) => {
      if (template.isActive === isActive) return null;
      template.isActive = isActive;
      return isActive ? AuditAction.TEMPLATE_REACTIVATED : AuditAction.TEMPLATE_DEACTIVATED;
    });
  }

  async setPublic(actor: Actor, id: string, isPublic: boolean): Promise<ExperimentTemplate> {
    return this.changeSettings(actor, id, (template) => {
      if (template.isPublic === isPublic) return null;
      template.isPublic = isPublic;
      return isPublic ? AuditAction.TEMPLATE_PUBLISHED : AuditAction.TEMPLATE_UNPUBLISHED;
    });
  }

  /**
   * Hard delete: versions and shares go with it (their foreign keys cascade); experiments keep their data and lose the
   * link; its audit events stay, the deletion's among them (they have no foreign key). Returns its id.
   */
  async delete(actor: Actor, id: string): Promise<string> {
    return withTransactionRetry(this.em, async (em) => {
      const template = await this.lockOwned(em, actor, id);
      await em.nativeDelete(ExperimentTemplate, { id: template.id });
      await this.audit.record(em, actor, {
        action: AuditAction.TEMPLATE_DELETED,
        subjectId: template.id,
        details: { name: template.name, version: template.version },
      });
      return template.id;
    });
  }

  /**
   * Shares with users named by id or by email, by its owner or staff (who shares is recorded as `shared_by`, who
   * invites as `invited_by`). An address names the user it may stand for (`trustedEmailSql`; the first to sign in with
   * it when several did); an address that names nobody yet becomes a pending share, claimed when a user holding it
   * signs in (`claimPendingShares`). The owner's own id or address is passed over, harmless, whoever shares.
   */
  async share(actor: Actor, id: string, givenUserIds: string[], givenEmails: string[] = []): Promise<ExperimentTemplate> {
    const { userIds, emails } = parseRecipients(givenUserIds, givenEmails);
    return withTransactionRetry(this.em, async (em) => {
      // Addresses first, then the template: the order a sign-in claiming an address's pending shares takes them in.
      await lockEmails(em, emails);
      const template = await this.lockOwned(em, actor, id);
      const ownerId = template.createdBy.id;
      const named = await this.usersNamedBy(em, ownerId, emails);
      const recipients = [...userIds, ...emails.flatMap((email) => named.get(email) ?? [])].filter((userId) => userId !== ownerId);
      const known = new Set((await em.find(User, { id: { $in: userIds } }, { fields: ['id'] })).map((user) => user.id));
      const unknown = userIds.flatMap((userId, index) =>
        userId !== ownerId && !known.has(userId) ? [{ path: `/userIds/${index}`, message: 'no such user' }] : [],
      );
      if (unknown.length > 0) throw new ValidationError(unknown);
      // The lists go over as JSON texts: knex would expand an array binding into `?, ?, ...`, not a SQL array.
      const added = await em.execute<Array<{ userId: string }>>(
        `insert into experiment_template_shares (template_id, user_id, shared_by)
         select ?, recipient::uuid, ? from jsonb_array_elements_text(?::jsonb) as recipient
         on conflict (template_id, user_id) do nothing
         returning user_id as "userId"`,
        [template.id, actor.userId, JSON.stringify([...new Set(recipients)])],
      );
      const pending = emails.filter((email) => !named.has(email));
      const invited =
        pending.length === 0
          ? []
          : await em.execute<Array<{ email: string }>>(
              `insert into template_pending_shares (template_id, email, invited_by)
               select ?, wanted.email, ? from jsonb_array_elements_text(?::jsonb) as wanted(email)
               on conflict (template_id, email) do nothing
               returning email`,
              [template.id, actor.userId, JSON.stringify(pending)],
            );
      await this.recordShares(em, actor, template, AuditAction.TEMPLATE_SHARED, { userIds, emails, named }, added, invited);
      return template;
    });
  }

  /**
   * Stops sharing with users named by id or by email (by its owner or staff); an address that names nobody withdraws
   * its pending share.
   */
  async unshare(actor: Actor, id: string, givenUserIds: string[], givenEmails: string[] = []): Promise<ExperimentTemplate> {
    const { userIds, emails } = parseRecipients(givenUserIds, givenEmails);
    return withTransactionRetry(this.em, async (em) => {
      await lockEmails(em, emails);
      const template = await this.lockOwned(em, actor, id);
      const named = await this.usersNamedBy(em, template.createdBy.id, emails);
      const targets = [...userIds, ...emails.flatMap((email) => named.get(email) ?? [])];
      const removed = await em.execute<Array<{ userId: string }>>(
        `delete from experiment_template_shares
         where template_id = ? and user_id in (select recipient::uuid from jsonb_array_elements_text(?::jsonb) as recipient)
         returning user_id as "userId"`,
        [template.id, JSON.stringify(targets)],
      );
      const withdrawn =
        emails.length === 0
          ? []
          : await em.execute<Array<{ email: string }>>(
              `delete from template_pending_shares
               where template_id = ? and email in (select wanted.email from jsonb_array_elements_text(?::jsonb) as wanted(email))
               returning email`,
              [template.id, JSON.stringify(emails)],
            );
      await this.recordShares(em, actor, template, AuditAction.TEMPLATE_UNSHARED, { userIds, emails, named }, removed, withdrawn);
      return template;
    });
  }

  /**
   * By its owner or staff (who shares is recorded as `shared_by`): shares it with teams the acting caller may see (an
   * owner: the teams they are a member of; staff: any team, whoever owns the template); sharing twice is harmless. A
   * team the caller may not see is answered as an unknown one: BAD_USER_INPUT "no such team" at its path.
   */
  async shareWithTeams(actor: Actor, id: string, givenTeamIds: string[]): Promise<ExperimentTemplate> {
    const errors: FieldError[] = [];
    const teamIds = parseIds(givenTeamIds, '/teamIds', 'team', errors)!;
    throwIfInvalid(errors);
    return withTransactionRetry(this.em, async (em) => {
      const template = await this.lockOwned(em, actor, id);
      const values = new SqlValues('question');
      const wanted = values.bind(JSON.stringify(teamIds));
      const visible = await em.execute<Array<{ id: string }>>(
        `select t.id from teams t
         where t.id in (select wanted::uuid from jsonb_array_elements_text(${wanted}::jsonb) as wanted) and ${visibleTeams('t', actor, values)}`,
        values.values,
      );
      const known = new Set(visible.map((team) => team.id));
      const unknown = teamIds.flatMap((teamId, index) =>
        known.has(teamId) ? [] : [{ path: `/teamIds/${index}`, message: 'no such team' }],
      );
      if (unknown.length > 0) throw new ValidationError(unknown);
      const added = await em.execute<Array<{ id: string }>>(
        `insert into experiment_template_team_shares (template_id, team_id, shared_by)
         select ?, wanted::uuid, ? from jsonb_array_elements_text(?::jsonb) as wanted
         on conflict (template_id, team_id) do nothing
         returning team_id as id`,
        [template.id, actor.userId, JSON.stringify(teamIds)],
      );
      await this.recordTeamShares(em, actor, template, AuditAction.TEMPLATE_SHARED, teamIds, added);
      return template;
    });
  }

  /** By its owner or staff: stops sharing it with teams (any of its teams, whether the owner is still a member or not). */
  async unshareFromTeams(actor: Actor, id: string, givenTeamIds: string[]): Promise<ExperimentTemplate> {
    const errors: FieldError[] = [];
    const teamIds = parseIds(givenTeamIds, '/teamIds', 'team', errors)!;
    throwIfInvalid(errors);
    return withTransactionRetry(this.em, async (em) => {
      const template = await this.lockOwned(em, actor, id);
      const removed = await em.execute<Array<{ id: string }>>(
        `delete from experiment_template_team_shares
         where template_id = ? and team_id in (select wanted::uuid from jsonb_array_elements_text(?::jsonb) as wanted)
         returning team_id as id`,
        [template.id, JSON.stringify(teamIds)],
      );
      await this.recordTeamShares(em, actor, template, AuditAction.TEMPLATE_UNSHARED, teamIds, removed);
      return template;
    });
  }

  /**
   * A new owner (by the owner or staff), who must exist: NOT_FOUND at `/toUserId` otherwise. Their share of it goes
   * (an owner is not shared with); the old owner keeps nothing of it unless it is shared with them. Versions keep their
   * authors, experiments their owners. Transferring to the owner changes nothing.
   */
  async transfer(actor: Actor, id: string, givenToUserId: string): Promise<ExperimentTemplate> {
    return withTransactionRetry(this.em, async (em) => {
      const template = await this.lockOwned(em, actor, id);
      const toUserId = canonicalUuid(givenToUserId);
      const recipient = toUserId === undefined ? null : await em.findOne(User, { id: toUserId }, { fields: ['id'] });
      if (!recipient) throw new NotFoundError('User', '/toUserId');
      const fromUserId = template.createdBy.id;
      if (recipient.id === fromUserId) return template;
      template.createdBy = em.getReference(User, recipient.id);
      template.updatedAt = new Date();
      await em.execute('delete from experiment_template_shares where template_id = ? and user_id = ?', [template.id, recipient.id]);
      await this.audit.record(em, actor, {
        action: AuditAction.TEMPLATE_TRANSFERRED,
        subjectId: template.id,
        details: { from: fromUserId, to: recipient.id },
      });
      return template;
    });
  }

  /**
   * The user each address stands for (`trustedEmailSql`: the first to sign in with it, when several did), and the
   * template owner's own addresses mapped to the owner, trusted or not: sharing with the owner changes nothing either
   * way, whether the owner or staff shares.
   */
  private async usersNamedBy(em: EntityManager, ownerId: string, emails: string[]): Promise<Map<string, string>> {
    if (emails.length === 0) return new Map();
    const rows = await em.execute<Array<{ email: string; userId: string | null }>>(
      `select wanted.email,
              coalesce(
                (select o.id from users o where o.id = ? and lower(o.email) = wanted.email),
                (select u.id from users u
                 where lower(u.email) = wanted.email and ${trustedEmailSql('u', this.requireEmailVerified)}
                 order by u.created_at, u.id limit 1)
              ) as "userId"
       from jsonb_array_elements_text(?::jsonb) as wanted(email)`,
      [ownerId, JSON.stringify(emails)],
    );
    return new Map(rows.flatMap((row) => (row.userId ? [[row.email, row.userId] as const] : [])));
  }

  /**
   * A template with its first version and its event, in one statement: atomic without a transaction of its own, one
   * round trip instead of five (begin, three inserts, commit). The configuration goes in once and does not come back.
   */
  private async insert(
    actor: Actor,
    input: CreateTemplateInput,
    eventOf: (content: TemplateContent) => Omit<AuditEntry, 'subjectId'>,
  ): Promise<TemplateRecord> {
    const errors: FieldError[] = [];
    const content = parseTemplateContent(input, errors);
    const changeNote = parseChangeNote(input.changeNote, '/changeNote', errors);
    if (input.isPublic !== undefined && typeof input.isPublic !== 'boolean')
      errors.push({ path: '/isPublic', message: 'must be a boolean' });
    throwIfInvalid(errors);
    const event = eventOf(content);
    const values = new SqlValues();
    const [row] = await Sql.of(this.em).rows<TemplateRow>(
      `with template as (
         insert into experiment_templates
           (name, description, category, tags, configuration, configuration_schema_version, created_by, is_public)
         values (${values.bind(content.name)}, ${values.bind(content.description)}, ${values.bind(content.category)},
                 ${values.bind(JSON.stringify(content.tags))}::jsonb, ${values.bind(JSON.stringify(content.configuration))}::jsonb,
                 ${values.bind(LATEST_CONFIGURATION_SCHEMA_VERSION)}::smallint, ${values.bind(actor.userId)}::uuid,
                 ${values.bind(input.isPublic ?? false)})
         returning *
       ), first_version as (
         insert into experiment_template_versions
           (template_id, version, name, description, category, tags, configuration, configuration_schema_version, created_by, change_note)
         select t.id, 1, t.name, t.description, t.category, t.tags, t.configuration, t.configuration_schema_version, t.created_by,
                ${values.bind(changeNote ?? 'Created')}
         from template t
       ), audit_event as (
         ${this.audit.insertSql(values, actor, event.action, { sql: 't.id' }, event.details, 'template t')}
       )
       select ${templateColumns(false)} from template t`,
      values.values,
    );
    return { ...templateOf(row), configuration: content.configuration };
  }

  /**
   * One event naming what a share or unshare really changed, in the order asked; none when nothing changed. `userIds`:
   * the users whose access changed; when the call named addresses, `emails` (those whose user's access changed) and
   * `pendingEmails` (pending shares made or withdrawn).
   */
  private async recordShares(
    em: EntityManager,
    actor: Actor,
    template: ExperimentTemplate,
    action: AuditAction.TEMPLATE_SHARED | AuditAction.TEMPLATE_UNSHARED,
    asked: { userIds: string[]; emails: string[]; named: Map<string, string> },
    changed: Array<{ userId: string }>,
    changedPending: Array<{ email: string }>,
  ): Promise<void> {
    if (changed.length === 0 && changedPending.length === 0) return;
    const changedIds = new Set(changed.map((row) => row.userId));
    const byEmail = asked.emails.flatMap((email) => asked.named.get(email) ?? []);
    const userIds = [...new Set([...asked.userIds, ...byEmail])].filter((userId) => changedIds.has(userId));
    const details: AuditDetails = { userIds };
    if (asked.emails.length > 0) {
      const pending = new Set(changedPending.map((row) => row.email));
      details.emails = asked.emails.filter((email) => changedIds.has(asked.named.get(email) ?? ''));
      details.pendingEmails = asked.emails.filter((email) => pending.has(email));
    }
    await this.audit.record(em, actor, { action, subjectId: template.id, details });
  }

  /** One event naming the teams a share or unshare really added or removed, in the order asked; none when none. */
  private async recordTeamShares(
    em: EntityManager,
    actor: Actor,
    template: ExperimentTemplate,
    action: AuditAction.TEMPLATE_SHARED | AuditAction.TEMPLATE_UNSHARED,
    teamIds: string[],
    changed: Array<{ id: string }>,
  ): Promise<void> {
    if (changed.length === 0) return;
    const changedIds = new Set(changed.map((row) => row.id));
    const details = { teamIds: [...new Set(teamIds)].filter((teamId) => changedIds.has(teamId)) };
    await this.audit.record(em, actor, { action, subjectId: template.id, details });
  }

  /** A setting (active, public): `change` applies it and names the event, or answers null when it was already so. */
  private async changeSettings(
    actor: Actor,
    id: string,
    change: (template: ExperimentTemplate) => AuditAction | null,
  ): Promise<ExperimentTemplate> {
    return withTransactionRetry(this.em, async (em) => {
      const template = await this.lockOwned(em, actor, id);
      const action = change(template);
      if (action) {
        template.updatedAt = new Date();
        await this.audit.record(em, actor, { action, subjectId: template.id });
      }
      return template;
    });
  }

  /**
   * Locks the template row for the rest of the transaction if the caller may change it: its owner, or staff, whose
   * changes are theirs in the versions and the audit trail. One statement, since an owner sees their own templates and
   * staff every one. Only when it finds none is visibility asked, to tell a hidden template (NOT_FOUND, like a random
   * id) from one the caller sees but may not change (FORBIDDEN); neither is locked.
   */
  private async lockOwned(em: EntityManager, actor: Actor, id: string, expectedVersion?: number): Promise<ExperimentTemplate> {
    const canonical = canonicalUuid(id);
    const template = canonical
      ? await em.findOne(ExperimentTemplate, isStaff(actor) ? { id: canonical } : { id: canonical, createdBy: actor.userId }, {
          lockMode: LockMode.PESSIMISTIC_WRITE,
          refresh: true,
        })
      : null;
    if (!template) throw await this.refusalOf(actor, id);
    if (expectedVersion !== undefined && expectedVersion !== null && template.version !== expectedVersion) {
      throw versionConflict(template.version, expectedVersion);
    }
    return template;
  }

  /** Why a template the caller may not change was not found: hidden (NOT_FOUND, like a random id) or only seen (FORBIDDEN). */
  private async refusalOf(actor: Actor, id: string): Promise<Error> {
    const [visible] = await findVisibleTemplates(this.em, actor, [id]);
    return visible ? new ForbiddenError() : new NotFoundError('Template');
  }

  /** The template as it is now with its configuration, where the caller may change it (owner or staff), unlocked. */
  private async readChangeable(
    actor: Actor,
    id: string,
    expectedVersion?: number,
  ): Promise<TemplateRecord & { configuration: Configuration }> {
    const canonical = canonicalUuid(id);
    const values = new SqlValues();
    const [row] = canonical
      ? await Sql.of(this.em).rows<TemplateRow>(
          `select ${templateColumns(true)} from experiment_templates t
           where t.id = ${values.bind(canonical)}::uuid${changeableBy(actor, values)}`,
          values.values,
        )
      : [];
    if (!row) throw await this.refusalOf(actor, id);
    if (expectedVersion !== undefined && expectedVersion !== null && row.version !== expectedVersion) {
      throw versionConflict(row.version, expectedVersion);
    }
    return templateOf(row) as TemplateRecord & { configuration: Configuration };
  }

  /**
   * `patch` written as the next version (`writeNextVersion`); a configuration carried over from an older schema
   * version is first upgraded here (the statement cannot), then written unless the template moved on meanwhile.
   */
  private async changeContent(
    actor: Actor,
    id: string,
    patch: Partial<TemplateContent>,
    change: NextVersionChange,
  ): Promise<TemplateRecord> {
    const canonical = canonicalUuid(id);
    if (!canonical) throw await this.refusalOf(actor, id);
    const written = await this.writeNextVersion(actor, canonical, patch, change);
    if (written.kind !== 'behind') return this.outcomeOf(actor, id, written);
    for (;;) {
      const current = await this.readChangeable(actor, id, change.expectedVersion);
      const upgraded = { ...patch, configuration: upgradedContent(current, '/configuration').configuration };
      const again = await this.writeNextVersion(actor, canonical, upgraded, {
        ...change,
        expectedVersion: undefined,
        versionRead: current.version,
      });
      if (again.kind !== 'moved') return this.outcomeOf(actor, id, again);
    }
  }

  /** What the caller gets of a write that went as far as it could go: the template, or why not. */
  private async outcomeOf(actor: Actor, id: string, outcome: NextVersion): Promise<TemplateRecord> {
    switch (outcome.kind) {
      case 'behind':
      case 'moved':
        throw new Error(`a write that is to be tried again (${outcome.kind}) is not an outcome`);
      case 'hidden':
        throw await this.refusalOf(actor, id);
      case 'conflict':
        throw versionConflict(outcome.currentVersion, outcome.expectedVersion);
      case 'unchanged':
      case 'written':
        return outcome.template;
    }
  }

  /**
   * The next version in one statement, as one step: the row locked where the caller may change it (owner or staff),
   * its version checked, the content fields `patch` gives compared with the template's, and only when one differs (or
   * `upgrade` asks for a template behind the latest configuration schema version) the row raised to the next version
   * at the latest schema version, with its snapshot and its event (the fields that changed, the schema upgrade when
   * there was one). A statement of its own, not a transaction: one round trip. What it cannot do is upgrade a
   * configuration it carries over from an older schema version (the upgrade is code): it then writes nothing and says
   * so (`behind`).
   */
  private async writeNextVersion(
    actor: Actor,
    id: string,
    patch: Partial<TemplateContent>,
    change: NextVersionChange,
  ): Promise<NextVersion> {
    const values = new SqlValues();
    const latest = LATEST_CONFIGURATION_SCHEMA_VERSION;
    const target = `select t.* from experiment_templates t where t.id = ${values.bind(id)}::uuid${changeableBy(actor, values)} for update`;
    const given = CONTENT_COLUMNS.filter(({ field }) => patch[field] !== undefined).map(({ field, column, type }) => {
      const value = patch[field];
      return { field, column, value: `${values.bind(type === 'jsonb' ? JSON.stringify(value) : value)}::${type}` };
    });
    const version = change.expectedVersion ?? change.versionRead;
    const keepsConfiguration = patch.configuration === undefined;
    const changed = `array_remove(array[${given.map(({ field, column, value }) => `case when target.${column} is distinct from ${value} then '${field}' end`).join(', ')}]::text[], null)`;
    const upgrade = `c.configuration_schema_version <> ${latest}`;
    const details = new DetailsSql(
      `jsonb_build_object('fromVersion', c.version, 'toVersion', u.version, 'changed', ` +
        `to_jsonb(c.content_changed || case when ${upgrade} then array['configurationSchemaVersion'] else array[]::text[] end)) || ` +
        `case when ${upgrade} then jsonb_build_object('configurationSchemaUpgrade', jsonb_build_object('from', c.configuration_schema_version, 'to', ${latest})) ` +
        `else '{}'::jsonb end || ${values.bind(JSON.stringify(change.details ?? {}))}::jsonb`,
    );
    const changedBy = values.bind(actor.userId);
    const text = `with target as (${target}),
       change as (
         select target.id, target.version, target.configuration_schema_version, ${changed} as content_changed from target
       ),
       updated as (
         update experiment_templates t
         set ${given.map(({ column, value }) => `${column} = ${value}, `).join('')}configuration_schema_version = ${latest},
             version = t.version + 1, updated_at = now()
         from change c
         where t.id = c.id${version === undefined ? '' : ` and c.version = ${values.bind(version)}::integer`}
           and (cardinality(c.content_changed) > 0${change.upgrade ? ` or ${upgrade}` : ''})${keepsConfiguration ? ` and not (${upgrade})` : ''}
         returning t.*
       ),
       snapshot as (
         insert into experiment_template_versions
           (template_id, version, name, description, category, tags, configuration, configuration_schema_version, created_by,
            change_note, created_at)
         select u.id, u.version, u.name, u.description, u.category, u.tags, u.configuration, u.configuration_schema_version,
                ${changedBy}::uuid, ${values.bind(change.changeNote)}::text, u.updated_at
         from updated u
       ),
       event as (
         ${this.audit.insertSql(values, actor, change.action, { sql: 'u.id' }, details, 'updated u join change c on c.id = u.id')}
       )
       select c.version as "currentVersion", c.configuration_schema_version as "currentSchemaVersion",
              cardinality(c.content_changed) > 0 as "contentChanged", exists (select from updated) as written,
              ${templateColumns(keepsConfiguration)}
       from change c,
            lateral (select * from updated union all select * from target where not exists (select from updated)) t`;
    // The text is built (and its values bound) once: a retry sends the same statement again.
    const [row] = await withRetry(() => Sql.of(this.em).rows<TemplateRow & OutcomeColumns>(text, values.values));
    if (!row) return { kind: 'hidden' };
    const template = { ...templateOf(row), ...(keepsConfiguration ? {} : { configuration: patch.configuration }) };
    if (row.written) return { kind: 'written', template };
    if (version !== undefined && row.currentVersion !== version) {
      return change.versionRead === undefined
        ? { kind: 'conflict', currentVersion: row.currentVersion, expectedVersion: version }
        : { kind: 'moved' };
    }
    if ((row.contentChanged || change.upgrade) && keepsConfiguration && row.currentSchemaVersion !== latest) return { kind: 'behind' };
    return { kind: 'unchanged', template };
  }
}

/** The content fields as columns, in the order events list the fields that changed. */
const CONTENT_COLUMNS: ReadonlyArray<{ field: keyof TemplateContent; column: string; type: 'text' | 'jsonb' }> = [
  { field: 'name', column: 'name', type: 'text' },
  { field: 'description', column: 'description', type: 'text' },
  { field: 'category', column: 'category', type: 'text' },
  { field: 'tags', column: 'tags', type: 'jsonb' },
  { field: 'configuration', column: 'configuration', type: 'jsonb' },
];

interface NextVersionChange {
  /** The version the client edited: CONFLICT when the template is at another. */
  expectedVersion?: number;
  /** The version the content was computed from: nothing is written when the template has moved on since (`moved`). */
  versionRead?: number;
  changeNote: string | null;
  action: AuditAction.TEMPLATE_UPDATED | AuditAction.TEMPLATE_REVERTED;
  details?: AuditDetails;
  /** Write a version for a template behind the latest configuration schema version even when no content changes. */
  upgrade?: boolean;
}

type NextVersion =
  | { kind: 'hidden' }
  | { kind: 'conflict'; currentVersion: number; expectedVersion: number }
  | { kind: 'moved' }
  | { kind: 'behind' }
  | { kind: 'unchanged' | 'written'; template: TemplateRecord };

interface OutcomeColumns {
  currentVersion: number;
  currentSchemaVersion: number;
  contentChanged: boolean;
  written: boolean;
}

/** The rule of who changes a template, as SQL over alias `t`: its owner, or staff (nothing to add). */
function changeableBy(actor: Actor, values: SqlValues): string {
  return isStaff(actor) ? '' : ` and t.created_by = ${values.bind(actor.userId)}::uuid`;
}

function versionConflict(currentVersion: number, expectedVersion: number): ConflictError {
  return new ConflictError(`Template is at version ${currentVersion}, not ${expectedVersion}`, ConflictReason.VersionMismatch, {
    currentVersion,
  });
}

/**
 * The recipients of a share or unshare: user ids in their canonical form and normalised addresses, each list in the
 * order given without repeats, at least one recipient in all. BAD_USER_INPUT with every problem otherwise.
 */
function parseRecipients(givenUserIds: string[], givenEmails: string[]): { userIds: string[]; emails: string[] } {
  const errors: FieldError[] = [];
  if (givenUserIds.length === 0 && givenEmails.length === 0) errors.push({ path: '/userIds', message: 'must list at least one user' });
  const userIds = givenUserIds.length === 0 ? [] : (parseIds(givenUserIds, '/userIds', 'user', errors) ?? []);
  const emails = parseEmails(givenEmails, '/emails', errors);
  throwIfInvalid(errors);
  return { userIds: [...new Set(userIds)], emails: [...new Set(emails)] };
}

function parseEmails(emails: string[], path: string, errors: FieldError[]): string[] {
  if (emails.length > MAX_IDS_PER_CALL) {
    errors.push({ path, message: `must list at most ${MAX_IDS_PER_CALL} addresses` });
    return [];
  }
  return emails.flatMap((email, index) => parseEmail(email, `${path}/${index}`, errors) ?? []);
}

/** The addresses' locks (`EMAIL_LOCK_SQL`), in sorted order: two calls naming the same addresses never wait on each other in a cycle. */
async function lockEmails(em: EntityManager, emails: string[]): Promise<void> {
  for (const email of [...emails].sort()) await em.execute(EMAIL_LOCK_SQL, [email]);
}

/**
 * The content of a template or version with its configuration upgraded to the latest schema version. A configuration
 * that does not survive the upgrade is BAD_USER_INPUT at `path`: the change must then bring a configuration of its own.
 */
function upgradedContent(source: Parameters<typeof contentOf>[0] & { configurationSchemaVersion: number }, path: string): TemplateContent {
  const errors: FieldError[] = [];
  const schemaVersion = source.configurationSchemaVersion as ConfigurationSchemaVersion;
  const configuration = parseUpgradedConfiguration(source.configuration, schemaVersion, path, errors);
  throwIfInvalid(
    errors,
    `The configuration cannot be upgraded to configuration schema version ${LATEST_CONFIGURATION_SCHEMA_VERSION} as it is`,
  );
  return { ...contentOf(source), configuration: configuration! };
}
