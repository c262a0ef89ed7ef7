import { ReferenceKind, SCALAR_TYPES, type EntityData, type EntityMetadata } from '@mikro-orm/core';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from '../auth/actor';
import {
  checkPageSize,
  decodeCursor,
  isTimestampText,
  OrderDirection,
  pageFrom,
  timestampTextSql,
  type Page,
  type PageRequest,
} from '../db/keyset';
import { isUuid } from '../db/uuid';
import { UnauthenticatedError, ValidationError, type FieldError } from '../errors/domain-error';
import { throwIfInvalid } from '../validation/field-errors';
import { isStorableText, parseStorableText } from '../validation/storable';
import type { TemplateCategory } from './template-category';
import { normalizeTag, TAGS_MAX_COUNT } from './template-content';
import { ExperimentTemplate } from './template.entity';
import { visibleTemplates } from './template-visibility';

export enum TemplateScope {
  MINE = 'MINE',
  SHARED_WITH_ME = 'SHARED_WITH_ME',
  PUBLIC = 'PUBLIC',
  ALL_VISIBLE = 'ALL_VISIBLE',
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
}

export interface TemplateListFilter {
  categories?: TemplateCategory[] | null;
  tags?: { allOf?: string[] | null; anyOf?: string[] | null } | null;
  search?: string | null;
  scope?: TemplateScope | null;
  activeState?: TemplateActiveState | null;
}

export interface TemplateListQuery {
  filter?: TemplateListFilter | null;
  orderBy?: { field?: TemplateOrderField | null; direction?: OrderDirection | null } | null;
}

export interface TemplateListOptions {
  /** Count the matching rows too (one COUNT, run alongside the page): leave it off when nobody reads the total. */
  withTotalCount?: boolean;
  /**
   * Read each row's configuration (a few KB of jsonb) too; on by default. Leave it off when nobody reads it: the
   * templates then come without `configuration`.
   */
  withConfiguration?: boolean;
}

export const SEARCH_MAX_LENGTH = 200;

const MAX_INTEGER = 2_147_483_647;

interface OrderSpec {
  /** The sort key over alias `t`. */
  key: string;
  /** What the cursor stores for a row: the key's exact value, JSON-safe. */
  cursorValue: string;
  /** The cursor's stored value turned back into something comparable with `key`. */
  fromCursor: string;
  defaultDirection: OrderDirection;
  isCursorValue(value: unknown): boolean;
}

const ORDERS: Record<TemplateOrderField, OrderSpec> = {
  [TemplateOrderField.UPDATED_AT]: {
    key: 't.updated_at',
    cursorValue: timestampTextSql('t.updated_at'),
    fromCursor: '?::timestamptz',
    defaultDirection: OrderDirection.DESC,
    isCursorValue: isTimestampText,
  },
  [TemplateOrderField.CREATED_AT]: {
    key: 't.created_at',
    cursorValue: timestampTextSql('t.created_at'),
    fromCursor: '?::timestamptz',
    defaultDirection: OrderDirection.DESC,
    isCursorValue: isTimestampText,
  },
  [TemplateOrderField.NAME]: {
    key: 't.name',
    cursorValue: 't.name',
    fromCursor: '?',
    defaultDirection: OrderDirection.ASC,
    // Text PostgreSQL cannot take (a NUL) would fail the query: such a cursor is as malformed as any other.
    isCursorValue: (value) => typeof value === 'string' && value.length <= 255 && isStorableText(value),
  },
  [TemplateOrderField.USAGE_COUNT]: {
    key: 't.usage_count',
    cursorValue: 't.usage_count',
    fromCursor: '?::integer',
    defaultDirection: OrderDirection.DESC,
    isCursorValue: (value) => Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= MAX_INTEGER,
  },
  // Never used sorts as the earliest possible time: last when descending, first when ascending. A sentinel rather
  // than NULLS LAST, so that the row comparison of the keyset condition stays a plain `<` / `>`.
  [TemplateOrderField.LAST_USED]: {
    key: `coalesce(t.last_used, '-infinity'::timestamptz)`,
    cursorValue: timestampTextSql('t.last_used'),
    fromCursor: `coalesce(?::timestamptz, '-infinity'::timestamptz)`,
    defaultDirection: OrderDirection.DESC,
    isCursorValue: (value) => value === null || isTimestampText(value),
  },
};

