import { Migration } from '@mikro-orm/migrations';

/** The schema as it stood before templates: users and the existing experiment table. */
export class Migration20261124120000_baseline extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table if not exists users (
        id uuid primary key default gen_random_uuid(),
        external_id text not null,
        email text null,
        display_name text null,
        created_at timestamptz not null default now(),
        constraint users_external_id_unique unique (external_id)
      )`);
    this.addSql(`
      create table if not exists ml_experiments (
        id uuid primary key default gen_random_uuid(),
        name varchar(255) not null,
        description text null,
        status varchar(32) not null default 'draft',
        configuration jsonb not null default '{}',
        owner_id uuid not null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        constraint ml_experiments_owner_id_foreign foreign key (owner_id) references users (id) on delete cascade
      )`);
    this.addSql(`create index if not exists ml_experiments_owner_id_created_at_index on ml_experiments (owner_id, created_at desc)`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists ml_experiments`);
    this.addSql(`drop table if exists users`);
  }
}
