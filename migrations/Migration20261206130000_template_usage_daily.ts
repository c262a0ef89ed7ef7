import { Migration } from '@mikro-orm/migrations';

/** The backfill's batches: template ids by their first two hex digits, 1/256th of the experiments each. */
const BATCHES = Array.from({ length: 256 }, (_, index) => index.toString(16).padStart(2, '0'));

/**
 * Usage over time (docs/SCALING.md, "Usage over time"): experiments per template per UTC day, and the TRENDING
 * ranking, each template's experiments since the window's first day, kept in the experiment's own transaction
 * (src/experiment/experiment.service.ts) and moved on each UTC day by src/template/template-trending.ts.
 *
 * Non-transactional so that the backfill commits batch by batch: one INSERT ... SELECT over all of ml_experiments
 * would be one statement of minutes at 10^8 rows (past the migration's statement timeout) and one transaction holding
 * back vacuum all the while. Each batch reads one 256th of the template ids through the (template_id, created_at)
 * index, holds only ACCESS SHARE on ml_experiments (reads and writes go on) and commits on its own. Every statement is
 * idempotent (IF NOT EXISTS, ON CONFLICT DO NOTHING, the ranking set rather than added to), so a run cut short is
 * simply run again. Experiments created by servers still running the previous version between this migration and
 * their replacement are counted in `usage_count` but not here: the series starts with the migration.
 */
export class Migration20261206130000_template_usage_daily extends Migration {
  override isTransactional(): boolean {
    return false;
  }

  override async up(): Promise<void> {
    this.addSql(`
      create table if not exists template_usage_daily (
        template_id uuid not null,
        day date not null,
        experiments integer not null,
        constraint template_usage_daily_pkey primary key (template_id, day),
        constraint template_usage_daily_template_id_foreign foreign key (template_id)
          references experiment_templates (id) on delete cascade,
        constraint template_usage_daily_experiments_check check (experiments > 0)
      )`);
    // The daily move of the TRENDING window reads the day that leaves it.
    this.addSql(`create index if not exists template_usage_daily_day_index on template_usage_daily (day)`);
    // A constant default: a catalog change, no rewrite of the templates.
    this.addSql(`alter table experiment_templates add column if not exists trending_count integer not null default 0`);
    this.addSql(`
      create table if not exists template_trending_window (
        singleton boolean primary key default true,
        starts_on date not null,
        constraint template_trending_window_singleton_check check (singleton)
      )`);
    this.addSql(`
      insert into template_trending_window (starts_on)
      values ((now() at time zone 'utc')::date - 6)
      on conflict (singleton) do nothing`);
    for (const [index, prefix] of BATCHES.entries()) {
      const upper = BATCHES[index + 1];
      this.addSql(`
        insert into template_usage_daily (template_id, day, experiments)
        select e.template_id, (e.created_at at time zone 'utc')::date, count(*)::integer
        from ml_experiments e
        where e.template_id >= '${prefix}000000-0000-0000-0000-000000000000'::uuid
          ${upper ? `and e.template_id < '${upper}000000-0000-0000-0000-000000000000'::uuid` : ''}
        group by 1, 2
        on conflict (template_id, day) do nothing`);
    }
    this.addSql(`
      update experiment_templates t set trending_count = recent.experiments
      from (
        select d.template_id, sum(d.experiments)::integer as experiments
        from template_usage_daily d join template_trending_window w on d.day >= w.starts_on
        group by d.template_id
      ) recent
      where recent.template_id = t.id and t.trending_count <> recent.experiments`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists template_trending_window`);
    this.addSql(`alter table experiment_templates drop column if exists trending_count`);
    this.addSql(`drop table if exists template_usage_daily`);
  }
}
