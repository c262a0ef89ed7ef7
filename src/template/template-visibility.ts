import type { Actor } from '../auth/actor';

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
