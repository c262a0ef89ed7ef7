import { Migration } from '@mikro-orm/migrations';

// Frozen here rather than imported from the enum, so that this migration never changes once landed.
const CATEGORIES_AT_CREATION = [
  'classification',
  'regression',
  'clustering',
  'time_series',
  'anomaly_detection',
  'nlp',
  'computer_vision',
  'recommendation',
  'reinforcement_learning',
  'other',
];

/** Templates, their shares and their immutable version history. New tables: no live traffic to protect. */
export class Migration20261124120100_templates extends Migration {
  override async up(): Promise<void> {
    this.addSql(`create extension if not exists pg_trgm`);
    this.addSql(`
      create table experiment_templates (
        id uuid primary key default gen_random_uuid(),
        name varchar(255) not null,
        description text null,
        category text not null,
        tags jsonb not null default '[]',
        configuration jsonb not null,
        version integer not null default 1,
        is_active boolean not null default true,
        created_by uuid not null,
        is_public boolean not null default false,
        usage_count integer not null default 0,
        last_used timestamptz null,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now(),
        constraint experiment_templates_created_by_foreign foreign key (created_by) references users (id) on delete cascade,
        constraint experiment_templates_name_check check (length(btrim(name)) > 0),
        constraint experiment_templates_category_check check (category in (${CATEGORIES_AT_CREATION.map((c) => `'${c}'`).join(', ')})),
        constraint experiment_templates_tags_check check (jsonb_typeof(tags) = 'array'),
        constraint experiment_templates_configuration_check check (jsonb_typeof(configuration) = 'object'),
        constraint experiment_templates_version_check check (version >= 1),
        constraint experiment_templates_usage_count_check check (usage_count >= 0)
      )`);
    this.addSql(`create index experiment_templates_category_is_active_index on experiment_templates (category, is_active)`);
    this.addSql(`create index experiment_templates_created_by_is_public_index on experiment_templates (created_by, is_public)`);
    this.addSql(`create index experiment_templates_usage_count_index on experiment_templates (usage_count desc, id desc)`);
    this.addSql(`create index experiment_templates_updated_at_index on experiment_templates (updated_at desc, id desc)`);
    this.addSql(`create index experiment_templates_tags_index on experiment_templates using gin (tags)`);
    this.addSql(`
      create index experiment_templates_search_index on experiment_templates
      using gin ((name || ' ' || coalesce(description, '')) gin_trgm_ops)`);

    this.addSql(`
      create table experiment_template_shares (
        template_id uuid not null,
        user_id uuid not null,
        shared_by uuid null,
        shared_at timestamptz not null default now(),
        constraint experiment_template_shares_pkey primary key (template_id, user_id),
        constraint experiment_template_shares_template_id_foreign foreign key (template_id) references experiment_templates (id) on delete cascade,
        constraint experiment_template_shares_user_id_foreign foreign key (user_id) references users (id) on delete cascade,
        constraint experiment_template_shares_shared_by_foreign foreign key (shared_by) references users (id) on delete set null
      )`);
    this.addSql(`create index experiment_template_shares_user_id_index on experiment_template_shares (user_id, template_id)`);

    this.addSql(`
      create table experiment_template_versions (
        id uuid primary key default gen_random_uuid(),
        template_id uuid not null,
        version integer not null,
        name varchar(255) not null,
        description text null,
        category text not null,
        tags jsonb not null default '[]',
        configuration jsonb not null,
        created_by uuid null,
        created_at timestamptz not null default now(),
        change_note text null,
        constraint experiment_template_versions_template_id_foreign foreign key (template_id) references experiment_templates (id) on delete cascade,
        constraint experiment_template_versions_created_by_foreign foreign key (created_by) references users (id) on delete set null,
        constraint experiment_template_versions_template_id_version_unique unique (template_id, version),
        constraint experiment_template_versions_version_check check (version >= 1)
      )`);
    // The audit trail is append-only: a snapshot may disappear with its template, never change. The one update let
    // through is the foreign key's own ON DELETE SET NULL when its author's account is deleted.
    this.addSql(`
      create function experiment_template_versions_immutable() returns trigger language plpgsql as $$
      begin
        if old.created_by is not null and new.created_by is null
           and to_jsonb(new) - 'created_by' = to_jsonb(old) - 'created_by' then
          return new;
        end if;
        raise exception 'experiment_template_versions rows are immutable' using errcode = 'restrict_violation';
      end
      $$`);
    this.addSql(`
      create trigger experiment_template_versions_no_update
      before update on experiment_template_versions
      for each row execute function experiment_template_versions_immutable()`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists experiment_template_versions`);
    this.addSql(`drop function if exists experiment_template_versions_immutable()`);
    this.addSql(`drop table if exists experiment_template_shares`);
    this.addSql(`drop table if exists experiment_templates`);
    this.addSql(`drop extension if exists pg_trgm`);
  }
}
