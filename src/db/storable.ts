import type { FieldError } from '../errors/domain-error';

/**
 * What PostgreSQL refuses to store, checked before any value from a client gets near it, so the client gets
 * BAD_USER_INPUT with the field's path instead of a masked INTERNAL_SERVER_ERROR from the database:
 * - the NUL character (U+0000): `text` cannot hold it ("invalid byte sequence for encoding UTF8: 0x00"), and neither
 *   can `jsonb`, as a character or as the escape `\u0000` ("unsupported Unicode escape sequence");
 * - lone UTF-16 surrogates: JSON.stringify writes them as `\ud800` escapes, which `jsonb` rejects, and in `text` the
 *   driver would silently store U+FFFD instead of what was sent;
 * - JSON nested deeper than MAX_JSON_DEPTH: serialising, cloning and comparing JSON recurse, and a deep enough value
 *   (a 1 MiB body holds 200,000 levels) overflows the stack in any of them.
 */
export const MAX_JSON_DEPTH = 64;

/** Field errors reported at most per value: a hostile value could otherwise make one per character. */
const MAX_ERRORS_PER_VALUE = 20;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Why PostgreSQL could not store this text, or undefined when it can. */
export function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (LONE_SURROGATE.test(text)) return 'must be well-formed Unicode (it holds a lone surrogate)';
  return undefined;
}

/** Pushes an error at `path` when `text` is a string PostgreSQL could not store; true when it can. */
export function checkText(text: unknown, path: string, errors: FieldError[]): boolean {
  const problem = typeof text === 'string' ? textProblem(text) : undefined;
  if (problem) errors.push({ path, message: problem });
  return problem === undefined;
}

/**
 * The problems that keep a JSON value out of a `jsonb` column (NUL or lone surrogates in keys or strings, too deep
 * a nesting), with JSON-pointer paths under `path`. Iterative, so it is itself safe on any depth.
 */
export function jsonProblems(value: unknown, path = ''): FieldError[] {
  const errors: FieldError[] = [];
  const pending: Array<{ value: unknown; path: string; depth: number }> = [{ value, path, depth: 0 }];
  while (pending.length > 0 && errors.length < MAX_ERRORS_PER_VALUE) {
    const item = pending.pop()!;
    if (typeof item.value === 'string') {
      checkText(item.value, item.path, errors);
      continue;
    }
    if (typeof item.value !== 'object' || item.value === null) continue;
    if (item.depth >= MAX_JSON_DEPTH) {
      errors.push({ path: item.path, message: `must not nest objects and arrays more than ${MAX_JSON_DEPTH} levels deep` });
      continue;
    }
    const entries = Array.isArray(item.value) ? item.value.map((v, i) => [String(i), v] as const) : Object.entries(item.value);
    const children: typeof pending = [];
    for (const [key, child] of entries) {
      const childPath = `${item.path}/${escapePointer(key)}`;
      const keyProblem = textProblem(key);
      if (keyProblem) errors.push({ path: childPath, message: `has a key that ${keyProblem}` });
      else children.push({ value: child, path: childPath, depth: item.depth + 1 });
    }
    // Reversed onto the stack, so children are checked (and reported) in document order.
    for (let index = children.length - 1; index >= 0; index -= 1) pending.push(children[index]);
  }
  return errors.slice(0, MAX_ERRORS_PER_VALUE);
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

const TIMESTAMP_TEXT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/**
 * A timestamp as keyset cursors carry it (UTC with microseconds, `2024-05-01T12:00:00.123456Z`) that PostgreSQL will
 * take as a timestamptz: a real calendar time (no month 15, no February 30) in years 1 to 9999 (PostgreSQL has no
 * year 0). Anything else in a cursor would fail the query ("date/time field value out of range").
 */
/** SQL writing a timestamp column in the text form `isTimestampText` accepts: UTC with PostgreSQL's microseconds. */
export function timestampTextSql(column: string): string {
  return `to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

export function isTimestampText(value: unknown): value is string {
  if (typeof value !== 'string' || !TIMESTAMP_TEXT.test(value) || value.startsWith('0000')) return false;
  const millis = `${value.slice(0, 23)}Z`;
  const date = new Date(millis);
  return !Number.isNaN(date.getTime()) && date.toISOString() === millis;
}
