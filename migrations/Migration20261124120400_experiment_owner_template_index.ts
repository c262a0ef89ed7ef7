import { Migration } from '@mikro-orm/migrations';

const NAME = 'ml_experiments_owner_id_template_id_created_at_index';

/**
 * The caller's experiments of a template, newest first (`Template.experiments`, `experiments(filter: {templateId})`)
 * and their count. Both filter on owner and template together: with one index per column the planner ANDs two bitmaps
 * and sorts every matching row to return 20 (3.7 ms for an owner with 1,046 experiments of one template, in
 * `npm run bench`); with this index it reads the 21 rows it returns (0.4 ms). The template-only index stays: it serves
 * ON DELETE SET NULL. Built CONCURRENTLY on the live table, hence non-transactional.
 */
export class Migration20261124120400_experiment_owner_template_index extends Migration {
  override isTransactional(): boolean {
    return false;
  }

  override async up(): Promise<void> {
    // A concurrent build that failed leaves an INVALID index behind that `if not exists` would keep: rebuild it.
    if (await this.isInvalidIndex()) this.addSql(`drop index concurrently if exists ${NAME}`);
    this.addSql(
      `create index concurrently if not exists ${NAME} on ml_experiments (owner_id, template_id, created_at desc, id desc) where template_id is not null`,
    );
  }

  override async down(): Promise<void> {
    this.addSql(`drop index concurrently if exists ${NAME}`);
  }

  private async isInvalidIndex(): Promise<boolean> {
    const rows = await this.execute(
      `select 1 from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = ? and not i.indisvalid`,
      [NAME],
    );
    return rows.length > 0;
  }
}
