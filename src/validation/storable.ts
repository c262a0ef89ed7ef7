import type { FieldError } from '../errors/domain-error';
import { escapePointerSegment } from './field-errors';

/**
 * What PostgreSQL refuses to store, checked before any value from a client gets near it, so the client gets
 * BAD_USER_INPUT with the field's path instead of a masked INTERNAL_SERVER_ERROR from the database:
 * - the NUL character (U+0000): `text` cannot hold it ("invalid byte sequence for encoding UTF8: 0x00"), and neither
 *   can `jsonb`, as a character or as the escape `\u0000` ("unsupported Unicode escape sequence");
 * - lone UTF-16 surrogates: JSON.stringify writes them as `\ud800` escapes, which `jsonb` rejects, and in `text` the
 *   driver would silently store U+FFFD instead of what was sent;
 * - JSON nested deeper than MAX_JSON_DEPTH: serialising, cloning and comparing JSON recurse, and a deep enough value
 *   (a 1 MiB body holds 200,000 levels) overflows the stack in any of them;
 * - a JSON document over MAX_JSON_BYTES (a configuration or an analysis result is sent to browsers).
 */
export const MAX_JSON_DEPTH = 64;
export const MAX_JSON_BYTES = 256 * 1024;

/** Field errors reported at most per value: a hostile value could otherwise make one per character. */
const MAX_ERRORS_PER_VALUE = 20;

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function textProblem(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (LONE_SURROGATE.test(text)) return 'must be well-formed Unicode (it holds a lone surrogate)';
  return undefined;
}

export function isStorableText(text: string): boolean {
  return textProblem(text) === undefined;
}

/** `text` when PostgreSQL can store it; otherwise an error at `path`. Anything but a string passes untouched. */
export function parseStorableText<T>(text: T, path: string, errors: FieldError[]): T | undefined {
  const problem = typeof text === 'string' ? textProblem(text) : undefined;
  if (problem === undefined) return text;
  errors.push({ path, message: problem });
  return undefined;
}

/**
 * `value` when a `jsonb` column can hold it (no NUL or lone surrogates in keys or strings, bounded nesting, at most
 * MAX_JSON_BYTES); otherwise errors with JSON-pointer paths under `path`. The walk is iterative, so it is itself safe
 * on any depth, and runs before anything recursive (serialising for the size, ajv's `uniqueItems`) touches the value.
 */
export function parseStorableJson<T>(value: T, path: string, errors: FieldError[]): T | undefined {
  const problems = unstorableJson(value, path);
  if (problems.length === 0) {
    const bytes = Buffer.byteLength(JSON.stringify(value ?? null));
    if (bytes <= MAX_JSON_BYTES) return value;
    problems.push({ path, message: `must be at most ${MAX_JSON_BYTES} bytes of JSON (got ${bytes})` });
  }
  errors.push(...problems);
  return undefined;
}

function unstorableJson(value: unknown, path: string): FieldError[] {
  const errors: FieldError[] = [];
  const pending: Array<{ value: unknown; path: string; depth: number }> = [{ value, path, depth: 0 }];
  while (pending.length > 0 && errors.length < MAX_ERRORS_PER_VALUE) {
    const item = pending.pop()!;
    if (typeof item.value === 'string') {
      parseStorableText(item.value, item.path, errors);
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
      const childPath = `${item.path}/${escapePointerSegment(key)}`;
      const keyProblem = textProblem(key);
      if (keyProblem) errors.push({ path: childPath, message: `has a key that ${keyProblem}` });
      else children.push({ value: child, path: childPath, depth: item.depth + 1 });
    }
    // Reversed onto the stack, so children are checked (and reported) in document order.
    for (let index = children.length - 1; index >= 0; index -= 1) pending.push(children[index]);
  }
  return errors.slice(0, MAX_ERRORS_PER_VALUE);
}
