import { isService, isStaff, type Actor } from '../auth/actor';
import type { SqlValues } from '../db/sql';

/**
 * Who sees experiments beyond their own: a service token (analysis, scheduling) and staff see every owner's. Everyone
 * else sees their own only, and another owner's experiment answers exactly as one that does not exist.
 */
export function seesEveryExperiment(actor: Actor): boolean {
  return isService(actor) || isStaff(actor);
}

/** The one visibility rule, as SQL over an experiment alias: every read of experiments goes through it. */
export function visibleExperiments(alias: string, actor: Actor, values: SqlValues): string {
  return seesEveryExperiment(actor) ? 'true' : `${alias}.owner_id = ${values.bind(actor.userId)}::uuid`;
}
