import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from '../auth/actor';
import { isUuid } from '../db/uuid';
import { ExperimentTemplate } from './template.entity';

export interface SqlFragment {
  sql: string;
  params: unknown[];
}

/**
 * The one visibility rule, as SQL over a template alias: the owner, users it is shared with, and everyone when
 * public. Every read of templates goes through it.
 */
export function visibleTemplates(alias: string, actor: Actor | null): SqlFragment {
  if (!actor) return { sql: `${alias}.is_public`, params: [] };
  return {
    sql:
      `(${alias}.is_public or ${alias}.created_by = ? or exists (` +
      `select 1 from experiment_template_shares visible_share ` +
      `where visible_share.template_id = ${alias}.id and visible_share.user_id = ?))`,
    params: [actor.userId, actor.userId],
  };
}

/** The templates among `ids` that `actor` may see, in one statement; ids that are not UUIDs match nothing. */
export async function findVisibleTemplates(em: EntityManager, actor: Actor | null, ids: readonly string[]): Promise<ExperimentTemplate[]> {
  const wanted = ids.filter(isUuid);
  if (wanted.length === 0) return [];
  const visible = visibleTemplates('t', actor);
  return em
    .createQueryBuilder(ExperimentTemplate, 't')
    .select('*')
    .where({ id: { $in: wanted } })
    .andWhere(visible.sql, visible.params)
    .getResultList();
}
