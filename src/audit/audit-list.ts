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
import { SqlValues, type Reader } from '../db/sql';
import { canonicalUuid, isUuid } from '../db/uuid';
import type { FieldError } from '../errors/domain-error';
import { userColumns, userOf } from '../user/user-rows';
import { throwIfInvalid } from '../validation/field-errors';
import { AUDIT_ACTIONS, type AuditAction } from './audit-action';
import { auditEventColumns, auditEventOf, type AuditEventRecord, type AuditEventRow } from './audit-rows';

export interface AuditEventFilter {
  subjectId?: string | null;
  actorId?: string | null;
  /** Any of these; an empty list filters nothing. */
  actions?: AuditAction[] | null;
  /** At or after. */
  from?: Date | null;
  /** Before. */
  to?: Date | null;
}

export interface AuditListOptions {
  /** Count the matching rows too (one COUNT alongside the page): leave it off when nobody reads the total. */
  withTotalCount?: boolean;
  /** Read each event's actor in the same statement (`readWith.actor`). */
  withActor?: boolean;
}

/** Newest first; occurred_at travels at full microsecond precision, which a JS Date lacks. Every index serves it. */
export const NEWEST_FIRST: KeysetOrder = {
  tag: 'OCCURRED_AT:DESC',
  key: 'e.occurred_at',
  cursorValue: timestampTextSql('e.occurred_at'),
  fromCursor: (value) => `${value}::timestamptz`,
  isCursorValue: isTimestampText,
  direction: OrderDirection.DESC,
  id: 'e.id',
};

type ListedRow = AuditEventRow & KeysetRow & Record<string, unknown>;

/**
 * Audit events matching `filter`, newest first, in keyset pages: one statement for the page (with the actors when
 * asked for), one COUNT alongside it when asked for. Served by the (subject, time), (actor, time) and (time) indexes.
 */
export async function listAuditEvents(
  reader: Reader,
  filter: AuditEventFilter,
  pageRequest: PageRequest,
  options: AuditListOptions = {},
): Promise<Page<AuditEventRecord>> {
  const errors: FieldError[] = [];
  const parsed = parseFilter(filter, '/filter', errors);
  throwIfInvalid(errors);
  const values = new SqlValues();
  const where = filterConditions(parsed, values);
  // The filter's values come first ($1 to $n): the COUNT runs the same conditions with those alone.
  const filterValues = [...values.values];
  const page = keysetClauses(NEWEST_FIRST, pageRequest, values);
  const actor = actorSql(options.withActor ?? false);
  const [rows, totalCount] = await Promise.all([
    reader.rows<ListedRow>(
      `select ${auditEventColumns()}, ${keysetColumns(NEWEST_FIRST)}${actor.columns}
       from audit_events e ${actor.join}
       where ${page.after ? `${where} and ${page.after}` : where}
       order by ${page.orderBy}
       limit ${page.limit}`,
      values.values,
    ),
    options.withTotalCount
      ? reader
          .rows<{ count: number }>(`select count(*)::integer as count from audit_events e where ${where}`, filterValues)
          .then(([{ count }]) => count)
      : Promise.resolve(0),
  ]);
  return keysetPage(rows, NEWEST_FIRST, page.first, totalCount, (row) => withActorOf(row, options.withActor ?? false));
}

/**
 * One page of events for each of several subjects (`Template.auditTrail` on a page of templates), in one statement:
 * the latest `first + 1` of each through the (subject, time) index. Their totals are 0: `countBySubject` gives them.
 */
