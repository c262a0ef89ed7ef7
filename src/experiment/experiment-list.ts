import { raw } from '@mikro-orm/core';
import type { EntityManager, QueryBuilder } from '@mikro-orm/postgresql';
import type { Actor } from '../auth/actor';
import {
  checkPageSize,
  decodeCursor,
  emptyPage,
  isTimestampText,
  pageFrom,
  timestampTextSql,
  type Page,
  type PageRequest,
} from '../db/keyset';
import { isUuid } from '../db/uuid';
import { ValidationError, type FieldError } from '../errors/domain-error';
import { throwIfInvalid } from '../validation/field-errors';
import { parseStorableText } from '../validation/storable';
import { isTemplateCategory, TEMPLATE_CATEGORIES, type TemplateCategory } from '../template/template-category';
import { visibleTemplates } from '../template/template-visibility';
import { Experiment } from './experiment.entity';

export interface ExperimentFilter {
  templateId?: string | null;
  templateCategory?: TemplateCategory | null;
  status?: string | null;
  wizardCompleted?: boolean | null;
}

/** The keyset: (created_at desc, id desc). created_at travels at full microsecond precision, which a JS Date lacks. */
type ExperimentCursor = [createdAt: string, id: string];

const CURSOR_CREATED_AT = timestampTextSql('e.created_at');
const STATUS_MAX_LENGTH = 32;

type ExperimentRow = Record<string, unknown> & { id: string; cursor_created_at: string };

/** The caller's own experiments, newest first, in keyset pages: one statement for the page, one COUNT. */
export async function listExperiments(
  em: EntityManager,
  actor: Actor,
  filter: ExperimentFilter,
  page: PageRequest,
): Promise<Page<Experiment>> {
  const first = checkPageSize(page.first);
  const cursor = page.after ? parseCursor(page.after) : null;
  const errors: FieldError[] = [];
  parseFilter(filter, '/filter', errors);
  throwIfInvalid(errors);

  const rowsQuery = filtered(em, actor, filter).select(['*', raw(`${CURSOR_CREATED_AT} as cursor_created_at`)]);
  if (cursor) rowsQuery.andWhere('(e.created_at, e.id) < (?, ?)', cursor);
  rowsQuery.orderBy({ createdAt: 'desc', id: 'desc' }).limit(first + 1);

  const [rows, totalCount] = await Promise.all([
    rowsQuery.execute<ExperimentRow[]>('all', false),
    filtered(em, actor, filter).getCount('e.id'),
  ]);
  return toPage(em, rows, first, totalCount);
}

/**
 * One page of the caller's experiments for each of several templates (`Template.experiments` on a page of templates),
 * in one statement: rows are numbered per template and cut at `first + 1`. Counts come from `countByTemplate`.
 */
export async function pageByTemplate(
  em: EntityManager,
  actor: Actor,
  templateIds: string[],
  page: PageRequest,
  counts: Map<string, number>,
): Promise<Map<string, Page<Experiment>>> {
  const first = checkPageSize(page.first);
  const cursor = page.after ? parseCursor(page.after) : null;
  const wanted = templateIds.filter(isUuid);
  const pages = new Map<string, Page<Experiment>>(templateIds.map((id) => [id, emptyPage<Experiment>()]));
  if (wanted.length === 0) return pages;

  const ranked = em
    .createQueryBuilder(Experiment, 'e')
    .select([
      '*',
      raw(`${CURSOR_CREATED_AT} as cursor_created_at`),
      raw('row_number() over (partition by e.template_id order by e.created_at desc, e.id desc) as row_in_template'),
    ])
    .where({ owner: actor.userId, template: { $in: wanted } });
  if (cursor) ranked.andWhere('(e.created_at, e.id) < (?, ?)', cursor);
  const cut = em
    .getKnex()
    .select('*')
    .from(ranked.getKnexQuery().as('ranked'))
    .where('ranked.row_in_template', '<=', first + 1)
    .orderBy([
      { column: 'ranked.created_at', order: 'desc' },
      { column: 'ranked.id', order: 'desc' },
    ]);
  // `e.*` and the ORM's converted interval columns share names; node-postgres keeps the later, converted value.
  const rows = await em.execute<Array<ExperimentRow & { template_id: string }>>(cut);
  const byTemplate = new Map<string, ExperimentRow[]>(wanted.map((id) => [id, []]));
  for (const row of rows) byTemplate.get(row.template_id)?.push(row);
  for (const [id, own] of byTemplate) pages.set(id, toPage(em, own, first, counts.get(id) ?? 0));
  return pages;
}

/** How many of the caller's experiments each template started, in one statement. */
export async function countByTemplate(em: EntityManager, actor: Actor, templateIds: string[]): Promise<Map<string, number>> {
  const wanted = templateIds.filter(isUuid);
  if (wanted.length === 0) return new Map();
  const rows = await em
    .createQueryBuilder(Experiment, 'e')
    .select(['e.template_id', raw('count(*)::int as count')])
    .where({ owner: actor.userId, template: { $in: wanted } })
    .groupBy('e.template_id')
    .execute<Array<{ template_id: string; count: number }>>('all', false);
  return new Map(rows.map((row) => [row.template_id, row.count]));
}

/** A cursor must decode to values of the keyset's types before it goes anywhere near SQL. */
export function parseCursor(after: string): ExperimentCursor {
  const [createdAt, id] = decodeCursor(after, 2);
  if (!isTimestampText(createdAt) || !isUuid(id)) {
    throw ValidationError.at('/after', 'is not a cursor of this list (it may belong to another ordering)');
  }
  return [createdAt, id];
}

function filtered(em: EntityManager, actor: Actor, filter: ExperimentFilter): QueryBuilder<Experiment> {
  const query = em.createQueryBuilder(Experiment, 'e').where({ owner: actor.userId });
  if (filter.templateId) query.andWhere({ template: filter.templateId });
  if (filter.status) query.andWhere({ status: filter.status });
  if (typeof filter.wizardCompleted === 'boolean') query.andWhere({ wizardCompleted: filter.wizardCompleted });
  if (filter.templateCategory) {
    // The template's category counts only while the caller may still see the template, as for `Experiment.template`.
    const visible = visibleTemplates('t', actor);
    query.join('e.template', 't').andWhere({ 't.category': filter.templateCategory }).andWhere(visible.sql, visible.params);
  }
  return query;
}

function parseFilter(filter: ExperimentFilter, path: string, errors: FieldError[]): ExperimentFilter | undefined {
  const before = errors.length;
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
  return errors.length === before ? filter : undefined;
}

function toPage(em: EntityManager, rows: ExperimentRow[], first: number, totalCount: number): Page<Experiment> {
  const cursors = new Map<Experiment, ExperimentCursor>();
  const experiments = rows.map((row) => {
    const experiment = em.map(Experiment, row);
    cursors.set(experiment, [row.cursor_created_at, row.id]);
    return experiment;
  });
  return pageFrom(experiments, first, (experiment) => cursors.get(experiment)!, totalCount);
}
