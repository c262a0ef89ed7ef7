import DataLoader from 'dataloader';
import type { Page } from '../db/keyset';
import type { Reader } from '../db/sql';
import type { UsersSeen } from '../template/template-rows';
import { countBySubject, pageBySubject } from './audit-list';
import type { AuditEventRecord } from './audit-rows';

/** A page of one subject's events; `withActor` and `withTotalCount` as the request's selection asks. */
export interface SubjectTrailKey {
  subjectId: string;
  first: number;
  after: string | null;
  withActor: boolean;
  withTotalCount: boolean;
}

const pageKeyOf = (key: SubjectTrailKey) => `${key.first}|${key.after ?? ''}`;

/**
 * Per-request batch loaders for audit events. Who may read a subject's trail is the field's business (it asks before
 * loading): these read what they are asked.
 */
export function createAuditLoaders(reader: Reader, usersSeen: UsersSeen) {
  return {
    /** A page of events per subject: one statement per distinct (first, after), one for all counts when asked for. */
    auditTrailBySubject: new DataLoader<SubjectTrailKey, Page<AuditEventRecord>, string>(
      async (keys) => {
        const groups = new Map<string, SubjectTrailKey[]>();
        for (const key of keys) groups.set(pageKeyOf(key), [...(groups.get(pageKeyOf(key)) ?? []), key]);
        const counted = keys.filter((key) => key.withTotalCount).map((key) => key.subjectId);
        // The counts and every group's page in one round trip.
        const [counts, pages] = await Promise.all([
          counted.length > 0 ? countBySubject(reader, counted) : Promise.resolve(new Map<string, number>()),
          Promise.all(
            [...groups].map(async ([pageKey, group]) => {
              const subjectIds = group.map((key) => key.subjectId);
              const withActor = group.some((key) => key.withActor);
              return [pageKey, await pageBySubject(reader, subjectIds, group[0], { withActor })] as const;
            }),
          ).then((entries) => new Map(entries)),
        ]);
        return keys.map((key) => {
          const page = pages.get(pageKeyOf(key))!.get(key.subjectId)!;
          for (const { node } of page.rows) if (node.readWith?.actor) usersSeen(node.readWith.actor);
          return { ...page, totalCount: counts.get(key.subjectId) ?? 0 };
        });
      },
      { cacheKeyFn: (key) => `${key.subjectId}|${pageKeyOf(key)}|${key.withActor}|${key.withTotalCount}` },
    ),
  };
}