export async function pageBySubject(
  reader: Reader,
  subjectIds: string[],
  pageRequest: PageRequest,
  options: Pick<AuditListOptions, 'withActor'> = {},
): Promise<Map<string, Page<AuditEventRecord>>> {
  const wanted = [...new Set(subjectIds.filter(isUuid))];
  const pages = new Map<string, Page<AuditEventRecord>>(subjectIds.map((id) => [id, emptyPage<AuditEventRecord>()]));
  if (wanted.length === 0) return pages;
  const values = new SqlValues();
  const subjects = values.bind(wanted);
  const page = keysetClauses(NEWEST_FIRST, pageRequest, values);
  const actor = actorSql(options.withActor ?? false);
  const rows = await reader.rows<ListedRow>(
    `select ${auditEventColumns()}, ${keysetColumns(NEWEST_FIRST)}${actor.columns}
     from unnest(${subjects}::uuid[]) as wanted(subject_id)
     cross join lateral (
       select * from audit_events e
       where e.subject_id = wanted.subject_id${page.after ? ` and ${page.after}` : ''}
       order by ${page.orderBy}
       limit ${page.limit}
     ) e
     ${actor.join}
     order by e.subject_id, ${page.orderBy}`,
    values.values,
  );
  const bySubject = new Map<string, ListedRow[]>(wanted.map((id) => [id, []]));
  for (const row of rows) bySubject.get(row.subjectId)?.push(row);
  for (const [id, own] of bySubject) {
    pages.set(
      id,
      keysetPage(own, NEWEST_FIRST, page.first, 0, (row) => withActorOf(row, options.withActor ?? false)),
    );
  }
  return pages;
}

/** How many events each subject has, in one statement. */
export async function countBySubject(reader: Reader, subjectIds: string[]): Promise<Map<string, number>> {
  const wanted = [...new Set(subjectIds.filter(isUuid))];
  if (wanted.length === 0) return new Map();
  const rows = await reader.rows<{ subjectId: string; count: number }>(
    `select e.subject_id as "subjectId", count(*)::integer as count
     from audit_events e
     where e.subject_id = any($1::uuid[])
     group by e.subject_id`,
    [wanted],
  );
  return new Map(rows.map((row) => [row.subjectId, row.count]));
}

/** A cursor must decode to values of the keyset's types before it goes anywhere near SQL. */
export function checkAuditCursor(after: string | null | undefined): void {
  checkCursor(NEWEST_FIRST, after);
}

function actorSql(withActor: boolean): { columns: string; join: string } {
  return withActor
    ? { columns: `, ${userColumns('actor', 'actor_')}`, join: 'left join users actor on actor.id = e.actor_id' }
    : { columns: '', join: '' };
}

function withActorOf(row: ListedRow, withActor: boolean): AuditEventRecord {
  const event = auditEventOf(row);
  if (withActor) event.readWith = { actor: userOf(row, 'actor_') };
  return event;
}

function filterConditions(filter: AuditEventFilter, values: SqlValues): string {
  const where: string[] = [];
  if (filter.subjectId) where.push(`e.subject_id = ${values.bind(filter.subjectId)}::uuid`);
  if (filter.actorId) where.push(`e.actor_id = ${values.bind(filter.actorId)}::uuid`);
  if (filter.actions?.length) where.push(`e.action = any(${values.bind([...new Set(filter.actions)])}::text[])`);
  if (filter.from) where.push(`e.occurred_at >= ${values.bind(filter.from)}::timestamptz`);
  if (filter.to) where.push(`e.occurred_at < ${values.bind(filter.to)}::timestamptz`);
  return where.length === 0 ? 'true' : where.map((condition) => `(${condition})`).join(' and ');
}

/** The filter checked, its ids in canonical form (`A0…` and `a0…` name the same subject); every problem in `errors`. */
function parseFilter(filter: AuditEventFilter, path: string, errors: FieldError[]): AuditEventFilter {
  const idOf = (field: 'subjectId' | 'actorId') => {
    const given = filter[field];
    if (given === undefined || given === null) return null;
    const id = canonicalUuid(given);
    if (!id) errors.push({ path: `${path}/${field}`, message: 'must be a UUID' });
    return id ?? null;
  };
  const parsed = { ...filter, subjectId: idOf('subjectId'), actorId: idOf('actorId') };
  filter.actions?.forEach((action, index) => {
    if (!AUDIT_ACTIONS.includes(action)) errors.push({ path: `${path}/actions/${index}`, message: 'is not a known action' });
  });
  for (const field of ['from', 'to'] as const) {
    const time = filter[field];
    if (time !== undefined && time !== null && !(time instanceof Date && !Number.isNaN(time.getTime()))) {
      errors.push({ path: `${path}/${field}`, message: 'must be a date-time' });
    }
  }
  if (filter.from && filter.to && filter.to.getTime() <= filter.from.getTime()) {
    errors.push({ path: `${path}/to`, message: 'must be after `from`' });
  }
  return parsed;
}
