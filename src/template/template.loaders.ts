import DataLoader from 'dataloader';
import type { ActorLookup } from '../auth/actor';
import { literalLimit } from '../db/keyset';
import { isOneOf, SqlValues, type Reader } from '../db/sql';
import { canonicalUuid } from '../db/uuid';
import type { Configuration } from './configuration-schema';
import { userColumns, userJson, userOf, userOfJson, type UserRecord } from '../user/user-rows';
import {
  templateColumns,
  templateOf,
  versionColumns,
  versionOf,
  type HistoryRequest,
  type PendingShareRecord,
  type TemplateRecord,
  type TemplateRow,
  type UsersSeen,
  type VersionContentRecord,
  type VersionRecord,
  type VersionRow,
} from './template-rows';
import { truncField, usageSeries, type UsagePoint, type UsageRange } from './template-usage';
import { visibleTemplates } from './template-visibility';

/**
 * A template by id; its configuration read only when some field of the request needs it, and its history with it when
 * the request reads one (the same statement reads both).
 */
export interface TemplateKey {
  id: string;
  withConfiguration: boolean;
  history?: HistoryRequest | null;
}

const historyKeyOf = (history: HistoryRequest | null | undefined) => (history ? `${history.first}|${history.withConfiguration}` : '');

type HistoryJson = Omit<VersionRow, 'createdAt'> & { createdAt: string; author: Parameters<typeof userOfJson>[0] | null };

/** A template's history, newest first: the `first` versions, or all of them. */
export interface VersionsKey {
  templateId: string;
  first: number | null;
  withConfiguration: boolean;
}

/** A template's usage series; the template is one the caller already sees (a field of a loaded template). */
export interface UsageKey extends UsageRange {
  templateId: string;
}

const rangeKeyOf = (range: UsageRange) => `${range.from}|${range.to}|${range.bucket}`;

export interface VersionKey {
  templateId: string;
  version: number;
}

/**
 * Per-request batch loaders for templates and what hangs off them; each batch is one statement. Users a statement
 * reads along the way (version authors) go to `usersSeen`, so that nobody loads them again.
 */
