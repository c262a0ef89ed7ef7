import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from '../auth/actor';
import type { Connection } from '../graphql/pagination';
import { countByTemplate, emptyConnection, pageByTemplate } from './experiment-list';
import type { Experiment } from './experiment.entity';

export interface TemplateExperimentsKey {
  templateId: string;
  first: number;
  after: string | null;
}

const pageKeyOf = (key: TemplateExperimentsKey) => `${key.first}|${key.after ?? ''}`;

/** Per-request batch loaders for experiments; only ever the caller's own. */
export function createExperimentLoaders(em: EntityManager, actor: Actor | null) {
  return {
    /** A page of the caller's experiments per template: one statement per distinct (first, after), one for all counts. */
    experimentsByTemplate: new DataLoader<TemplateExperimentsKey, Connection<Experiment>, string>(
      async (keys) => {
        if (!actor) return keys.map(() => emptyConnection<Experiment>());
        const counts = await countByTemplate(em, actor, [...new Set(keys.map((key) => key.templateId))]);
        const groups = new Map<string, TemplateExperimentsKey[]>();
        for (const key of keys) groups.set(pageKeyOf(key), [...(groups.get(pageKeyOf(key)) ?? []), key]);
        const pages = new Map(
          await Promise.all(
            [...groups].map(async ([pageKey, group]) => {
              const byTemplate = await pageByTemplate(
                em,
                actor,
                group.map((key) => key.templateId),
                group[0],
                counts,
              );
              return [pageKey, byTemplate] as const;
            }),
          ),
        );
        return keys.map((key) => pages.get(pageKeyOf(key))!.get(key.templateId)!);
      },
      { cacheKeyFn: (key) => `${key.templateId}|${pageKeyOf(key)}` },
    ),
  };
}
