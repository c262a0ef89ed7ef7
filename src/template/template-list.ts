import { isStaff, type Actor } from '../auth/actor';
import {
  isTimestampText,
  keysetClauses,
  keysetColumns,
  keysetOrder,
  keysetPage,
  OrderDirection,
  textField,
  timestampField,
  timestampTextSql,
  type KeysetField,
  type KeysetRow,
  type OrderRequest,
  type Page,
  type PageRequest,
} from '../db/keyset';
import {
  indexedValue,
  isEmptyJsonFilter,
  jsonFilterConditions,
  jsonFilterPlanFitsEveryValue,
  parseJsonFilter,
  takeIndexedValueList,
  type IndexedJsonPath,
  type JsonFilter,
} from '../db/json-filter';
import { SqlValues, type Reader } from '../db/sql';
import { containsText, parseSearch } from '../db/text-search';
import { canonicalUuid } from '../db/uuid';
import { ForbiddenError, UnauthenticatedError, type FieldError } from '../errors/domain-error';
import { userColumns, userJson, userOf, userOfJson } from '../user/user-rows';
import { throwIfInvalid } from '../validation/field-errors';
import { parseStorableText } from '../validation/storable';
import type { TemplateCategory } from './template-category';
import { LATEST_CONFIGURATION_SCHEMA_VERSION } from './configuration-schema';
import { normalizeTag, TAGS_MAX_COUNT } from './template-content';
import { templateColumns, templateOf, type TemplateRecord, type TemplateRow } from './template-rows';
import { ownSharedOrPublicTemplates, visibleTemplates } from './template-visibility';
export enum TemplateScope {
  MINE = 'MINE',
  SHARED_WITH_ME = 'SHARED_WITH_ME',
  PUBLIC = 'PUBLIC',
  ALL_VISIBLE = 'ALL_VISIBLE',
  /** Staff only: every template, whoever owns it, private and deactivated ones included. */
  EVERYONE = 'EVERYONE',
}

export enum TemplateActiveState {
  ACTIVE = 'ACTIVE',
  INACTIVE = 'INACTIVE',
  ALL = 'ALL',
}

export enum TemplateOrderField {
  UPDATED_AT = 'UPDATED_AT',
  CREATED_AT = 'CREATED_AT',
  NAME = 'NAME',
  USAGE_COUNT = 'USAGE_COUNT',
  LAST_USED = 'LAST_USED',
  TRENDING = 'TRENDING',
}

export interface TemplateListFilter {
  categories?: TemplateCategory[] | null;
  tags?: { allOf?: string[] | null; anyOf?: string[] | null } | null;
  search?: string | null;
  configuration?: JsonFilter | null;
  scope?: TemplateScope | null;
  activeState?: TemplateActiveState | null;
  configurationSchemaBehind?: boolean | null;
  /** Templates of this user only (within the scope). */
  ownerId?: string | null;
}

export interface TemplateListQuery {
  filter?: TemplateListFilter | null;
  orderBy?: OrderRequest<TemplateOrderField> | null;
}

export interface TemplateListOptions {
  /** Count the matching rows too (one COUNT, run alongside the page): leave it off when nobody reads the total. */
  withTotalCount?: boolean;
  /** Read each row's configuration (a few KB of jsonb) too: leave it off when nobody reads it. */
  withConfiguration?: boolean;
  /** Read each row's owner in the same statement (`readWith.owner`). */
  withOwner?: boolean;
  /**
   * Read what the caller may see of each row's shares in the same statement (`readWith.sharedWith`): the users its own
   * templates are shared with, nothing of others'.
   */
  withSharedWith?: boolean;
}

/**
 * The wizard's most common filters on a configuration: model type, framework, dataset format. Each path has a btree
 * index of its own, (value there, updated_at desc, id desc), and one more walks updated_at with all three values in
 * it (Migration20261206150000_template_configuration_path_indexes): a page of one value is read in order, a page of a
 * common value from a list is found without reading the rows it skips, and ANALYZE keeps statistics of the values.
 */
export const WIZARD_CONFIGURATION_PATHS: readonly IndexedJsonPath[] = [
  ['model', 'type'],
  ['model', 'framework'],
  ['dataset', 'format'],
];

const MAX_INTEGER = 2_147_483_647;