export function createTemplateLoaders(reader: Reader, actor: ActorLookup, usersSeen: UsersSeen) {
  /** The users each template is shared with, in sharing order: one statement for every template of the batch. */
  const sharedUsersByTemplateId = new DataLoader<string, UserRecord[]>(async (templateIds) => {
    const rows = await reader.rows<Record<string, unknown> & { templateId: string }>(
      `select s.template_id as "templateId", ${userColumns('u')}
       from experiment_template_shares s join users u on u.id = s.user_id
       where s.template_id = any($1::uuid[])
       order by s.shared_at, s.user_id`,
      [templateIds],
    );
    const byTemplate = new Map<string, UserRecord[]>(templateIds.map((id) => [id, []]));
    for (const row of rows) byTemplate.get(row.templateId)!.push(userOf(row, '')!);
    return templateIds.map((id) => byTemplate.get(id)!);
  });

  /** The pending shares of each template, oldest first: one statement for every template of the batch. */
  const pendingSharesByTemplateId = new DataLoader<string, PendingShareRecord[]>(async (templateIds) => {
    const rows = await reader.rows<PendingShareRecord & { templateId: string }>(
      `select p.template_id as "templateId", p.email, p.created_at as "invitedAt"
       from template_pending_shares p
       where p.template_id = any($1::uuid[])
       order by p.created_at, p.email`,
      [templateIds],
    );
    const byTemplate = new Map<string, PendingShareRecord[]>(templateIds.map((id) => [id, []]));
    for (const { templateId, email, invitedAt } of rows) byTemplate.get(templateId)!.push({ email, invitedAt });
    return templateIds.map((id) => byTemplate.get(id)!);
  });

  return {
    /** Only templates the caller may see: a hidden one loads as null, like a missing one. */
    visibleTemplateById: new DataLoader<TemplateKey, TemplateRecord | null, string>(
      async (keys) => {
        const caller = await actor();
        const groups = new Map<string, TemplateKey[]>();
        for (const key of keys) groups.set(historyKeyOf(key.history), [...(groups.get(historyKeyOf(key.history)) ?? []), key]);
        const found = new Map<string, TemplateRecord>();
        await Promise.all(
          [...groups.values()].map(async (group) => {
            const ids = [...new Set(group.map((key) => canonicalUuid(key.id)).filter((id) => id !== undefined))];
            if (ids.length === 0) return;
            const history = group[0].history ?? null;
            const values = new SqlValues();
            const wanted = isOneOf('t.id', ids, values);
            const historyColumn = history ? `, ${historyJsonColumn(history)}` : '';
            const rows = await reader.rows<TemplateRow & { history?: HistoryJson[] }>(
              `select ${templateColumns(group.some((key) => key.withConfiguration))}${historyColumn}
               from experiment_templates t
               where ${wanted} and ${visibleTemplates('t', caller, values)}`,
              values.values,
            );
            for (const row of rows) {
              const template = templateOf(row);
              if (history && row.history) {
                const list = row.history.map(versionOfJson);
                for (const version of list) if (version.readWith?.author) usersSeen(version.readWith.author);
                template.readWith = { versions: { history, list } };
              }
              found.set(`${historyKeyOf(history)}#${row.id}`, template);
            }
          }),
        );
        return keys.map((key) => found.get(`${historyKeyOf(key.history)}#${canonicalUuid(key.id)}`) ?? null);
      },
      { cacheKeyFn: (key) => `${key.id}|${key.withConfiguration}|${historyKeyOf(key.history)}` },
    ),

    sharedUsersByTemplateId,
    pendingSharesByTemplateId,

    /**
     * Histories, newest first, with their authors: one statement per page size in the batch, reading only the
     * versions it returns (the latest `first` of each template, through the (template_id, version) index).
     */
    versionsByTemplateId: new DataLoader<VersionsKey, VersionRecord[], string>(
      async (keys) => {
        const groups = new Map<number | null, VersionsKey[]>();
        for (const key of keys) groups.set(key.first, [...(groups.get(key.first) ?? []), key]);
        const histories = new Map<string, VersionRecord[]>();
        await Promise.all(
          [...groups].map(async ([first, group]) => {
            const templateIds = [...new Set(group.map((key) => key.templateId))];
            const values = new SqlValues();
            const wanted = values.bind(templateIds);
            const limit = first === null ? '' : `limit ${literalLimit(first)}`;
            const rows = await reader.rows<VersionRow & Record<string, unknown>>(
              `select ${versionColumns(group.some((key) => key.withConfiguration))}, ${userColumns('author', 'author_')}
               from unnest(${wanted}::uuid[]) as wanted(template_id)
               cross join lateral (
                 select * from experiment_template_versions history
                 where history.template_id = wanted.template_id
                 order by history.version desc ${limit}
               ) v
               left join users author on author.id = v.created_by
               order by v.template_id, v.version desc`,
              values.values,
            );
            for (const id of templateIds) histories.set(`${first}|${id}`, []);
            for (const row of rows) {
              const author = userOf(row, 'author_');
              if (author) usersSeen(author);
              const version = versionOf(row);
              version.readWith = { author };
              histories.get(`${first}|${row.templateId}`)!.push(version);
            }
          }),
        );
        return keys.map((key) => histories.get(`${key.first}|${key.templateId}`)!);
      },
      { cacheKeyFn: (key) => `${key.templateId}|${key.first}|${key.withConfiguration}` },
    ),

    /**
     * Usage series from the daily counts (template_usage_daily): one statement for every template of the batch asking
     * the same range, reading at most one row per template and day of the range.
     */
    usageByTemplateId: new DataLoader<UsageKey, UsagePoint[], string>(
      async (keys) => {
        const groups = new Map<string, UsageKey[]>();
        for (const key of keys) groups.set(rangeKeyOf(key), [...(groups.get(rangeKeyOf(key)) ?? []), key]);
        const series = new Map<string, UsagePoint[]>();
        await Promise.all(
          [...groups.values()].map(async (group) => {
            const range = group[0];
            const templateIds = [...new Set(group.map((key) => key.templateId))];
            const rows = await reader.rows<{ templateId: string; start: string; experiments: number }>(
              `select d.template_id as "templateId", to_char(date_trunc($4, d.day::timestamp), 'YYYY-MM-DD') as start,
                      sum(d.experiments)::integer as experiments
               from template_usage_daily d
               where d.template_id = any($1::uuid[]) and d.day between $2::date and $3::date
               group by 1, 2`,
              [templateIds, range.from, range.to, truncField(range.bucket)],
            );
            const counted = new Map<string, Map<string, number>>(templateIds.map((id) => [id, new Map()]));
            for (const row of rows) counted.get(row.templateId)!.set(row.start, row.experiments);
            for (const id of templateIds) series.set(`${rangeKeyOf(range)}#${id}`, usageSeries(range, counted.get(id)!));
          }),
        );
        return keys.map((key) => series.get(`${rangeKeyOf(key)}#${key.templateId}`)!);
      },
      { cacheKeyFn: (key) => `${rangeKeyOf(key)}#${key.templateId}` },
    ),

    templateVersion: new DataLoader<VersionKey, VersionContentRecord | null, string>(
      async (keys) => {
        const rows = await reader.rows<VersionRow & { configuration: Configuration }>(
          `select ${versionColumns(true)}
           from unnest($1::uuid[], $2::integer[]) as wanted(template_id, version)
           join experiment_template_versions v on v.template_id = wanted.template_id and v.version = wanted.version`,
          [keys.map((key) => key.templateId), keys.map((key) => key.version)],
        );
        const byKey = new Map(
          rows.map((row) => [`${row.templateId}:${row.version}`, { ...versionOf(row), configuration: row.configuration }]),
        );
        return keys.map((key) => byKey.get(`${key.templateId}:${key.version}`) ?? null);
      },
      { cacheKeyFn: (key) => `${key.templateId}:${key.version}` },
    ),
  };
}

/** A template's latest versions with their authors, as one JSON column of the statement that reads the template. */
function historyJsonColumn(history: HistoryRequest): string {
  const limit = history.first === null ? '' : `limit ${literalLimit(history.first)}`;
  return `(
    select coalesce(json_agg(json_build_object(
      'id', v.id, 'templateId', v.template_id, 'version', v.version, 'name', v.name, 'description', v.description,
      'category', v.category, 'tags', v.tags, 'configurationSchemaVersion', v.configuration_schema_version,
      'createdAt', v.created_at, 'changeNote', v.change_note,
      'authorId', v.created_by${history.withConfiguration ? ", 'configuration', v.configuration" : ''},
      'author', case when author.id is null then null else ${userJson('author')} end
    ) order by v.version desc), '[]'::json)
    from (
      select * from experiment_template_versions history where history.template_id = t.id order by history.version desc ${limit}
    ) v
    left join users author on author.id = v.created_by
  ) as history`;
}

function versionOfJson(json: HistoryJson): VersionRecord {
  const version = versionOf({ ...json, createdAt: new Date(json.createdAt) });
  version.readWith = { author: json.author === null ? null : userOfJson(json.author) };
  return version;
}
