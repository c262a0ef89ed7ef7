import { canonicalUuid } from '../db/uuid';
import type { FieldError } from './field-errors';

/** The most ids one call takes: users to share with, teams, members. */
export const MAX_IDS_PER_CALL = 100;

/**
 * A list of ids from a client, in canonical form and in the order given: 1 to MAX_IDS_PER_CALL of them (or none, with
 * `allowEmpty`), each a UUID. `noun` names them in messages ("must list at least one team").
 */
export function parseIds(
  ids: string[],
  path: string,
  noun: 'user' | 'team',
  errors: FieldError[],
  { allowEmpty = false } = {},
): string[] | undefined {
  if (ids.length === 0 && !allowEmpty) errors.push({ path, message: `must list at least one ${noun}` });
  else if (ids.length > MAX_IDS_PER_CALL) errors.push({ path, message: `must list at most ${MAX_IDS_PER_CALL} ${noun}s` });
  else {
    const canonical = ids.map(canonicalUuid);
    if (canonical.every((id) => id !== undefined)) return canonical;
    canonical.forEach((id, index) => {
      if (id === undefined) errors.push({ path: `${path}/${index}`, message: `must be a ${noun} id (UUID)` });
    });
  }
  return undefined;
}