const ORDERS: Record<TemplateOrderField, KeysetField> = {
  [TemplateOrderField.UPDATED_AT]: timestampField('t.updated_at'),
  [TemplateOrderField.CREATED_AT]: timestampField('t.created_at'),
  [TemplateOrderField.NAME]: textField('t.name', 255),
  [TemplateOrderField.USAGE_COUNT]: {
    key: 't.usage_count',
    cursorValue: 't.usage_count',
    fromCursor: (value) => `${value}::integer`,
    defaultDirection: OrderDirection.DESC,
    isCursorValue: (value) => Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= MAX_INTEGER,
  },
  // The ranking kept in each experiment's transaction and moved on each UTC day (template-trending.ts).
  [TemplateOrderField.TRENDING]: {
    key: 't.trending_count',
    cursorValue: 't.trending_count',
    fromCursor: (value) => `${value}::integer`,
    defaultDirection: OrderDirection.DESC,
    isCursorValue: (value) => Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= MAX_INTEGER,
  },
  // Never used sorts as the earliest possible time: last when descending, first when ascending. A sentinel rather
  // than NULLS LAST, so that the row comparison of the keyset condition stays a plain `<` / `>`.
  [TemplateOrderField.LAST_USED]: {
    key: `coalesce(t.last_used, '-infinity'::timestamptz)`,
    cursorValue: timestampTextSql('t.last_used'),
    fromCursor: (value) => `coalesce(${value}::timestamptz, '-infinity'::timestamptz)`,
    defaultDirection: OrderDirection.DESC,
    isCursorValue: (value) => value === null || isTimestampText(value),
  },
};

type ListedRow = TemplateRow & KeysetRow & Record<string, unknown> & { sharedWith?: Array<Parameters<typeof userOfJson>[0]> | null };

/**
 * Lists the templates `actor` may see, keyset-paginated: a page continues strictly after its cursor (the sort key and
 * the id as a tie-break), so no OFFSET, and rows added between two fetches neither repeat nor shift the rest. One
 * statement for the page (with its owners and the caller's own shares when asked for), one COUNT alongside it when
 * asked for.
 */
export async function listTemplates(
  reader: Reader,
  actor: Actor | null,
  query: TemplateListQuery,
  pageRequest: PageRequest,
  options: TemplateListOptions = {},
): Promise<Page<TemplateRecord>> {
  const order = keysetOrder(ORDERS, query.orderBy, TemplateOrderField.UPDATED_AT, 't.id');
  const filter = query.filter ?? {};
  const values = new SqlValues();
  const where = filterConditions(actor, filter, values, order.key === ORDERS[TemplateOrderField.UPDATED_AT].key);
  // The filter's values come first ($1 to $n): the COUNT runs the same conditions with those alone.
  const filterValues = [...values.values];
  const page = keysetClauses(order, pageRequest, values);
  const owner = options.withOwner
    ? { columns: `, ${userColumns('owner', 'owner_')}`, join: 'join users owner on owner.id = t.created_by' }
    : null;
  const shares = options.withSharedWith && actor ? `, ${sharedWithColumn(actor, values)}` : '';
  const conditions = page.after ? `${where.sql} and ${page.after}` : where.sql;
  // A list of values at a wizard's path: that path's index read in page order once per value, a page at most from each.
  const rowsOfPage = where.listedValues
    ? `(select t.* from ${where.listedValues} cross join lateral (
         select t.* from experiment_templates t where ${conditions} order by ${page.orderBy} limit ${page.limit}
       ) t order by ${page.orderBy} limit ${page.limit}) t`
    : 'experiment_templates t';

  const [rows, totalCount] = await Promise.all([
    reader.rows<ListedRow>(
      `select ${templateColumns(options.withConfiguration ?? false)}, ${keysetColumns(order)}${owner?.columns ?? ''}${shares}
       from ${rowsOfPage} ${owner?.join ?? ''}
       ${where.listedValues ? '' : `where ${conditions}`}
       order by ${page.orderBy}
       limit ${page.limit}`,
      values.values,
      { planEachCall: where.planEachCall },
    ),
    options.withTotalCount ? countTemplates(reader, where, filterValues) : Promise.resolve(0),
  ]);
  return keysetPage(rows, order, page.first, totalCount, (row) => {
    const template = templateOf(row);
    if (options.withOwner || options.withSharedWith) {
      template.readWith = {
        owner: options.withOwner ? userOf(row, 'owner_')! : undefined,
        sharedWith: options.withSharedWith ? (row.sharedWith?.map(userOfJson) ?? []) : undefined,
      };
    }
    return template;
  });
}

