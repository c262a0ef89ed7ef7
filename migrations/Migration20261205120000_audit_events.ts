import { Migration } from '@mikro-orm/migrations';

/**
 * The audit trail: one row per change, written in the transaction of the change (src/audit/audit-log.ts). A new table,
 * so no live traffic to protect: a transactional migration, indexes built in place.
 *
 * No foreign keys on purpose: an event keeps its subject's and its actor's ids after either is deleted, and a cascade
 * or SET NULL would have to change or delete an event. Action and subject type are checked for their shape only: the
 * list of actions is `AuditAction` (src/audit/audit-action.ts), and a feature that adds one needs no migration.
 */
export class Migration20261205120000_audit_events extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table audit_events (
        id uuid primary key default gen_random_uuid(),
        occurred_at timestamptz not null default clock_timestamp(),
        request_id uuid not null,
        actor_id uuid not null,
        actor_kind text not null,
        action text not null,
        subject_type text not null,
        subject_id uuid not null,
        details jsonb not null default '{}',
        constraint audit_events_actor_kind_check check (actor_kind in ('user', 'service', 'staff')),
        constraint audit_events_action_check check (action ~ '^[a-z]+(_[a-z]+)*\\.[a-z]+(_[a-z]+)*$' and length(action) <= 64),
        constraint audit_events_subject_type_check check (subject_type ~ '^[a-z]+(_[a-z]+)*$' and length(subject_type) <= 32),
        constraint audit_events_details_check check (jsonb_typeof(details) = 'object')
      )`);
    // The three reads: a subject's trail, what an actor did, everything in a time range; each newest first.
    this.addSql(`create index audit_events_subject_id_occurred_at_index on audit_events (subject_id, occurred_at desc, id desc)`);
    this.addSql(`create index audit_events_actor_id_occurred_at_index on audit_events (actor_id, occurred_at desc, id desc)`);
    this.addSql(`create index audit_events_occurred_at_index on audit_events (occurred_at desc, id desc)`);
    // Append-only in the database itself, like template versions: no update, no delete, no truncate, whoever asks.
    this.addSql(`
      create function audit_events_immutable() returns trigger language plpgsql as $$
      begin
        raise exception 'audit_events rows are immutable' using errcode = 'restrict_violation';
      end
      $$`);
    this.addSql(`
      create trigger audit_events_no_change
      before update or delete on audit_events
      for each row execute function audit_events_immutable()`);
    this.addSql(`
      create trigger audit_events_no_truncate
      before truncate on audit_events
      for each statement execute function audit_events_immutable()`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists audit_events`);
    this.addSql(`drop function if exists audit_events_immutable()`);
  }
}
