import DataLoader from 'dataloader';
import type { EntityManager } from '@mikro-orm/postgresql';
import { isService, type ActorLookup } from '../auth/actor';
import { emptyPage, type Page } from '../db/keyset';
import { isUuid } from '../db/uuid';
import { countByTemplate, pageByTemplate } from './experiment-list';
import { Experiment } from './experiment.entity';

export interface TemplateExperimentsKey {
  templateId: string;
  first: number;
  after: string | null;
}

const pageKeyOf = (key: TemplateExperimentsKey) => `${key.first}|${key.after ?? ''}`;

/** Per-request batch loaders for experiments; only ever the caller's own (any, for a service token). */
export function createExperimentLoaders(em: EntityManager, actor: ActorLookup) {
  return {
    /** An experiment the caller may see, else null: another owner's experiment looks like a missing one. */
    visibleExperimentById: new DataLoader<string, Experiment | null>(async (ids) => {
      const caller = await actor();
      const wanted = ids.filter(isUuid);
      if (!caller || wanted.length === 0) return ids.map(() => null);
      const experiments = await em.find(
        Experiment,
        isService(caller) ? { id: { $in: wanted } } : { id: { $in: wanted }, owner: caller.userId },
      );
      const byId = new Map(experiments.map((experiment) => [experiment.id, experiment]));
      return ids.map((id) => byId.get(id) ?? null);
    }),

    /** A page of the caller's experiments per template: one statement per distinct (first, after), one for all counts. */
    experimentsByTemplate: new DataLoader<TemplateExperimentsKey, Page<Experiment>, string>(
      async (keys) => {
        const caller = await actor();
        if (!caller) return keys.map(() => emptyPage<Experiment>());
        const counts = await countByTemplate(em, caller, [...new Set(keys.map((key) => key.templateId))]);
        const groups = new Map<string, TemplateExperimentsKey[]>();
        for (const key of keys) groups.set(pageKeyOf(key), [...(groups.get(pageKeyOf(key)) ?? []), key]);
        const pages = new Map(
          await Promise.all(
            [...groups].map(async ([pageKey, group]) => {
              const byTemplate = await pageByTemplate(
                em,
                caller,
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
