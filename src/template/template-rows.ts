import type { UserRecord } from '../user/user-rows';
import type { Configuration } from './configuration-schema';
import type { TemplateVersion } from './template-version.entity';
import type { ExperimentTemplate } from './template.entity';

/**
 * A template as reads return it: a plain object of its columns, `configuration` only when the query selects it.
 * The entities mutations return fit it too, so one set of field resolvers serves both.
 */
export type TemplateRecord = Pick<
  ExperimentTemplate,
  | 'id'
  | 'name'
  | 'description'
  | 'category'
  | 'tags'
  | 'configurationSchemaVersion'
  | 'version'
  | 'isActive'
  | 'isPublic'
  | 'usageCount'
  | 'lastUsed'
  | 'createdAt'
  | 'updatedAt'
> & { configuration?: Configuration; createdBy: { id: string }; readWith?: TemplateRelations };

/**
 * Relations the statement that read a template read along with it (a page reads its owners and the caller's own
 * shares): field resolvers answer from them at once, without a load.
 */
export interface TemplateRelations {
  owner?: UserRecord;
  /** What the caller may see of them: the users it is shared with for its owner, nothing for anyone else. */
  sharedWith?: UserRecord[];
  /** Its latest `history.first` versions (all when null), newest first, with their authors. */
  versions?: { history: HistoryRequest; list: VersionRecord[] };
}

/** The history a request reads with a template: how many versions, and whether with their configurations. */
export interface HistoryRequest {
  first: number | null;
  withConfiguration: boolean;
}

/** A version as reads return it; `configuration` only when selected, `createdBy` null once the author is gone. */
export type VersionRecord = Pick<
  TemplateVersion,
  'id' | 'version' | 'name' | 'description' | 'category' | 'tags' | 'configurationSchemaVersion' | 'createdAt' | 'changeNote'
> & {
  configuration?: Configuration;
  template: { id: string };
  createdBy: { id: string } | null;
  /** The author, when the statement that read the version read it too (a history does). */
  readWith?: { author: UserRecord | null };
};

/** A version with its content: what a snapshot and a diff need. */
export type VersionContentRecord = VersionRecord & { configuration: Configuration };

/** The columns of a TemplateRecord over alias `t`; the configuration (a few KB of jsonb) only when asked for. */
export function templateColumns(withConfiguration: boolean): string {
  return (
    't.id, t.name, t.description, t.category, t.tags, t.configuration_schema_version as "configurationSchemaVersion", ' +
    't.version, t.is_active as "isActive", t.is_public as "isPublic", ' +
    't.usage_count as "usageCount", t.last_used as "lastUsed", t.created_at as "createdAt", t.updated_at as "updatedAt", ' +
    `t.created_by as "ownerId"${withConfiguration ? ', t.configuration' : ''}`
  );
}

export type TemplateRow = Omit<TemplateRecord, 'createdBy'> & { ownerId: string };

/** The template in a row selected with `templateColumns` (other columns of the row are left out). */
export function templateOf(row: TemplateRow): TemplateRecord {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    category: row.category,
    tags: row.tags,
    configuration: row.configuration,
    configurationSchemaVersion: row.configurationSchemaVersion,
    version: row.version,
    isActive: row.isActive,
    isPublic: row.isPublic,
    usageCount: row.usageCount,
    lastUsed: row.lastUsed,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    createdBy: { id: row.ownerId },
  };
}

/** The columns of a VersionRecord over alias `v`. */
export function versionColumns(withConfiguration: boolean): string {
  return (
    'v.id, v.template_id as "templateId", v.version, v.name, v.description, v.category, v.tags, ' +
    'v.configuration_schema_version as "configurationSchemaVersion", v.created_at as "createdAt", ' +
    `v.change_note as "changeNote", v.created_by as "authorId"${withConfiguration ? ', v.configuration' : ''}`
  );
}

export type VersionRow = Omit<VersionRecord, 'template' | 'createdBy'> & { templateId: string; authorId: string | null };

/** The version in a row selected with `versionColumns` (other columns of the row are left out). */
export function versionOf(row: VersionRow): VersionRecord {
  return {
    id: row.id,
    template: { id: row.templateId },
    version: row.version,
    name: row.name,
    description: row.description,
    category: row.category,
    tags: row.tags,
    configuration: row.configuration,
    configurationSchemaVersion: row.configurationSchemaVersion,
    createdAt: row.createdAt,
    changeNote: row.changeNote,
    createdBy: row.authorId === null ? null : { id: row.authorId },
  };
}

/** Users met while reading templates (owners, authors), for the request's `userById` loader to serve without SQL. */
export type UsersSeen = (user: UserRecord) => void;

/** A pending share as reads return it. */
export type PendingShareRecord = { email: string; invitedAt: Date };
