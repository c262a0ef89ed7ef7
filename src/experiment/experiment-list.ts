import type { Actor } from '../auth/actor';
import {
  checkCursor,
  emptyPage,
  keysetClauses,
  keysetColumns,
  keysetOrder,
  keysetPage,
  textField,
  timestampField,
  type KeysetField,
  type KeysetRow,
  type OrderRequest,
  type Page,
  type PageRequest,
} from '../db/keyset';
import { jsonFilterConditions, parseJsonFilter, type JsonFilter, type ParsedJsonFilter } from '../db/json-filter';
import { SqlValues, type Reader } from '../db/sql';
import { containsText, parseSearch } from '../db/text-search';
import { canonicalUuid, isUuid } from '../db/uuid';
import { type FieldError } from '../errors/domain-error';
import { throwIfInvalid } from '../validation/field-errors';
import { parseStorableText } from '../validation/storable';
import { isTemplateCategory, TEMPLATE_CATEGORIES, type TemplateCategory } from '../template/template-category';
import { visibleTemplates } from '../template/template-visibility';
import {
  EXPERIMENT_DOCUMENTS,
  experimentColumns,
  experimentOf,
  type ExperimentDocument,
  type ExperimentRecord,
  type ExperimentRow,
} from './experiment-rows';
import { isInProgress } from './experiment-status';
import { visibleExperiments } from './experiment-visibility';

/** The documents a filter may look inside: the configuration and what analysis services wrote. */
export const FILTERABLE_DOCUMENTS = [
  'configuration',
  'configurationMetadata',
  'datasetStatistics',
  'featureImportance',
  'modelRecommendations',
  'resourceRequirements',
] as const satisfies readonly ExperimentDocument[];

/** A span of time: `from` inclusive, `to` exclusive; either may be left open. */
export interface TimeRange {
  from?: Date | null;
  to?: Date | null;
}

export interface ExperimentFilter extends Partial<Record<(typeof FILTERABLE_DOCUMENTS)[number], JsonFilter | null>> {
  templateId?: string | null;
  /** Any of these templates; an empty list filters nothing. */
  templateIds?: string[] | null;
  templateCategory?: TemplateCategory | null;
  /** One status; `statuses` is its successor. */
  status?: string | null;
  /** Any of these statuses; an empty list filters nothing. */
  statuses?: string[] | null;
  wizardCompleted?: boolean | null;
  createdAt?: TimeRange | null;
  updatedAt?: TimeRange | null;
  /** Text in the name or description. */
  search?: string | null;
  /** The owner: narrows a service's or staff's list; anyone else's list holds their own experiments only. */
  ownerId?: string | null;
}

export enum ExperimentOrderField {
  CREATED_AT = 'CREATED_AT',
  UPDATED_AT = 'UPDATED_AT',
  NAME = 'NAME',
  STATUS = 'STATUS',
}

export interface ExperimentListQuery {
  filter?: ExperimentFilter | null;
  orderBy?: OrderRequest<ExperimentOrderField> | null;
}

export interface ExperimentListOptions {
  /** Count the matching rows too (one COUNT, run alongside the page): leave it off when nobody reads the total. */
  withTotalCount?: boolean;
  /** The JSON documents to read of each row. */
  documents?: readonly ExperimentDocument[];
}

const STATUS_MAX_LENGTH = 32;
/** As many statuses as a filter may name: the lifecycle's six and older rows' own. */
const STATUSES_MAX_COUNT = 20;
/** As many templates as a filter may name. */
const TEMPLATE_IDS_MAX_COUNT = 100;

const ORDERS: Record<ExperimentOrderField, KeysetField> = {
  [ExperimentOrderField.CREATED_AT]: timestampField('e.created_at'),
  [ExperimentOrderField.UPDATED_AT]: timestampField('e.updated_at'),
  [ExperimentOrderField.NAME]: textField('e.name', 255),
  // By the stored text (cancelled, completed, draft, failed, queued, running), then by id.
  [ExperimentOrderField.STATUS]: textField('e.status', STATUS_MAX_LENGTH),
};