/** SQL conditions joined by `and`, with their parameters in order. */
class Conditions {
  private readonly parts: string[] = [];
  readonly params: unknown[] = [];

  add(sql: string, params: unknown[] = []): void {
    this.parts.push(sql);
    this.params.push(...params);
  }

  get sql(): string {
    return this.parts.length > 0 ? this.parts.map((part) => `(${part})`).join(' and ') : 'true';
  }
}

/**
 * Lists the templates `actor` may see, keyset-paginated: a page continues strictly after its cursor (the sort key and
 * the id as a tie-break), so no OFFSET, and rows added between two fetches neither repeat nor shift the rest.
 */
export async function listTemplates(
  em: EntityManager,
  actor: Actor | null,
  query: TemplateListQuery,
  pageRequest: PageRequest,
  options: TemplateListOptions = {},
): Promise<Page<ExperimentTemplate>> {
  const first = checkPageSize(pageRequest.first);
  const field = query.orderBy?.field ?? TemplateOrderField.UPDATED_AT;
  if (!Object.hasOwn(ORDERS, field)) throw ValidationError.at('/orderBy/field', 'is not a known ordering');
  const order = ORDERS[field];
  // Both are interpolated into the SQL below: only ever one of the known values.
  const requested = query.orderBy?.direction ?? order.defaultDirection;
  const direction = requested === OrderDirection.ASC ? OrderDirection.ASC : OrderDirection.DESC;
  const orderTag = `${field}:${direction}`;
  const filtered = filterConditions(actor, query.filter ?? {});

  const page = new Conditions();
  page.add(filtered.sql, filtered.params);
  if (pageRequest.after !== undefined && pageRequest.after !== null) {
    const [tag, value, id] = decodeCursor(pageRequest.after, 3);
    if (tag !== orderTag || !isUuid(id) || !order.isCursorValue(value)) {
      throw ValidationError.at('/after', 'is not a cursor of this list (it may belong to another ordering)');
    }
    page.add(`(${order.key}, t.id) ${direction === OrderDirection.DESC ? '<' : '>'} (${order.fromCursor}, ?::uuid)`, [value, id]);
  }

  const [rows, totalCount] = await Promise.all([
    em.execute<Array<Record<string, unknown>>>(
      `select ${options.withConfiguration === false ? listColumns(em) : 't.*'}, ${order.cursorValue} as cursor_value
       from experiment_templates t
       where ${page.sql}
       order by ${order.key} ${direction}, t.id ${direction}
       limit ?`,
      [...page.params, first + 1],
    ),
    options.withTotalCount
      ? em
          .execute<Array<{ count: number }>>(
            `select count(*)::integer as count from experiment_templates t where ${filtered.sql}`,
            filtered.params,
          )
          .then(([{ count }]) => count)
      : // Not selected by the client, so never sent.
        Promise.resolve(0),
  ]);
  const cursorValues = new Map<ExperimentTemplate, unknown>();
  const templates = rows.map(({ cursor_value: cursorValue, ...columns }) => {
    const template = mapListRow(em, columns);
    cursorValues.set(template, cursorValue);
    return template;
  });
  return pageFrom(templates, first, (template) => [orderTag, cursorValues.get(template), template.id], totalCount);
}

let listColumnsSql: string | undefined;

/** Every column of experiment_templates the entity maps, over alias `t`, but the configuration. */
function listColumns(em: EntityManager): string {
  listColumnsSql ??= em
    .getMetadata()
    .get<ExperimentTemplate>(ExperimentTemplate.name)
    .props.filter((prop) => (prop.kind === ReferenceKind.SCALAR || prop.kind === ReferenceKind.MANY_TO_ONE) && prop.persist !== false)
    .filter((prop) => prop.name !== 'configuration')
    .flatMap((prop) => prop.fieldNames.map((column) => `t.${column}`))
    .join(', ');
  return listColumnsSql;
}

/**
 * A page row as an entity, as `em.map` would build it, but without registering it with the unit of work: a listing
 * never changes its rows, so neither the identity map entry nor the change-tracking snapshot (a deep copy of the
 * jsonb columns) is worth its CPU. A template this request already manages is refreshed through `em.map` as before,
 * so that one id never stands for two objects. A later `findOne` of a listed template loads it anew, managed.
 */
