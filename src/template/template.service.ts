import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import { AuditAction } from '../audit/audit-action';
import type { AuditDetails, AuditEntry, AuditLog } from '../audit/audit-log';
import { isStaff, type Actor } from '../auth/actor';
import { Sql, SqlValues } from '../db/sql';
import { withTransactionRetry } from '../db/transaction-retry';
import { canonicalUuid } from '../db/uuid';
import { ConflictError, ConflictReason, ForbiddenError, NotFoundError, ValidationError, type FieldError } from '../errors/domain-error';
import { throwIfInvalid } from '../validation/field-errors';
import { MAX_IDS_PER_CALL, parseIds } from '../validation/ids';
import { User } from '../user/user.entity';
import { EMAIL_LOCK_SQL, parseEmail, trustedEmailSql } from '../user/user-email';
import { TemplateVersion } from './template-version.entity';
import { ExperimentTemplate } from './template.entity';
import { parseTemplateDocument } from './template-document';
import { LATEST_CONFIGURATION_SCHEMA_VERSION, type ConfigurationSchemaVersion } from './configuration-schema';
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
   * Changes content and writes the next version in one transaction. The template row stays locked from read to
   * commit, so concurrent updates queue up: none is lost, no version number is taken twice.
   */
  async update(actor: Actor, id: string, input: TemplateContentInput, options: ChangeOptions = {}): Promise<ExperimentTemplate> {
    const errors: FieldError[] = [];
    const patch = parseTemplateContentPatch(input, errors);
    const changeNote = parseChangeNote(options.changeNote, '/changeNote', errors);
    throwIfInvalid(errors);
    return withTransactionRetry(this.em, async (em) => {
      const template = await this.lockOwned(em, actor, id, options.expectedVersion);
      const current = contentOf(template);
      const next = { ...current, ...patch };
      if (changedContentFields(current, next).length === 0) return template;
      // Content is written at the latest schema version: a configuration the update carries over is upgraded.
      if (patch.configuration === undefined) next.configuration = upgradedContent(template, '/configuration').configuration;
      await this.writeNextVersion(em, actor, template, next, changeNote, AuditAction.TEMPLATE_UPDATED);
      return template;
    });
  }

  /**
   * The template's configuration upgraded to the latest schema version, as its next version (an audited update whose
   * details name the upgrade). A template already at the latest is returned as it is: nothing is written.
   */
  async upgradeSchema(actor: Actor, id: string, options: ChangeOptions = {}): Promise<ExperimentTemplate> {
    const errors: FieldError[] = [];
    const changeNote = parseChangeNote(options.changeNote, '/changeNote', errors);
    throwIfInvalid(errors);
    return withTransactionRetry(this.em, async (em) => {
      const template = await this.lockOwned(em, actor, id, options.expectedVersion);
      if (template.configurationSchemaVersion === LATEST_CONFIGURATION_SCHEMA_VERSION) return template;
      const note = changeNote ?? `Upgraded to configuration schema version ${LATEST_CONFIGURATION_SCHEMA_VERSION}`;
      await this.writeNextVersion(em, actor, template, upgradedContent(template, '/configuration'), note, AuditAction.TEMPLATE_UPDATED);
      return template;
    });
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
  async revert(actor: Actor, id: string, toVersion: number, options: ChangeOptions = {}): Promise<ExperimentTemplate> {
    const errors: FieldError[] = [];
    const changeNote = parseChangeNote(options.changeNote, '/changeNote', errors);
    throwIfInvalid(errors);
    return withTransactionRetry(this.em, async (em) => {
      const template = await this.lockOwned(em, actor, id, options.expectedVersion);
      const snapshot = await em.findOne(TemplateVersion, { template, version: toVersion });
      if (!snapshot) throw new NotFoundError(`Version ${toVersion} of the template`);
      const sameContent = changedContentFields(contentOf(template), contentOf(snapshot)).length === 0;
      if (sameContent && snapshot.configurationSchemaVersion === template.configurationSchemaVersion) return template;
      const next = upgradedContent(snapshot, '/configuration');
      const note = changeNote ?? `Reverted to version ${toVersion}`;
      await this.writeNextVersion(em, actor, template, next, note, AuditAction.TEMPLATE_REVERTED, { restoredVersion: toVersion });
      return template;
    });
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
    if (!template) {
      const [visible] = await findVisibleTemplates(em, actor, [id]);
      throw visible ? new ForbiddenError() : new NotFoundError('Template');
    }
    if (expectedVersion !== undefined && expectedVersion !== null && template.version !== expectedVersion) {
      throw new ConflictError(`Template is at version ${template.version}, not ${expectedVersion}`, ConflictReason.VersionMismatch, {
        currentVersion: template.version,
      });
    }
    return template;
  }

  /**
   * Content and schema version unchanged: nothing is written. Otherwise version + 1 at the latest configuration schema
   * version (the unit of work's UPDATE at commit), and its snapshot and its event (with the content fields that
   * changed, and the schema upgrade when there was one) in one statement of the caller's transaction: the event costs
   * no round trip of its own.
   */
  private async writeNextVersion(
    em: EntityManager,
    actor: Actor,
    template: ExperimentTemplate,
    next: TemplateContent,
    changeNote: string | null,
    action: AuditAction.TEMPLATE_UPDATED | AuditAction.TEMPLATE_REVERTED,
    details: AuditDetails = {},
  ): Promise<void> {
    const fromSchemaVersion = template.configurationSchemaVersion;
    const schemaUpgrade =
      fromSchemaVersion === LATEST_CONFIGURATION_SCHEMA_VERSION
        ? null
        : { from: fromSchemaVersion, to: LATEST_CONFIGURATION_SCHEMA_VERSION };
    const changed: string[] = changedContentFields(contentOf(template), next);
    if (schemaUpgrade) changed.push('configurationSchemaVersion');
    if (changed.length === 0) return;
    const fromVersion = template.version;
    Object.assign(template, next);
    template.configurationSchemaVersion = LATEST_CONFIGURATION_SCHEMA_VERSION;
    template.version += 1;
    template.updatedAt = new Date();
    const values = new SqlValues('question');
    await em.execute(
      `with snapshot as (
         insert into experiment_template_versions
           (template_id, version, name, description, category, tags, configuration, configuration_schema_version, created_by,
            change_note, created_at)
         values (${values.bind(template.id)}::uuid, ${values.bind(template.version)}::integer, ${values.bind(next.name)}::text,
                 ${values.bind(next.description)}::text, ${values.bind(next.category)}::text, ${values.bind(JSON.stringify(next.tags))}::jsonb,
                 ${values.bind(JSON.stringify(next.configuration))}::jsonb, ${values.bind(template.configurationSchemaVersion)}::smallint,
                 ${values.bind(actor.userId)}::uuid, ${values.bind(changeNote)}::text, ${values.bind(template.updatedAt)}::timestamptz)
       )
       ${this.audit.insertSql(
         values,
         actor,
         action,
         { id: template.id },
         {
           fromVersion,
           toVersion: template.version,
           changed,
           ...(schemaUpgrade && { configurationSchemaUpgrade: schemaUpgrade }),
           ...details,
         },
       )}`,
      values.values,
    );
  }
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
