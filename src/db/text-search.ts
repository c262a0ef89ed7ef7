import type { FieldError } from '../errors/domain-error';
import { parseStorableText } from '../validation/storable';
import type { SqlValues } from './sql';

/** The longest text a list's `search` filter takes. */
export const SEARCH_MAX_LENGTH = 200;

/** A search text as lists take it: trimmed; empty means no search; too long or unstorable is a problem at `path`. */
export function parseSearch(text: string | null | undefined, path: string, errors: FieldError[]): string | undefined {
  const search = text?.trim() ?? '';
  if (search.length > SEARCH_MAX_LENGTH) errors.push({ path, message: `must be at most ${SEARCH_MAX_LENGTH} characters` });
  else if (search.length > 0) return parseStorableText(search, path, errors);
  return undefined;
}

/** `expression` holds `search` anywhere, case-insensitively; `%` and `_` in the search are plain characters. */
export function containsText(expression: string, search: string, values: SqlValues): string {
  return `${expression} ilike ${values.bind(`%${escapeLike(search)}%`)}`;
}

function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (character) => `\\${character}`);
}
