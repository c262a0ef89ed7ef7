import DataLoader from 'dataloader';
import { isService, type ActorLookup } from '../auth/actor';
import { emptyPage, type Page } from '../db/keyset';
import type { SqlReader } from '../db/sql';
import { isUuid } from '../db/uuid';
import { countByTemplate, pageByTemplate } from './experiment-list';
import { EXPERIMENT_COLUMNS, experimentOf, type ExperimentRecord, type ExperimentRow } from './experiment-rows';

export interface TemplateExperimentsKey {
  templateId: string;
  first: number;
  after: string | null;
}

const pageKeyOf = (key: TemplateExperimentsKey) => `${key.first}|${key.after ?? ''}`;

/** Per-request batch loaders for experiments; only ever the caller's own (any, for a service token). */
export function createExperimentLoaders(reader: SqlReader, actor: ActorLookup) {
  return {
    /** An experiment the caller may see, else null: another owner's experiment looks like a missing one. */
    visibleExperimentById: new DataLoader<string, ExperimentRecord | null>(async (ids) => {
      const caller = await actor();
      const wanted = ids.filter(isUuid);
      if (!caller || wanted.length === 0) return ids.map(() => null);
      const rows = isService(caller)
        ? await reader.rows<ExperimentRow>(`select ${EXPERIMENT_COLUMNS} from ml_experiments e where e.id = any($1::uuid[])`, [wanted])
        : await reader.rows<ExperimentRow>(
            `select ${EXPERIMENT_COLUMNS} from ml_experiments e where e.id = any($1::uuid[]) and e.owner_id = $2::uuid`,
            [wanted, caller.userId],
          );
      const byId = new Map(rows.map((row) => [row.id, experimentOf(row)]));
      return ids.map((id) => byId.get(id) ?? null);
    }),

    /** A page of the caller's experiments per template: one statement per distinct (first, after), one for all counts. */
    experimentsByTemplate: new DataLoader<TemplateExperimentsKey, Page<ExperimentRecord>, string>(
      async (keys) => {
        const caller = await actor();
        if (!caller) return keys.map(() => emptyPage<ExperimentRecord>());
        const counts = await countByTemplate(reader, caller, [...new Set(keys.map((key) => key.templateId))]);
        const groups = new Map<string, TemplateExperimentsKey[]>();
        for (const key of keys) groups.set(pageKeyOf(key), [...(groups.get(pageKeyOf(key)) ?? []), key]);
        const pages = new Map(
          await Promise.all(
            [...groups].map(async ([pageKey, group]) => {
              const byTemplate = await pageByTemplate(
                reader,
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