/** The predicate of `ml_experiments_in_progress_index` (Migration20261206120100_experiment_status_index), as written there. */
const IN_PROGRESS_INDEX_PREDICATE = `e.status in ('queued', 'running')`;

/** Newest first: the default order, and the one of `Template.experiments`. */
export const NEWEST_FIRST = keysetOrder(ORDERS, null, ExperimentOrderField.CREATED_AT, 'e.id');

type ListedRow = ExperimentRow & KeysetRow;

/**
 * The experiments the caller may see (their own; every owner's for a service or staff), filtered and ordered as asked,
 * in keyset pages: one statement for the page, one COUNT alongside when asked for.
 */
export async function listExperiments(
  reader: Reader,
  actor: Actor,
  query: ExperimentListQuery,
  pageRequest: PageRequest,
  options: ExperimentListOptions = {},
): Promise<Page<ExperimentRecord>> {
  const order = keysetOrder(ORDERS, query.orderBy, ExperimentOrderField.CREATED_AT, 'e.id');
  const errors: FieldError[] = [];
  const filter = parseFilter(query.filter ?? {}, '/filter', errors);
  throwIfInvalid(errors);
  const values = new SqlValues();
  const where = filterConditions(actor, filter!, values);
  // The filter's values come first ($1 to $n): the COUNT runs the same conditions with those alone.
  const filterValues = [...values.values];
  const page = keysetClauses(order, pageRequest, values);
  // A search's and a document condition's best plans depend on their values (see `Sql.rows`).
  const planEachCall = filter!.search !== undefined || filter!.documents.length > 0;

  const [rows, totalCount] = await Promise.all([
    reader.rows<ListedRow>(
      `select ${experimentColumns(options.documents ?? [])}, ${keysetColumns(order)}
       from ml_experiments e
       where ${page.after ? `${where} and ${page.after}` : where}
       order by ${page.orderBy}
       limit ${page.limit}`,
      values.values,
      { planEachCall },
    ),
    options.withTotalCount
      ? reader
          .rows<{ count: number }>(`select count(*)::integer as count from ml_experiments e where ${where}`, filterValues, { planEachCall })
          .then(([{ count }]) => count)
      : Promise.resolve(0),
  ]);
  return keysetPage(rows, order, page.first, totalCount, experimentOf);
}

/**
 * One page of the caller's experiments for each of several templates (`Template.experiments` on a page of templates),
 * in one statement: for each template, laterally, its page from the (owner, template, created_at desc, id desc) index,
 * which reads a page's rows and no more, however many experiments the caller made from it. Each template id is a
 * parameter of its own, so PostgreSQL counts them exactly and keeps one plan for any ids. Their totals are 0: counts
 * come from `countByTemplate`, which can run alongside.
 */
export async function pageByTemplate(
  reader: Reader,
  actor: Actor,
  templateIds: string[],
  pageRequest: PageRequest,
  documents: readonly ExperimentDocument[],
): Promise<Map<string, Page<ExperimentRecord>>> {
  const wanted = [...new Set(templateIds.filter(isUuid))];
  const pages = new Map<string, Page<ExperimentRecord>>(templateIds.map((id) => [id, emptyPage<ExperimentRecord>()]));
  if (wanted.length === 0) return pages;
  const values = new SqlValues();
  const listed = wanted.map((id) => `(${values.bind(id)}::uuid)`).join(', ');
  const where = `e.owner_id = ${values.bind(actor.userId)}::uuid and e.template_id = listed_template.id`;
  const page = keysetClauses(NEWEST_FIRST, pageRequest, values);
  const rows = await reader.rows<ListedRow>(
    `select e.* from (values ${listed}) as listed_template(id)
     cross join lateral (
       select ${experimentColumns(documents)}, ${keysetColumns(NEWEST_FIRST)}
       from ml_experiments e
       where ${page.after ? `${where} and ${page.after}` : where}
       order by ${page.orderBy}
       limit ${page.limit}
     ) e
     order by e."createdAt" desc, e.id desc`,
    values.values,
  );
  const byTemplate = new Map<string, ListedRow[]>(wanted.map((id) => [id, []]));
  for (const row of rows) byTemplate.get(row.templateId!)?.push(row);
  for (const [id, own] of byTemplate) pages.set(id, keysetPage(own, NEWEST_FIRST, page.first, 0, experimentOf));
  return pages;
}

