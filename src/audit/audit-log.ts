import type { EntityManager } from '@mikro-orm/postgresql';
import type { Actor } from '../auth/actor';
import { SqlValues } from '../db/sql';
import { actorKindOf, subjectTypeOf, type AuditAction } from './audit-action';

/** A small JSON object saying what changed: versions, users, fields, statuses. Never content: versions keep that. */
export type AuditDetails = Record<string, unknown>;

/** One effective change, as the service that made it tells it. */
export interface AuditEntry {
  action: AuditAction;
  subjectId: string;
  details?: AuditDetails;
}

/** Details the statement computes: a `jsonb` expression over what it reads or writes, not details known beforehand. */
export class DetailsSql {
  constructor(readonly sql: string) {}
}

/** The subject of an event: its id, or SQL giving it (the id of a row the same statement inserts). */
export type AuditSubject = { id: string } | { sql: string };

/**
 * The one way audit events are written: by the service that makes a change, in the change's own transaction (or its
 * one statement), so that a change that rolls back leaves no event and one that commits always has its event. One per
 * request, holding the request's id; services take it from `createServices`. A service records an event only for an
 * effective change: a change that changes nothing writes no event.
 */
export class AuditLog {
  constructor(readonly requestId: string) {}

  /** Writes one event inside `em`'s transaction: the caller's `withTransactionRetry` work, before it commits. */
  async record(em: EntityManager, actor: Actor, entry: AuditEntry): Promise<void> {
    const values = new SqlValues('question');
    const sql = this.insertSql(values, actor, entry.action, { id: entry.subjectId }, entry.details);
    await em.execute(sql, values.values);
  }

  /**
   * The INSERT of one event, for a statement that writes a change and its event together (a data-modifying CTE), with
   * `from` naming what `subject`'s SQL reads. Values are bound in `values`' style, in the order of the text.
   */
  insertSql(
    values: SqlValues,
    actor: Actor,
    action: AuditAction,
    subject: AuditSubject,
    details: AuditDetails | DetailsSql = {},
    from?: string,
  ): string {
    return (
      'insert into audit_events (request_id, actor_id, actor_kind, action, subject_type, subject_id, details) ' +
      `select ${values.bind(this.requestId)}::uuid, ${values.bind(actor.userId)}::uuid, ${values.bind(actorKindOf(actor))}::text, ` +
      `${values.bind(action)}::text, ${values.bind(subjectTypeOf(action))}::text, ` +
      `${'id' in subject ? `${values.bind(subject.id)}::uuid` : subject.sql}, ` +
      (details instanceof DetailsSql ? details.sql : `${values.bind(JSON.stringify(details))}::jsonb`) +
      (from ? ` from ${from}` : '')
    );
  }
}
