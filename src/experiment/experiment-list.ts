import type { Actor } from '../auth/actor';
import {
  checkCursor,
  emptyPage,
  isTimestampText,
  keysetClauses,
  keysetColumns,
  keysetPage,
  OrderDirection,
  timestampTextSql,
  type KeysetOrder,
  type KeysetRow,
  type Page,
  type PageRequest,
} from '../db/keyset';
import { jsonFilterConditions, parseJsonFilter, type JsonFilter, type ParsedJsonFilter } from '../db/json-filter';
import { SqlValues, type Reader } from '../db/sql';
import { isUuid } from '../db/uuid';
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

/** The documents a filter may look inside: the configuration and what analysis services wrote. */
export const FILTERABLE_DOCUMENTS = [
  'configuration',
  'configurationMetadata',
  'datasetStatistics',
  'featureImportance',
  'modelRecommendations',
  'resourceRequirements',
] as const satisfies readonly ExperimentDocument[];

export interface ExperimentFilter extends Partial<Record<(typeof FILTERABLE_DOCUMENTS)[number], JsonFilter | null>> {
  templateId?: string | null;
  templateCategory?: TemplateCategory | null;
  status?: string | null;
  wizardCompleted?: boolean | null;
}

/** Newest first; created_at travels at full microsecond precision, which a JS Date lacks. */
export const NEWEST_FIRST: KeysetOrder = {
  tag: 'CREATED_AT:DESC',
  key: 'e.created_at',
  cursorValue: timestampTextSql('e.created_at'),
  fromCursor: (value) => `${value}::timestamptz`,
  isCursorValue: isTimestampText,
  direction: OrderDirection.DESC,
  id: 'e.id',
};

const STATUS_MAX_LENGTH = 32;

type ListedRow = ExperimentRow & KeysetRow;

/** The caller's own experiments, newest first, in keyset pages: one statement for the page, one COUNT alongside. */
export async function listExperiments(
  reader: Reader,
  actor: Actor,
  filter: ExperimentFilter,
  pageRequest: PageRequest,
  documents: readonly ExperimentDocument[],
): Promise<Page<ExperimentRecord>> {
  const errors: FieldError[] = [];
  const documentFilters = parseFilter(filter, '/filter', errors);
  throwIfInvalid(errors);
  const values = new SqlValues();
  const where = filterConditions(actor, filter, documentFilters!, values);
  // The filter's values come first ($1 to $n): the COUNT runs the same conditions with those alone.
  const filterValues = [...values.values];
  const page = keysetClauses(NEWEST_FIRST, pageRequest, values);

  const [rows, [{ count }]] = await Promise.all([
    reader.rows<ListedRow>(
      `select ${experimentColumns(documents)}, ${keysetColumns(NEWEST_FIRST)}
       from ml_experiments e
       where ${page.after ? `${where} and ${page.after}` : where}
       order by ${page.orderBy}
       limit ${page.limit}`,
      values.values,
    ),
    reader.rows<{ count: number }>(`select count(*)::integer as count from ml_experiments e where ${where}`, filterValues),
  ]);
  return keysetPage(rows, NEWEST_FIRST, page.first, count, experimentOf);
}

/**
 * One page of the caller's experiments for each of several templates (`Template.experiments` on a page of templates),
 * in one statement: rows are numbered per template and cut at `first + 1`. Their totals are 0: counts come from
 * `countByTemplate`, which can run alongside.
 */
export async function pageByTemplate(
  reader: Reader,
  actor: Actor,
  templateIds: string[],
  pageRequest: PageRequest,
  documents: readonly ExperimentDocument[],
): Promise<Map<string, Page<ExperimentRecord>>> {
  const wanted = templateIds.filter(isUuid);
  const pages = new Map<string, Page<ExperimentRecord>>(templateIds.map((id) => [id, emptyPage<ExperimentRecord>()]));
  if (wanted.length === 0) return pages;
  const values = new SqlValues();
  const where = `e.owner_id = ${values.bind(actor.userId)}::uuid and e.template_id = any(${values.bind(wanted)}::uuid[])`;
  const page = keysetClauses(NEWEST_FIRST, pageRequest, values);
  const rows = await reader.rows<ListedRow & { row_in_template: string }>(
    `select * from (
       select ${experimentColumns(documents)}, ${keysetColumns(NEWEST_FIRST)},
              row_number() over (partition by e.template_id order by ${page.orderBy}) as row_in_template
       from ml_experiments e
       where ${page.after ? `${where} and ${page.after}` : where}
     ) ranked
     where ranked.row_in_template <= ${page.limit}
     order by ranked."createdAt" desc, ranked.id desc`,
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

function filterConditions(actor: Actor, filter: ExperimentFilter, documentFilters: DocumentFilters, values: SqlValues): string {
  const where = [`e.owner_id = ${values.bind(actor.userId)}::uuid`];
  if (filter.templateId) where.push(`e.template_id = ${values.bind(filter.templateId)}::uuid`);
  if (filter.status) where.push(`e.status = ${values.bind(filter.status)}::text`);
  if (typeof filter.wizardCompleted === 'boolean') where.push(`e.wizard_completed = ${values.bind(filter.wizardCompleted)}::boolean`);
  if (filter.templateId || filter.templateCategory) {
    // The template and its category count only while the caller may still see the template, as for
    // `Experiment.template`: the id of a template hidden from the caller answers like an unknown id.
    const category = filter.templateCategory ? ` and t.category = ${values.bind(filter.templateCategory)}::text` : '';
    where.push(
      `exists (select 1 from experiment_templates t where t.id = e.template_id${category} and ${visibleTemplates('t', actor, values)})`,
    );
  }
  for (const [document, documentFilter] of documentFilters) {
    where.push(...jsonFilterConditions(EXPERIMENT_DOCUMENTS[document], documentFilter, values));
  }
  return where.map((condition) => `(${condition})`).join(' and ');
}

type DocumentFilters = Array<[(typeof FILTERABLE_DOCUMENTS)[number], ParsedJsonFilter]>;

/** The filter's document conditions, checked; its other fields are checked in place. */
function parseFilter(filter: ExperimentFilter, path: string, errors: FieldError[]): DocumentFilters | undefined {
  const before = errors.length;
  const documentFilters: DocumentFilters = [];
  for (const document of FILTERABLE_DOCUMENTS) {
    const parsed = parseJsonFilter(filter[document], `${path}/${document}`, errors);
    if (parsed) documentFilters.push([document, parsed]);
  }
  if (filter.templateId !== undefined && filter.templateId !== null && !isUuid(filter.templateId)) {
    errors.push({ path: `${path}/templateId`, message: 'must be a UUID' });
  }
  if (filter.templateCategory !== undefined && filter.templateCategory !== null && !isTemplateCategory(filter.templateCategory)) {
    errors.push({ path: `${path}/templateCategory`, message: `must be one of: ${TEMPLATE_CATEGORIES.join(', ')}` });
  }
  if (typeof filter.status === 'string' && filter.status.length > STATUS_MAX_LENGTH) {
    errors.push({ path: `${path}/status`, message: `must be at most ${STATUS_MAX_LENGTH} characters` });
  }
  parseStorableText(filter.status, `${path}/status`, errors);
  return errors.length === before ? documentFilters : undefined;
}