/** How many of the caller's experiments each template started, in one statement. */
export async function countByTemplate(reader: Reader, actor: Actor, templateIds: string[]): Promise<Map<string, number>> {
  const wanted = templateIds.filter(isUuid);
  if (wanted.length === 0) return new Map();
  const rows = await reader.rows<{ templateId: string; count: number }>(
    `select e.template_id as "templateId", count(*)::integer as count
     from ml_experiments e
     where e.owner_id = $1::uuid and e.template_id = any($2::uuid[])
     group by e.template_id`,
    [actor.userId, wanted],
  );
  return new Map(rows.map((row) => [row.templateId, row.count]));
}

/** A cursor must decode to values of the keyset's types before it goes anywhere near SQL. */
export function checkExperimentCursor(after: string | null | undefined): void {
  checkCursor(NEWEST_FIRST, after);
}

function filterConditions(actor: Actor, filter: ParsedFilter, values: SqlValues): string {
  const where = [visibleExperiments('e', actor, values)];
  if (filter.ownerId) where.push(`e.owner_id = ${values.bind(filter.ownerId)}::uuid`);
  if (filter.status) where.push(`e.status = ${values.bind(filter.status)}::text`);
  // One status as an equality, so that the planner can walk the (status, created_at) index in order.
  if (filter.statuses.length === 1) where.push(`e.status = ${values.bind(filter.statuses[0])}::text`);
  else if (filter.statuses.length > 1) where.push(`e.status = any(${values.bind(filter.statuses)}::text[])`);
  // The statuses are bound values, which a generic plan cannot match to the partial index of the experiments in
  // progress: this condition, the index's own predicate in the statement's text, lets every plan use it.
  const statuses = [...filter.statuses, ...(filter.status ? [filter.status] : [])];
  if (statuses.length > 0 && statuses.every(isInProgress)) where.push(IN_PROGRESS_INDEX_PREDICATE);
  if (typeof filter.wizardCompleted === 'boolean') where.push(`e.wizard_completed = ${values.bind(filter.wizardCompleted)}::boolean`);
  for (const [field, column] of [
    ['createdAt', 'e.created_at'],
    ['updatedAt', 'e.updated_at'],
  ] as const) {
    const range = filter[field];
    if (range?.from) where.push(`${column} >= ${values.bind(range.from)}::timestamptz`);
    if (range?.to) where.push(`${column} < ${values.bind(range.to)}::timestamptz`);
  }
  if (filter.search) where.push(containsText(`(e.name || ' ' || coalesce(e.description, ''))`, filter.search, values));
  if (filter.templateId) where.push(`e.template_id = ${values.bind(filter.templateId)}::uuid`);
  if (filter.templateIds.length > 0) where.push(`e.template_id = any(${values.bind(filter.templateIds)}::uuid[])`);
  if (filter.templateId || filter.templateIds.length > 0 || filter.templateCategory) {
    // The template and its category count only while the caller may still see the template, as for
    // `Experiment.template`: the id of a template hidden from the caller answers like an unknown id.
    const category = filter.templateCategory ? ` and t.category = ${values.bind(filter.templateCategory)}::text` : '';
    where.push(
      `exists (select 1 from experiment_templates t where t.id = e.template_id${category} and ${visibleTemplates('t', actor, values)})`,
    );
  }
  for (const [document, documentFilter] of filter.documents) {
    where.push(...jsonFilterConditions(EXPERIMENT_DOCUMENTS[document], documentFilter, values));
  }
  return where.map((condition) => `(${condition})`).join(' and ');
}

