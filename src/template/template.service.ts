import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from '../auth/actor';
import { Sql } from '../db/sql';
import { withTransactionRetry } from '../db/transaction-retry';
import { canonicalUuid, isUuid } from '../db/uuid';
import { ConflictError, ConflictReason, ForbiddenError, NotFoundError, ValidationError, type FieldError } from '../errors/domain-error';
import { throwIfInvalid } from '../validation/field-errors';
import { User } from '../user/user.entity';
import { TemplateShare } from './template-share.entity';
import { TemplateVersion } from './template-version.entity';
import { ExperimentTemplate } from './template.entity';
import { parseTemplateDocument } from './template-document';
import {
  CHANGE_NOTE_MAX_LENGTH,
  NAME_MAX_LENGTH,
  contentOf,
  parseChangeNote,
  parseTemplateContent,
  parseTemplateContentPatch,
  sameContent,
  type TemplateContent,
  type TemplateContentInput,
} from './template-content';
import { templateColumns, templateOf, type TemplateRecord, type TemplateRow } from './template-rows';
import { findVisibleTemplates } from './template-visibility';

export interface CreateTemplateInput extends TemplateContentInput {
  isPublic?: boolean;
  changeNote?: unknown;
}

export interface ChangeOptions {
  /** The version the client edited; the change fails with CONFLICT when the template has moved on since. */
  expectedVersion?: number;
  changeNote?: unknown;
}

export const MAX_SHARES_PER_CALL = 100;

export class TemplateService {
  constructor(private readonly em: EntityManager) {}

  async create(actor: Actor, input: CreateTemplateInput): Promise<TemplateRecord> {
    const errors: FieldError[] = [];
    const content = parseTemplateContent(input, errors);
    const changeNote = parseChangeNote(input.changeNote, '/changeNote', errors);
    if (input.isPublic !== undefined && typeof input.isPublic !== 'boolean')
      errors.push({ path: '/isPublic', message: 'must be a boolean' });
    throwIfInvalid(errors);
    // One statement writes the template and its first version: atomic without a transaction of its own, one round
    // trip instead of four (begin, two inserts, commit). The configuration goes in once and does not come back.
    const [row] = await Sql.of(this.em).rows<TemplateRow>(
      `with template as (
         insert into experiment_templates (name, description, category, tags, configuration, created_by, is_public)
         values ($1, $2, $3, $4::jsonb, $5::jsonb, $6::uuid, $7)
         returning *
       ), first_version as (
         insert into experiment_template_versions (template_id, version, name, description, category, tags, configuration, created_by, change_note)
         select t.id, 1, t.name, t.description, t.category, t.tags, t.configuration, t.created_by, $8 from template t
       )
       select ${templateColumns(false)} from template t`,
      [
        content.name,
        content.description,
        content.category,
        JSON.stringify(content.tags),
        JSON.stringify(content.configuration),
        actor.userId,
        input.isPublic ?? false,
        changeNote ?? 'Created',
      ],
    );
    return { ...templateOf(row), configuration: content.configuration };
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
      this.writeNextVersion(em, template, { ...contentOf(template), ...patch }, actor, changeNote);
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
    const origin =
      isUuid(source?.templateId) && Number.isInteger(source.version)
        ? ` from template ${source.templateId} version ${String(source.version)}`
        : '';
    return this.create(actor, {
      ...content!,
      isPublic: options.isPublic,
      changeNote: options.changeNote ?? `Imported${origin}`.slice(0, CHANGE_NOTE_MAX_LENGTH),
    });
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
      this.writeNextVersion(em, template, contentOf(snapshot), actor, changeNote ?? `Reverted to version ${toVersion}`);
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
    return this.create(actor, {
      ...contentOf(source),
      name,
      changeNote: `Cloned from template ${source.id} version ${source.version}`,
    });
  }

  async setActive(actor: Actor, id: string, isActive: boolean): Promise<ExperimentTemplate> {
    return this.changeSettings(actor, id, (template) => {
      template.isActive = isActive;
    });
  }

  async setPublic(actor: Actor, id: string, isPublic: boolean): Promise<ExperimentTemplate> {
    return this.changeSettings(actor, id, (template) => {
      template.isPublic = isPublic;
    });
  }

  /** Hard delete: history and shares go with it; experiments keep their data and lose the link. Returns its id. */
  async delete(actor: Actor, id: string): Promise<string> {
    return withTransactionRetry(this.em, async (em) => {
      const template = await this.lockOwned(em, actor, id);
      await em.nativeDelete(ExperimentTemplate, { id: template.id });
      return template.id;
    });
  }

