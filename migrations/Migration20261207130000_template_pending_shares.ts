import { Migration } from '@mikro-orm/migrations';

/**
 * Shares addressed to an email nobody has signed in with yet (src/template/template-pending-shares.ts), and whether the
 * identity provider verified each user's email, which decides whether the address may stand for them.
 *
 * `users.email_verified` is a nullable column without a default: a catalog change, no rewrite of the live table, its
 * lock held only for that (and bounded by lock_timeout). Null is what rows that existed before hold: the provider did
 * not say. The new table has no traffic yet: transactional, its indexes built in place.
 */
export class Migration20261207130000_template_pending_shares extends Migration {
  override async up(): Promise<void> {
    this.addSql(`alter table users add column email_verified boolean null`);
    this.addSql(`
      create table template_pending_shares (
        template_id uuid not null,
        email text not null,
        invited_by uuid null,
        created_at timestamptz not null default now(),
        constraint template_pending_shares_pkey primary key (template_id, email),
        constraint template_pending_shares_template_id_foreign foreign key (template_id) references experiment_templates (id) on delete cascade,
        constraint template_pending_shares_invited_by_foreign foreign key (invited_by) references users (id) on delete set null,
        constraint template_pending_shares_email_check check (email = lower(btrim(email)) and length(email) between 3 and 254)
      )`);
    // A sign-in claims the pending shares of its address.
    this.addSql(`create index template_pending_shares_email_index on template_pending_shares (email)`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists template_pending_shares`);
    this.addSql(`alter table users drop column if exists email_verified`);
  }
}
