import { ValidationError } from '../errors/domain-error';
import { isStorableText } from '../validation/storable';
import type { SqlValues } from './sql';
import { isUuid } from './uuid';

/**
 * Keyset pagination, the one paginator of every list: a page continues strictly after its cursor (the sort key values
 * of the last row seen, opaque to clients), so there is no OFFSET, and rows added between two fetches neither repeat
 * nor shift what follows.
 */

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export enum OrderDirection {
  ASC = 'ASC',
  DESC = 'DESC',
}

/** What a client asks of a list: a page size and where the previous page ended. */
export interface PageRequest {
  first: number;
  after?: string | null;
}

/** One page of a list, each row with the cursor that continues after it. */
export interface Page<T> {
  rows: Array<{ node: T; cursor: string }>;
  hasNextPage: boolean;
  /** Rows matching the filter across all pages; 0 when the caller did not ask for it. */
  totalCount: number;
}

export function checkPageSize(first: number, limit = MAX_PAGE_SIZE): number {
  if (!Number.isInteger(first) || first < 1 || first > limit) {
    throw ValidationError.at('/first', `must be an integer from 1 to ${limit}`);
  }
  return first;
}

export function encodeCursor(values: unknown[]): string {
  return Buffer.from(JSON.stringify(values)).toString('base64url');
}

export function decodeCursor(cursor: string, expectedLength: number, path = '/after'): unknown[] {
  try {
    const values: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(values) && values.length === expectedLength) return values;
  } catch {
    // fall through: any malformed cursor gets the same answer
  }
  throw notACursor(path);
}

/** One ordering of a list, as SQL over the list's alias. */
export interface KeysetOrder {
  /** Names the ordering in its cursors, so that a cursor of another ordering is refused rather than misread. */
  tag: string;
  /** The sort key. */
  key: string;
  /** The sort key of a row as its cursor carries it: exact and JSON-safe. */
  cursorValue: string;
  /** The cursor's value (at `placeholder`) turned back into something comparable with `key`. */
  fromCursor(placeholder: string): string;
  isCursorValue(value: unknown): boolean;
  direction: OrderDirection;
  /** The unique tie-break: rows with equal keys keep one order across pages. */
  id: string;
}

/** A sort key a list offers, whichever direction a client asks for. */
export type KeysetField = Pick<KeysetOrder, 'key' | 'cursorValue' | 'fromCursor' | 'isCursorValue'> & { defaultDirection: OrderDirection };

/** What a client asks of a list's order: one of its fields, and a direction (each field has its default). */
export interface OrderRequest<Field extends string> {
  field?: Field | null;
  direction?: OrderDirection | null;
}

/** A timestamp column, carried in cursors at PostgreSQL's microsecond precision. */
export function timestampField(column: string, defaultDirection = OrderDirection.DESC): KeysetField {
  return {
    key: column,
    cursorValue: timestampTextSql(column),
    fromCursor: (value) => `${value}::timestamptz`,
    isCursorValue: isTimestampText,
    defaultDirection,
  };
}

/** A text column of at most `maxLength` characters. */
export function textField(column: string, maxLength: number, defaultDirection = OrderDirection.ASC): KeysetField {
  return {
    key: column,
    cursorValue: column,
    fromCursor: (value) => `${value}::text`,
    // Text PostgreSQL cannot take (a NUL) would fail the query: such a cursor is as malformed as any other.
    isCursorValue: (value) => typeof value === 'string' && value.length <= maxLength && isStorableText(value),
    defaultDirection,
  };
}

/**
 * The ordering `request` picks among a list's `fields` (`defaultField` when it names none), tie-broken by `id`. Its
 * cursors carry `FIELD:DIRECTION`, so a cursor of another ordering is refused rather than misread.
 */
export function keysetOrder<Field extends string>(
  fields: Record<Field, KeysetField>,
  request: OrderRequest<Field> | null | undefined,
  defaultField: Field,
  id: string,
): KeysetOrder {
  const field = request?.field ?? defaultField;
  if (!Object.hasOwn(fields, field)) throw ValidationError.at('/orderBy/field', 'is not a known ordering');
  const order = fields[field];
  // Both end up in the SQL text: only ever one of the known values.
  const direction = (request?.direction ?? order.defaultDirection) === OrderDirection.ASC ? OrderDirection.ASC : OrderDirection.DESC;
  return { ...order, tag: `${field}:${direction}`, direction, id };
}

