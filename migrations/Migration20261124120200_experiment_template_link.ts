import { Migration } from '@mikro-orm/migrations';

/**
 * Extends the live experiment table. Runs outside a transaction so that each statement holds its lock only for
 * itself: new columns are nullable or have constant defaults (a catalog change, no table rewrite), the foreign key
 * is added NOT VALID (no scan under the exclusive lock) and validated afterwards under a lock that lets reads and
 * writes through. Every statement is idempotent, so a run cut short by `lock_timeout` can simply be retried.
 */
export class Migration20261124120200_experiment_template_link extends Migration {
  override isTransactional(): boolean {
    return false;
  }

  override async up(): Promise<void> {
    this.addSql(`
      alter table ml_experiments
        add column if not exists template_id uuid null,
        add column if not exists template_version integer null,
        add column if not exists configuration_metadata jsonb not null default '{}',
        add column if not exists dataset_statistics jsonb not null default '{}',
        add column if not exists feature_importance jsonb not null default '{}',
        add column if not exists model_recommendations jsonb not null default '{}',
        add column if not exists resource_requirements jsonb not null default '{}',
        add column if not exists wizard_completed boolean not null default false,
        add column if not exists wizard_step_completed integer not null default 0,
        add column if not exists wizard_state jsonb null,
        add column if not exists estimated_training_time interval null,
        add column if not exists actual_training_time interval null`);
    this.addSql(
      addConstraintOnce(
        'ml_experiments_template_id_foreign',
        `foreign key (template_id) references experiment_templates (id) on delete set null not valid`,
      ),
    );
    this.addSql(addConstraintOnce('ml_experiments_wizard_step_completed_check', `check (wizard_step_completed >= 0) not valid`));
    this.addSql(
      addConstraintOnce(
        'ml_experiments_training_time_check',
        `check (estimated_training_time >= interval '0' and actual_training_time >= interval '0') not valid`,
      ),
    );
    this.addSql(`alter table ml_experiments validate constraint ml_experiments_template_id_foreign`);
    this.addSql(`alter table ml_experiments validate constraint ml_experiments_wizard_step_completed_check`);
    this.addSql(`alter table ml_experiments validate constraint ml_experiments_training_time_check`);
  }

  override async down(): Promise<void> {
    this.addSql(`alter table ml_experiments drop constraint if exists ml_experiments_training_time_check`);
    this.addSql(`alter table ml_experiments drop constraint if exists ml_experiments_wizard_step_completed_check`);
    this.addSql(`alter table ml_experiments drop constraint if exists ml_experiments_template_id_foreign`);
    this.addSql(`
      alter table ml_experiments
        drop column if exists actual_training_time,
        drop column if exists estimated_training_time,
        drop column if exists wizard_state,
        drop column if exists wizard_step_completed,
        drop column if exists wizard_completed,
        drop column if exists resource_requirements,
        drop column if exists model_recommendations,
        drop column if exists feature_importance,
        drop column if exists dataset_statistics,
        drop column if exists configuration_metadata,
        drop column if exists template_version,
        drop column if exists template_id`);
  }
}

function addConstraintOnce(name: string, definition: string): string {
  return `
    do $$
    begin
      if not exists (select 1 from pg_constraint where conname = '${name}' and conrelid = 'ml_experiments'::regclass) then
        alter table ml_experiments add constraint ${name} ${definition};
      end if;
    end
    $$`;
}