function mapListRow(em: EntityManager, columns: Record<string, unknown>): ExperimentTemplate {
  const meta = em.getMetadata().get<ExperimentTemplate>(ExperimentTemplate.name);
  const data = em.getDriver().mapResult(columns, meta) as EntityData<ExperimentTemplate>;
  if (em.getUnitOfWork().getById(meta.className, data.id)) return em.map(ExperimentTemplate, columns);
  validateScalars(em, meta, data);
  return em.getEntityFactory().create(ExperimentTemplate, data, { merge: false, refresh: true, convertCustomTypes: true });
}

/** The scalar checks `em.map` applies before hydrating. */
function validateScalars(em: EntityManager, meta: EntityMetadata<ExperimentTemplate>, data: EntityData<ExperimentTemplate>): void {
  const validator = em.getValidator();
  const record = data as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const prop = (meta.properties as Record<string, (typeof meta.props)[number] | undefined>)[key];
    if (
      prop?.kind === ReferenceKind.SCALAR &&
      SCALAR_TYPES.includes(prop.runtimeType) &&
      !prop.customType &&
      (prop.setter || !prop.getter)
    ) {
      record[key] = validator.validateProperty(prop, record[key], record);
    }
  }
}

/** The filter, always intersected with visibility; inactive templates only ever reach their owner. */
function filterConditions(actor: Actor | null, filter: TemplateListFilter): Conditions {
  const where = new Conditions();
  const visible = visibleTemplates('t', actor);
  where.add(visible.sql, visible.params);

  switch (filter.scope ?? TemplateScope.ALL_VISIBLE) {
    case TemplateScope.MINE:
      where.add('t.created_by = ?', [callerOf(actor).userId]);
      break;
    case TemplateScope.SHARED_WITH_ME:
      where.add(
        'exists (select 1 from experiment_template_shares scope_share where scope_share.template_id = t.id and scope_share.user_id = ?)',
        [callerOf(actor).userId],
      );
      break;
    case TemplateScope.PUBLIC:
      where.add('t.is_public');
      break;
    case TemplateScope.ALL_VISIBLE:
      break;
  }

  switch (filter.activeState ?? TemplateActiveState.ACTIVE) {
    case TemplateActiveState.ACTIVE:
      where.add('t.is_active');
      break;
    case TemplateActiveState.INACTIVE:
      if (actor) where.add('not t.is_active and t.created_by = ?', [actor.userId]);
      else where.add('false');
      break;
    case TemplateActiveState.ALL:
      if (actor) where.add('t.is_active or t.created_by = ?', [actor.userId]);
      else where.add('t.is_active');
      break;
  }

  // An empty list filters nothing, like a list left out: "no category ticked" means "any category".
  if (filter.categories?.length) where.add('t.category in (?)', [filter.categories]);

  const errors: FieldError[] = [];
  const allOf = parseTagFilter(filter.tags?.allOf, '/filter/tags/allOf', errors);
  const anyOf = parseTagFilter(filter.tags?.anyOf, '/filter/tags/anyOf', errors);
  const search = parseSearch(filter.search, '/filter/search', errors);
  throwIfInvalid(errors);

  if (allOf.length > 0) where.add('t.tags @> ?::jsonb', [JSON.stringify(allOf)]);
  // One containment test per tag, OR-ed: each is served by the GIN index on tags, and no `?|` operator has to
  // survive the driver's `?` placeholders.
  if (anyOf.length > 0)
    where.add(
      anyOf.map(() => 't.tags @> ?::jsonb').join(' or '),
      anyOf.map((tag) => JSON.stringify([tag])),
    );

  if (search) {
    // The same expression as the trigram index experiment_templates_search_index, so the index can serve it.
    where.add(`(t.name || ' ' || coalesce(t.description, '')) ilike ?`, [`%${escapeLike(search)}%`]);
  }
  return where;
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

function parseSearch(text: string | null | undefined, path: string, errors: FieldError[]): string | undefined {
  const search = text?.trim() ?? '';
  if (search.length > SEARCH_MAX_LENGTH) errors.push({ path, message: `must be at most ${SEARCH_MAX_LENGTH} characters` });
  else if (search.length > 0) return parseStorableText(search, path, errors);
  return undefined;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}
