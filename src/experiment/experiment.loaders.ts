import DataLoader from 'dataloader';
import type { ActorLookup } from '../auth/actor';
import { emptyPage, type Page } from '../db/keyset';
import { isOneOf, SqlValues, type Reader } from '../db/sql';
import { canonicalUuid } from '../db/uuid';
import { countByTemplate, pageByTemplate } from './experiment-list';
import { experimentColumns, experimentOf, type ExperimentDocument, type ExperimentRecord, type ExperimentRow } from './experiment-rows';
import { visibleExperiments } from './experiment-visibility';

/** An experiment by id, with the documents the request selects of it. */
export interface ExperimentKey {
  id: string;
  documents: readonly ExperimentDocument[];
}

export interface TemplateExperimentsKey {
  templateId: string;
  first: number;
  after: string | null;
  documents: readonly ExperimentDocument[];
}

const pageKeyOf = (key: TemplateExperimentsKey) => `${key.first}|${key.after ?? ''}`;

/** Every document any key of a batch asks for: one statement serves them all. */
const documentsOf = (keys: ReadonlyArray<{ documents: readonly ExperimentDocument[] }>): ExperimentDocument[] => [
  ...new Set(keys.flatMap((key) => key.documents)),
];

/** Per-request batch loaders for experiments; only ever the caller's own (any, for a service token or staff). */
export function createExperimentLoaders(reader: Reader, actor: ActorLookup) {
  return {
    /** An experiment the caller may see, else null: another owner's experiment looks like a missing one. */
    visibleExperimentById: new DataLoader<ExperimentKey, ExperimentRecord | null, string>(
      async (keys) => {
        const caller = await actor();
        const ids = keys.map((key) => canonicalUuid(key.id));
        const wanted = [...new Set(ids.filter((id) => id !== undefined))];
        if (!caller || wanted.length === 0) return keys.map(() => null);
        const values = new SqlValues();
        const rows = await reader.rows<ExperimentRow>(
          `select ${experimentColumns(documentsOf(keys))} from ml_experiments e
           where ${isOneOf('e.id', wanted, values)} and ${visibleExperiments('e', caller, values)}`,
          values.values,
        );
        const byId = new Map(rows.map((row) => [row.id, experimentOf(row)]));
        return ids.map((id) => (id === undefined ? null : (byId.get(id) ?? null)));
      },
      { cacheKeyFn: (key) => `${key.id}|${key.documents.join(',')}` },
    ),

    /** A page of the caller's experiments per template: one statement per distinct (first, after), one for all counts. */
    experimentsByTemplate: new DataLoader<TemplateExperimentsKey, Page<ExperimentRecord>, string>(
      async (keys) => {
        const caller = await actor();
        if (!caller) return keys.map(() => emptyPage<ExperimentRecord>());
        const groups = new Map<string, TemplateExperimentsKey[]>();
        for (const key of keys) groups.set(pageKeyOf(key), [...(groups.get(pageKeyOf(key)) ?? []), key]);
        // The counts and every group's page in one round trip.
        const [counts, pages] = await Promise.all([
          countByTemplate(reader, caller, [...new Set(keys.map((key) => key.templateId))]),
          Promise.all(
            [...groups].map(async ([pageKey, group]) => {
              const templateIds = group.map((key) => key.templateId);
              return [pageKey, await pageByTemplate(reader, caller, templateIds, group[0], documentsOf(group))] as const;
            }),
          ).then((entries) => new Map(entries)),
        ]);
        return keys.map((key) => ({ ...pages.get(pageKeyOf(key))!.get(key.templateId)!, totalCount: counts.get(key.templateId) ?? 0 }));
      },
      { cacheKeyFn: (key) => `${key.templateId}|${pageKeyOf(key)}|${key.documents.join(',')}` },
    ),
  };
}