/**
 * The users a template of the caller's own is shared with, in sharing order, as one JSON column; null on others': the
 * owner's and staff's rule of `Template.sharedWith` (template.resolver.ts), applied in the statement that reads the page.
 */
function sharedWithColumn(actor: Actor, values: SqlValues): string {
  const shares = `(
            select coalesce(json_agg(${userJson('shared_user')} order by share.shared_at, share.user_id), '[]'::json)
            from experiment_template_shares share join users shared_user on shared_user.id = share.user_id
            where share.template_id = t.id
          )`;
  if (isStaff(actor)) return `${shares} as "sharedWith"`;
  return `case when t.created_by = ${values.bind(actor.userId)}::uuid then ${shares} end as "sharedWith"`;
}

async function countTemplates(reader: Reader, where: FilterSql, values: unknown[]): Promise<number> {
  const [{ count }] = await reader.rows<{ count: number }>(
    `select count(*)::integer as count from ${where.listedValues ? `${where.listedValues}, ` : ''}experiment_templates t where ${where.sql}`,
    values,
    { planEachCall: where.planEachCall },
  );
  return count;
}

/** The filter's SQL, and whether its best plan depends on the values (see `Sql.rows`). */
interface FilterSql {
  sql: string;
  planEachCall: boolean;
  /**
   * The distinct values of a list at a wizard's path, as the rows `listed_value(value)`, which `sql` compares that
   * path with: the rows of the filter are those of `sql` for each of them. Distinct values there match distinct rows.
   */
  listedValues?: string;
}

/**
 * The filter, always intersected with visibility; inactive templates only ever reach their owner, and staff listing
 * `EVERYONE`. The other scopes are within what the caller sees in their own right, staff's too.
 */
