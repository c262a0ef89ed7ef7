import { Migration } from '@mikro-orm/migrations';

/**
 * When a service started an experiment and when it ended (completed, failed or cancelled), written by the status
 * moves. Nullable columns without a default: a catalog change under a brief lock, no table rewrite; rows that exist
 * read back null, as do experiments that never ran.
 */
export class Migration20261206120000_experiment_run_times extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      alter table ml_experiments
        add column if not exists started_at timestamptz null,
        add column if not exists finished_at timestamptz null`);
  }

  override async down(): Promise<void> {
    this.addSql(`
      alter table ml_experiments
        drop column if exists finished_at,
        drop column if exists started_at`);
  }
}
