import type { EntityManager } from '@mikro-orm/postgresql';
import { isStaff, type Actor } from '../auth/actor';
import { SqlValues } from '../db/sql';
import { canonicalUuid } from '../db/uuid';
import { ExperimentTemplate } from './template.entity';

/**
 * The one visibility rule, as SQL over a template alias: the owner, users it is shared with, and everyone when
 * public; staff see every template. Every read of templates goes through it, on the read path and inside writes alike.
 */
export function visibleTemplates(alias: string, actor: Actor | null, values: SqlValues): string {
  if (actor && isStaff(actor)) return 'true';
  return ownSharedOrPublicTemplates(alias, actor, values);
}

/**
 * What the rule gives a caller in their own right: their own templates, those shared with them, public ones. The same
 * for staff, whose own view (the `ALL_VISIBLE` listing) is not flooded with everyone's templates.
 */
export function ownSharedOrPublicTemplates(alias: string, actor: Actor | null, values: SqlValues): string {
  if (!actor) return `${alias}.is_public`;
  // Bound twice: a `?` placeholder stands for one use of one value.
  return (
    `(${alias}.is_public or ${alias}.created_by = ${values.bind(actor.userId)}::uuid or exists (` +
    `select 1 from experiment_template_shares visible_share ` +
    `where visible_share.template_id = ${alias}.id and visible_share.user_id = ${values.bind(actor.userId)}::uuid))`
  );
}

/**
 * The templates among `ids` that `actor` may see, as entities of a write's unit of work, in one statement; ids that
 * are not UUIDs match nothing. Reads load them through the request's loader instead.
 */
export async function findVisibleTemplates(em: EntityManager, actor: Actor | null, ids: readonly string[]): Promise<ExperimentTemplate[]> {
  const wanted = ids.map(canonicalUuid).filter((id) => id !== undefined);
  if (wanted.length === 0) return [];
  const values = new SqlValues('question');
  const visible = visibleTemplates('t', actor, values);
  return em
    .createQueryBuilder(ExperimentTemplate, 't')
    .select('*')
    .where({ id: { $in: wanted } })
    .andWhere(visible, values.values)
    .getResultList();
}