/** The filter checked: ids in canonical form, lists without duplicates, the search trimmed, documents parsed. */
interface ParsedFilter extends Omit<ExperimentFilter, 'statuses' | 'templateIds' | 'search'> {
  statuses: string[];
  templateIds: string[];
  search?: string;
  documents: Array<[(typeof FILTERABLE_DOCUMENTS)[number], ParsedJsonFilter]>;
}

/** The filter, every field checked at its path; undefined when anything is wrong (the problems are in `errors`). */
function parseFilter(filter: ExperimentFilter, path: string, errors: FieldError[]): ParsedFilter | undefined {
  const before = errors.length;
  const documents: ParsedFilter['documents'] = [];
  for (const document of FILTERABLE_DOCUMENTS) {
    const parsed = parseJsonFilter(filter[document], `${path}/${document}`, errors);
    if (parsed) documents.push([document, parsed]);
  }
  const idAt = (id: string | null | undefined, at: string): string | null => {
    if (id === undefined || id === null) return null;
    const canonical = canonicalUuid(id);
    if (!canonical) errors.push({ path: at, message: 'must be a UUID' });
    return canonical ?? null;
  };
  const templateId = idAt(filter.templateId, `${path}/templateId`);
  const ownerId = idAt(filter.ownerId, `${path}/ownerId`);
  const templateIds = parseList(filter.templateIds, `${path}/templateIds`, TEMPLATE_IDS_MAX_COUNT, errors, (id, at) => idAt(id, at));
  if (filter.templateCategory !== undefined && filter.templateCategory !== null && !isTemplateCategory(filter.templateCategory)) {
    errors.push({ path: `${path}/templateCategory`, message: `must be one of: ${TEMPLATE_CATEGORIES.join(', ')}` });
  }
  const status = filter.status === undefined || filter.status === null ? null : parseStatus(filter.status, `${path}/status`, errors);
  const statuses = parseList(filter.statuses, `${path}/statuses`, STATUSES_MAX_COUNT, errors, parseStatus);
  for (const field of ['createdAt', 'updatedAt'] as const) parseTimeRange(filter[field], `${path}/${field}`, errors);
  const search = parseSearch(filter.search, `${path}/search`, errors);
  if (errors.length > before) return undefined;
  return { ...filter, templateId, ownerId, templateIds, status, statuses, search, documents };
}

function parseStatus(status: string, path: string, errors: FieldError[]): string | null {
  if (status.length > STATUS_MAX_LENGTH) {
    errors.push({ path, message: `must be at most ${STATUS_MAX_LENGTH} characters` });
    return null;
  }
  return parseStorableText(status, path, errors) ?? null;
}

/** A list of at most `max` values, each parsed at its index; duplicates dropped. */
function parseList(
  given: string[] | null | undefined,
  path: string,
  max: number,
  errors: FieldError[],
  parse: (value: string, path: string, errors: FieldError[]) => string | null,
): string[] {
  if (!given) return [];
  if (given.length > max) {
    errors.push({ path, message: `must list at most ${max} values` });
    return [];
  }
  const parsed = given.map((value, index) => parse(value, `${path}/${index}`, errors));
  return [...new Set(parsed.filter((value) => value !== null))];
}

function parseTimeRange(range: TimeRange | null | undefined, path: string, errors: FieldError[]): void {
  if (!range) return;
  for (const field of ['from', 'to'] as const) {
    const time = range[field];
    if (time !== undefined && time !== null && !(time instanceof Date && !Number.isNaN(time.getTime()))) {
      errors.push({ path: `${path}/${field}`, message: 'must be a date-time' });
    }
  }
  if (range.from && range.to && range.to.getTime() <= range.from.getTime()) {
    errors.push({ path: `${path}/to`, message: 'must be after `from`' });
  }
}