/** The SQL of one keyset page: what continues after the cursor, the ORDER BY, and the LIMIT. */
export interface KeysetClauses {
  first: number;
  /** A condition to AND into the WHERE clause, or null on the first page. */
  after: string | null;
  orderBy: string;
  limit: string;
}

/** The key columns a page query selects, under these names, for `keysetPage` to build cursors from. */
export interface KeysetRow {
  cursor_value: unknown;
  cursor_id: string;
}

export function keysetColumns(order: KeysetOrder): string {
  return `${order.cursorValue} as cursor_value, ${order.id} as cursor_id`;
}

/** The page clauses for `request` under `order`; a cursor that is not one of this ordering is BAD_USER_INPUT. */
export function keysetClauses(order: KeysetOrder, request: PageRequest, values: SqlValues, path = '/after'): KeysetClauses {
  const first = checkPageSize(request.first);
  let after: string | null = null;
  if (request.after !== undefined && request.after !== null) {
    const [tag, value, id] = decodeCursor(request.after, 3, path);
    if (tag !== order.tag || !isUuid(id) || !order.isCursorValue(value)) throw notACursor(path);
    const comparison = order.direction === OrderDirection.DESC ? '<' : '>';
    after = `(${order.key}, ${order.id}) ${comparison} (${order.fromCursor(values.bind(value))}, ${values.bind(id)}::uuid)`;
  }
  return {
    first,
    after,
    orderBy: `${order.key} ${order.direction}, ${order.id} ${order.direction}`,
    limit: literalLimit(first + 1),
  };
}

/**
 * A LIMIT written into the statement's text, not bound: PostgreSQL plans a bound LIMIT as if it kept a tenth of the
 * rows, so the plan it would reuse for every call looks hundreds of times dearer than the one it plans for the values
 * at hand, and it plans every call afresh (planning was two thirds of a page's time in PostgreSQL). With the number in
 * the text a page size is a statement of its own, whose plan is reused. Only a checked page size gets here.
 */
export function literalLimit(rows: number): string {
  if (!Number.isInteger(rows) || rows < 1 || rows > MAX_PAGE_SIZE + 1) throw new Error(`not a page size: ${rows}`);
  return String(rows);
}

/** Checks a cursor of `order` without running anything: one bad argument fails its own field, not a whole batch. */
export function checkCursor(order: KeysetOrder, after: string | null | undefined, path = '/after'): void {
  if (after === undefined || after === null) return;
  const [tag, value, id] = decodeCursor(after, 3, path);
  if (tag !== order.tag || !isUuid(id) || !order.isCursorValue(value)) throw notACursor(path);
}

/** The page from up to `first + 1` rows fetched in order: the extra row only tells there is a next page. */
export function keysetPage<Row extends KeysetRow, T>(
  rows: Row[],
  order: KeysetOrder,
  first: number,
  totalCount: number,
  nodeOf: (row: Row) => T,
): Page<T> {
  return {
    rows: rows.slice(0, first).map((row) => ({ node: nodeOf(row), cursor: encodeCursor([order.tag, row.cursor_value, row.cursor_id]) })),
    hasNextPage: rows.length > first,
    totalCount,
  };
}

function notACursor(path: string): ValidationError {
  return ValidationError.at(path, 'is not a cursor of this list (it may belong to another ordering)');
}

export function emptyPage<T>(): Page<T> {
  return { rows: [], hasNextPage: false, totalCount: 0 };
}

const TIMESTAMP_TEXT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * SQL writing a timestamp column the way cursors carry it: UTC with PostgreSQL's microseconds
 * (`2024-05-01T12:00:00.123456Z`), a precision a JS Date lacks.
 */
export function timestampTextSql(column: string): string {
  return `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

/**
 * A cursor timestamp PostgreSQL will take as a timestamptz: a real calendar time (no month 15, no February 30) in
 * years 1 to 9999 (PostgreSQL has no year 0). Anything else would fail the query ("date/time field value out of range").
 */
export function isTimestampText(value: unknown): value is string {
  if (typeof value !== 'string' || !TIMESTAMP_TEXT.test(value) || value.startsWith('0000')) return false;
  const millis = `${value.slice(0, 23)}Z`;
  const date = new Date(millis);
  return !Number.isNaN(date.getTime()) && date.toISOString() === millis;
}