function filterConditions(actor: Actor | null, filter: TemplateListFilter, values: SqlValues, readsWizardPathOrder: boolean): FilterSql {
  const scope = filter.scope ?? TemplateScope.ALL_VISIBLE;
  const everyone = scope === TemplateScope.EVERYONE;
  if (everyone && !isStaff(callerOf(actor))) throw new ForbiddenError('Only staff may list every template', '/filter/scope');
  const where = [everyone ? visibleTemplates('t', actor, values) : ownSharedOrPublicTemplates('t', actor, values)];

  switch (scope) {
    case TemplateScope.MINE:
      where.push(`t.created_by = ${values.bind(callerOf(actor).userId)}::uuid`);
      break;
    case TemplateScope.SHARED_WITH_ME: {
      const caller = callerOf(actor).userId;
      // One `in` over both kinds of share, which the planner turns into a semi-join driven by the caller's shares
      // (two `exists` OR-ed would leave it filtering the whole ordered index). The caller's own templates shared with
      // their own teams are theirs, not shared with them.
      where.push(
        `t.created_by <> ${values.bind(caller)}::uuid and t.id in (` +
          `select scope_share.template_id from experiment_template_shares scope_share where scope_share.user_id = ${values.bind(caller)}::uuid ` +
          'union all select scope_team_share.template_id from experiment_template_team_shares scope_team_share ' +
          'join team_members scope_member on scope_member.team_id = scope_team_share.team_id ' +
          `where scope_member.user_id = ${values.bind(caller)}::uuid)`,
      );
      break;
    }
    case TemplateScope.PUBLIC:
      where.push('t.is_public');
      break;
    case TemplateScope.ALL_VISIBLE:
    case TemplateScope.EVERYONE:
      break;
  }

  switch (filter.activeState ?? TemplateActiveState.ACTIVE) {
    case TemplateActiveState.ACTIVE:
      where.push('t.is_active');
      break;
    case TemplateActiveState.INACTIVE:
      if (everyone) where.push('not t.is_active');
      else where.push(actor ? `not t.is_active and t.created_by = ${values.bind(actor.userId)}::uuid` : 'false');
      break;
    case TemplateActiveState.ALL:
      if (!everyone) where.push(actor ? `(t.is_active or t.created_by = ${values.bind(actor.userId)}::uuid)` : 't.is_active');
      break;
  }

  // No index: "behind" is rare and shrinks as templates are upgraded; the other conditions pick the rows.
  if (filter.configurationSchemaBehind === true) where.push(`t.configuration_schema_version < ${LATEST_CONFIGURATION_SCHEMA_VERSION}`);
  else if (filter.configurationSchemaBehind === false)
    where.push(`t.configuration_schema_version = ${LATEST_CONFIGURATION_SCHEMA_VERSION}`);

  // An empty list filters nothing, like a list left out: "no category ticked" means "any category".
  // One category as an equality, so that the planner can walk the (category, updated_at) index in order.
  if (filter.categories?.length === 1) where.push(`t.category = ${values.bind(filter.categories[0])}::text`);
  else if (filter.categories?.length) where.push(`t.category = any(${values.bind(filter.categories)}::text[])`);

  const errors: FieldError[] = [];
  const allOf = parseTagFilter(filter.tags?.allOf, '/filter/tags/allOf', errors);
  const anyOf = parseTagFilter(filter.tags?.anyOf, '/filter/tags/anyOf', errors);
  const search = parseSearch(filter.search, '/filter/search', errors);
  const configuration = parseJsonFilter(filter.configuration, '/filter/configuration', errors);
  const ownerId = parseOwnerId(filter.ownerId, '/filter/ownerId', errors);
  throwIfInvalid(errors);

  if (ownerId) where.push(`t.created_by = ${values.bind(ownerId)}::uuid`);

  if (allOf.length > 0) where.push(`t.tags @> ${values.bind(JSON.stringify(allOf))}::jsonb`);
  // One containment test per tag, OR-ed: each is served by the GIN index on tags.
  if (anyOf.length > 0) where.push(`(${anyOf.map((tag) => `t.tags @> ${values.bind(JSON.stringify([tag]))}::jsonb`).join(' or ')})`);

  if (search) {
    // The same expression as the trigram index experiment_templates_search_index, so the index can serve it.
    where.push(containsText(`(t.name || ' ' || coalesce(t.description, ''))`, search, values));
  }
  // Served by the indexes on the wizard's paths where it names them, by the GIN index
  // experiment_templates_configuration_index where the conditions are containments.
  const valueList = configuration && readsWizardPathOrder ? takeIndexedValueList(configuration, WIZARD_CONFIGURATION_PATHS) : undefined;
  let listedValues: string | undefined;
  if (valueList) {
    // One parameter per value rather than an array: PostgreSQL then counts the values exactly, and its plan of the
    // first calls costs the same as the plan it keeps.
    const rows = valueList.candidates.map((candidate) => `(${values.bind(JSON.stringify(candidate))}::jsonb)`);
    listedValues = `(select distinct value from (values ${rows.join(', ')}) as listed(value)) listed_value`;
    where.push(`${indexedValue('t.configuration', valueList.path)} = listed_value.value`);
  }
  const otherConfiguration = valueList ? valueList.rest : configuration;
  if (otherConfiguration) where.push(...jsonFilterConditions('t.configuration', otherConfiguration, values, WIZARD_CONFIGURATION_PATHS));
  return {
    sql: where.map((condition) => `(${condition})`).join(' and '),
    planEachCall:
      search !== undefined ||
      allOf.length + anyOf.length > 0 ||
      (otherConfiguration !== undefined &&
        !(valueList
          ? isEmptyJsonFilter(otherConfiguration)
          : jsonFilterPlanFitsEveryValue(otherConfiguration, WIZARD_CONFIGURATION_PATHS))),
    listedValues,
  };
}

/** A scope of the caller's own needs a caller. */
function callerOf(actor: Actor | null): Actor {
  if (!actor) throw new UnauthenticatedError();
  return actor;
}

/** Tags as the templates store them (normalised), so that a filter on "Deep Learning" finds "deep-learning". */
function parseTagFilter(tags: string[] | null | undefined, path: string, errors: FieldError[]): string[] {
  if (!tags) return [];
  if (tags.length > TAGS_MAX_COUNT) {
    errors.push({ path, message: `must list at most ${TAGS_MAX_COUNT} tags` });
    return [];
  }
  // A NUL or a lone surrogate would reach jsonb (which refuses both) as an escape: a client error, not a failed query.
  const storable = tags.filter((tag, index) => parseStorableText(tag, `${path}/${index}`, errors) !== undefined);
  return [...new Set(storable.map(normalizeTag).filter((tag) => tag.length > 0))];
}

function parseOwnerId(ownerId: string | null | undefined, path: string, errors: FieldError[]): string | undefined {
  if (ownerId === null || ownerId === undefined) return undefined;
  const id = canonicalUuid(ownerId);
  if (id === undefined) errors.push({ path, message: 'must be a user id (UUID)' });
  return id;
}
