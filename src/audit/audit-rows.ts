import type { UserRecord } from '../user/user-rows';
import type { AuditEvent } from './audit-event.type';

/** An audit event as reads return it; `readWith.actor` when the statement read the actor too (null: account gone). */
export type AuditEventRecord = Pick<
  AuditEvent,
  'id' | 'action' | 'actorKind' | 'subjectType' | 'subjectId' | 'requestId' | 'details' | 'occurredAt'
> & { actorId: string; readWith?: { actor: UserRecord | null } };

/** The columns of an AuditEventRecord over alias `e`. */
export function auditEventColumns(): string {
  return (
    'e.id, e.action, e.actor_kind as "actorKind", e.actor_id as "actorId", e.subject_type as "subjectType", ' +
    'e.subject_id as "subjectId", e.request_id as "requestId", e.details, e.occurred_at as "occurredAt"'
  );
}

export type AuditEventRow = Omit<AuditEventRecord, 'readWith'>;

/** The event in a row selected with `auditEventColumns` (other columns of the row are left out). */
export function auditEventOf(row: AuditEventRow): AuditEventRecord {
  return {
    id: row.id,
    action: row.action,
    actorKind: row.actorKind,
    actorId: row.actorId,
    subjectType: row.subjectType,
    subjectId: row.subjectId,
    requestId: row.requestId,
    details: row.details,
    occurredAt: row.occurredAt,
  };
}
