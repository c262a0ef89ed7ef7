import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { ActorLookup } from '../auth/actor';
import { User } from '../user/user.entity';
import { TemplateVersion } from './template-version.entity';
import { ExperimentTemplate } from './template.entity';
import { findVisibleTemplates } from './template-visibility';

export interface VersionKey {
  templateId: string;
  version: number;
}

/** Per-request batch loaders for templates and what hangs off them; each batch is one SQL statement. */
export function createTemplateLoaders(em: EntityManager, actor: ActorLookup) {
  return {
    /** Only templates the caller may see: a hidden one loads as null, like a missing one. */
    visibleTemplateById: new DataLoader<string, ExperimentTemplate | null>(async (ids) => {
      const templates = await findVisibleTemplates(em, await actor(), ids);
      const byId = new Map(templates.map((template) => [template.id, template]));
      return ids.map((id) => byId.get(id) ?? null);
    }),

    // One statement: the share rows joined to their users, in sharing order.
    sharedUsersByTemplateId: new DataLoader<string, User[]>(async (templateIds) => {
      const rows = await em.execute<Array<Record<string, unknown> & { share_template_id: string }>>(
        `select s.template_id as share_template_id, u.*
         from experiment_template_shares s join users u on u.id = s.user_id
         where s.template_id in (${templateIds.map(() => '?').join(', ')})
         order by s.shared_at, s.user_id`,
        [...templateIds],
      );
      const byTemplate = new Map<string, User[]>(templateIds.map((id) => [id, []]));
      for (const { share_template_id: templateId, ...user } of rows) byTemplate.get(templateId)!.push(em.map(User, user));
      return templateIds.map((id) => byTemplate.get(id)!);
    }),

    versionsByTemplateId: new DataLoader<string, TemplateVersion[]>(async (templateIds) => {
      const versions = await em.find(TemplateVersion, { template: { $in: [...templateIds] } }, { orderBy: { version: 'desc' } });
      const byTemplate = new Map<string, TemplateVersion[]>(templateIds.map((id) => [id, []]));
      for (const version of versions) byTemplate.get(version.template.id)!.push(version);
      return templateIds.map((id) => byTemplate.get(id)!);
    }),

    templateVersion: new DataLoader<VersionKey, TemplateVersion | null, string>(
      async (keys) => {
        const versions = await em.find(TemplateVersion, {
          $or: keys.map((key) => ({ template: key.templateId, version: key.version })),
        });
        const byKey = new Map(versions.map((v) => [`${v.template.id}:${v.version}`, v]));
        return keys.map((key) => byKey.get(`${key.templateId}:${key.version}`) ?? null);
      },
      { cacheKeyFn: (key) => `${key.templateId}:${key.version}` },
    ),
  };
}
