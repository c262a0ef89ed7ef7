import { LockMode } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Operation } from 'fast-json-patch';
import { requireActor, type Actor } from '../auth/actor';
import { withTransactionRetry } from '../db/transaction-retry';
import { isUuid } from '../db/uuid';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors/domain-error';
import type { Connection } from '../graphql/pagination';
import { User } from '../user/user.entity';
import { TemplateShare } from './template-share.entity';
import { TemplateVersion } from './template-version.entity';
import { ExperimentTemplate } from './template.entity';
import {
  NAME_MAX_LENGTH,
  contentOf,
  contentPatch,
  parseChangeNote,
  parseTemplateContent,
  parseTemplateContentPatch,
  sameContent,
  type TemplateContent,
  type TemplateContentInput,
} from './template-content';
import { listTemplates, type TemplateListOptions, type TemplateListQuery } from './template-list';
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

  /** The template if `actor` may see it, else null: a hidden template and a missing one look the same. */
  async findVisible(actor: Actor | null, id: string): Promise<ExperimentTemplate | null> {
    const [template] = await findVisibleTemplates(this.em, actor, [id]);
    return template ?? null;
  }

  /** The visible templates matching a filter, one keyset page at a time. */
  async list(actor: Actor | null, query: TemplateListQuery, options: TemplateListOptions = {}): Promise<Connection<ExperimentTemplate>> {
    return listTemplates(this.em, actor, query, options);
  }

  async create(actorOrNull: Actor | null, input: CreateTemplateInput): Promise<ExperimentTemplate> {
    const actor = requireActor(actorOrNull);
    const content = parseTemplateContent(input);
    const changeNote = parseChangeNote(input.changeNote);
    if (input.isPublic !== undefined && typeof input.isPublic !== 'boolean') {
      throw ValidationError.at('/isPublic', 'must be a boolean');
    }
    return withTransactionRetry(this.em, async (em) => {
      const owner = em.getReference(User, actor.userId);
      const template = em.create(ExperimentTemplate, { ...content, createdBy: owner, isPublic: input.isPublic ?? false });
      em.create(TemplateVersion, { ...content, template, version: 1, createdBy: owner, changeNote: changeNote ?? 'Created' });
      return template;
    });
  }

  /**
   * Changes content and writes the next version in one transaction. The template row stays locked from read to
   * commit, so concurrent updates queue up: none is lost, no version number is taken twice.
   */
  async update(actor: Actor | null, id: string, input: TemplateContentInput, options: ChangeOptions = {}): Promise<ExperimentTemplate> {
    const patch = parseTemplateContentPatch(input);
    const changeNote = parseChangeNote(options.changeNote);
    return withTransactionRetry(this.em, async (em) => {
      const template = await this.lockOwned(em, actor, id, options.expectedVersion);
      const next = { ...contentOf(template), ...patch };
      await this.writeNextVersion(em, template, next, requireActor(actor), changeNote);
      return template;
    });
  }

  /** Writes an old version's content as a new version: history is never rewritten. */
  async revert(actor: Actor | null, id: string, toVersion: number, options: ChangeOptions = {}): Promise<ExperimentTemplate> {
    const changeNote = parseChangeNote(options.changeNote);
    return withTransactionRetry(this.em, async (em) => {
      const template = await this.lockOwned(em, actor, id, options.expectedVersion);
      const snapshot = await em.findOne(TemplateVersion, { template, version: toVersion });
      if (!snapshot) throw new NotFoundError(`Version ${toVersion} of the template`);
      await this.writeNextVersion(em, template, contentOf(snapshot), requireActor(actor), changeNote ?? `Reverted to version ${toVersion}`);
      return template;
    });
  }

  async versions(actor: Actor | null, id: string): Promise<TemplateVersion[]> {
    const template = await this.requireVisible(actor, id);
    return this.em.find(TemplateVersion, { template }, { orderBy: { version: 'desc' } });
  }

  async version(actor: Actor | null, id: string, version: number): Promise<TemplateVersion | null> {
    const template = await this.requireVisible(actor, id);
    return this.em.findOne(TemplateVersion, { template, version });
  }

  /** JSON Patch (RFC 6902) turning version `from`'s content into version `to`'s. */
  async diff(actor: Actor | null, id: string, from: number, to: number): Promise<Operation[]> {
    const template = await this.requireVisible(actor, id);
    const snapshots = await this.em.find(TemplateVersion, { template, version: { $in: [from, to] } });
    const at = (version: number) => {
      const snapshot = snapshots.find((s) => s.version === version);
      if (!snapshot) throw new NotFoundError(`Version ${version} of the template`);
      return contentOf(snapshot);
    };
    return contentPatch(at(from), at(to));
  }

  /** A private copy owned by the caller, starting its own history at version 1. */
  async clone(actorOrNull: Actor | null, id: string, options: { name?: unknown } = {}): Promise<ExperimentTemplate> {
    const actor = requireActor(actorOrNull);
    const source = await this.requireVisible(actor, id);
    if (!source.isActive && source.createdBy.id !== actor.userId) {
      throw new ConflictError('Template is inactive', { reason: 'TEMPLATE_INACTIVE' });
    }
    const name = options.name ?? `${source.name} (copy)`.slice(0, NAME_MAX_LENGTH);
    return this.create(actor, {
      ...contentOf(source),
      name,
      changeNote: `Cloned from template ${source.id} version ${source.version}`,
    });
  }

  async setActive(actor: Actor | null, id: string, isActive: boolean): Promise<ExperimentTemplate> {
    return this.changeSettings(actor, id, (template) => {
      template.isActive = isActive;
    });
  }

  async setPublic(actor: Actor | null, id: string, isPublic: boolean): Promise<ExperimentTemplate> {
    return this.changeSettings(actor, id, (template) => {
      template.isPublic = isPublic;
    });
  }

  /** Hard delete: history and shares go with it; experiments keep their data and lose the link. */
  async delete(actor: Actor | null, id: string): Promise<boolean> {
    return withTransactionRetry(this.em, async (em) => {
      const template = await this.lockOwned(em, actor, id);
      await em.nativeDelete(ExperimentTemplate, { id: template.id });
      return true;
    });
  }

  async share(actor: Actor | null, id: string, userIds: string[]): Promise<ExperimentTemplate> {
    const owner = requireActor(actor);
    checkUserIds(userIds);
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

  async unshare(actor: Actor | null, id: string, userIds: string[]): Promise<ExperimentTemplate> {
    checkUserIds(userIds);
    return withTransactionRetry(this.em, async (em) => {
      const template = await this.lockOwned(em, actor, id);
      await em.nativeDelete(TemplateShare, { template: template.id, user: { $in: userIds } });
      return template;
    });
  }

  async sharedWith(actor: Actor | null, id: string): Promise<User[]> {
    const template = await this.requireVisible(actor, id);
    const shares = await this.em.find(TemplateShare, { template }, { populate: ['user'], orderBy: { sharedAt: 'asc' } });
    return shares.map((share) => share.user as User);
  }

  async requireVisible(actor: Actor | null, id: string): Promise<ExperimentTemplate> {
    const template = await this.findVisible(actor, id);
    if (!template) throw new NotFoundError('Template');
    return template;
  }

  private async changeSettings(
    actor: Actor | null,
    id: string,
    change: (template: ExperimentTemplate) => void,
  ): Promise<ExperimentTemplate> {
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
  private async lockOwned(em: EntityManager, actorOrNull: Actor | null, id: string, expectedVersion?: number): Promise<ExperimentTemplate> {
    const actor = requireActor(actorOrNull);
    const [visible] = await findVisibleTemplates(em, actor, [id]);
    if (!visible) throw new NotFoundError('Template');
    if (visible.createdBy.id !== actor.userId) throw new ForbiddenError();
    const template = await em.findOneOrFail(ExperimentTemplate, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true });
    if (expectedVersion !== undefined && expectedVersion !== null && template.version !== expectedVersion) {
      throw new ConflictError(`Template is at version ${template.version}, not ${expectedVersion}`, {
        currentVersion: template.version,
      });
    }
    return template;
  }

  /** Content unchanged: nothing is written. Otherwise version + 1 and its snapshot, in the caller's transaction. */
  private async writeNextVersion(
    em: EntityManager,
    template: ExperimentTemplate,
    next: TemplateContent,
    actor: Actor,
    changeNote: string | null,
  ): Promise<void> {
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

function checkUserIds(userIds: unknown): asserts userIds is string[] {
  if (!Array.isArray(userIds) || userIds.length === 0) throw ValidationError.at('/userIds', 'must list at least one user');
  if (userIds.length > MAX_SHARES_PER_CALL) {
    throw ValidationError.at('/userIds', `must list at most ${MAX_SHARES_PER_CALL} users`);
  }
  const malformed = userIds.flatMap((userId, index) =>
    isUuid(userId) ? [] : [{ path: `/userIds/${index}`, message: 'must be a user id (UUID)' }],
  );
  if (malformed.length > 0) throw new ValidationError(malformed);
}