  async share(owner: Actor, id: string, givenUserIds: string[]): Promise<ExperimentTemplate> {
    const errors: FieldError[] = [];
    const userIds = parseUserIds(givenUserIds, '/userIds', errors)!;
    throwIfInvalid(errors);
    return withTransactionRetry(this.em, async (em) => {
      const template = await this.lockOwned(em, owner, id);
      const recipients = userIds.filter((userId) => userId !== owner.userId);
      const known = new Set((await em.find(User, { id: { $in: recipients } }, { fields: ['id'] })).map((user) => user.id));
      const unknown = userIds.flatMap((userId, index) =>
        userId !== owner.userId && !known.has(userId) ? [{ path: `/userIds/${index}`, message: 'no such user' }] : [],
      );
      if (unknown.length > 0) throw new ValidationError(unknown);
      // The list goes over as one JSON text: knex would expand an array binding into `?, ?, ...`, not a SQL array.
      await em.execute(
        `insert into experiment_template_shares (template_id, user_id, shared_by)
         select ?, recipient::uuid, ? from jsonb_array_elements_text(?::jsonb) as recipient
         on conflict (template_id, user_id) do nothing`,
        [template.id, owner.userId, JSON.stringify(recipients)],
      );
      return template;
    });
  }

  async unshare(owner: Actor, id: string, givenUserIds: string[]): Promise<ExperimentTemplate> {
    const errors: FieldError[] = [];
    const userIds = parseUserIds(givenUserIds, '/userIds', errors)!;
    throwIfInvalid(errors);
    return withTransactionRetry(this.em, async (em) => {
      const template = await this.lockOwned(em, owner, id);
      await em.nativeDelete(TemplateShare, { template: template.id, user: { $in: userIds } });
      return template;
    });
  }

  private async changeSettings(actor: Actor, id: string, change: (template: ExperimentTemplate) => void): Promise<ExperimentTemplate> {
    return withTransactionRetry(this.em, async (em) => {
      const template = await this.lockOwned(em, actor, id);
      const before = { isActive: template.isActive, isPublic: template.isPublic };
      change(template);
      if (before.isActive !== template.isActive || before.isPublic !== template.isPublic) template.updatedAt = new Date();
      return template;
    });
  }

  /**
   * Locks the template row for the rest of the transaction after checking the caller may change it. Hidden
   * templates are NOT_FOUND; visible ones the caller does not own are FORBIDDEN.
   */
  private async lockOwned(em: EntityManager, actor: Actor, id: string, expectedVersion?: number): Promise<ExperimentTemplate> {
    const [visible] = await findVisibleTemplates(em, actor, [id]);
    if (!visible) throw new NotFoundError('Template');
    if (visible.createdBy.id !== actor.userId) throw new ForbiddenError();
    const template = await em.findOneOrFail(
      ExperimentTemplate,
      { id: visible.id },
      { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
    );
    if (expectedVersion !== undefined && expectedVersion !== null && template.version !== expectedVersion) {
      throw new ConflictError(`Template is at version ${template.version}, not ${expectedVersion}`, ConflictReason.VersionMismatch, {
        currentVersion: template.version,
      });
    }
    return template;
  }

  /** Content unchanged: nothing is written. Otherwise version + 1 and its snapshot, in the caller's transaction. */
  private writeNextVersion(
    em: EntityManager,
    template: ExperimentTemplate,
    next: TemplateContent,
    actor: Actor,
    changeNote: string | null,
  ): void {
    if (sameContent(contentOf(template), next)) return;
    Object.assign(template, next);
    template.version += 1;
    template.updatedAt = new Date();
    em.create(TemplateVersion, {
      ...next,
      template,
      version: template.version,
      createdBy: em.getReference(User, actor.userId),
      changeNote,
    });
  }
}

/** User ids in their canonical form, in the order given. */
function parseUserIds(userIds: string[], path: string, errors: FieldError[]): string[] | undefined {
  if (userIds.length === 0) errors.push({ path, message: 'must list at least one user' });
  else if (userIds.length > MAX_SHARES_PER_CALL) errors.push({ path, message: `must list at most ${MAX_SHARES_PER_CALL} users` });
  else {
    const canonical = userIds.map(canonicalUuid);
    if (canonical.every((userId) => userId !== undefined)) return canonical;
    canonical.forEach((userId, index) => {
      if (userId === undefined) errors.push({ path: `${path}/${index}`, message: 'must be a user id (UUID)' });
    });
  }
  return undefined;
}
