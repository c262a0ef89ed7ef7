import { Migration } from '@mikro-orm/migrations';

const INDEXES = [
  // Experiments of a template, newest first; also serves ON DELETE SET NULL when a template is deleted.
  {
    name: 'ml_experiments_template_id_created_at_index',
    definition: `on ml_experiments (template_id, created_at desc, id desc) where template_id is not null`,
  },
  // An owner's experiments filtered by wizard state.
  {
    name: 'ml_experiments_owner_id_wizard_completed_index',
    definition: `on ml_experiments (owner_id, wizard_completed, created_at desc)`,
  },
];

/**
 * Indexes on the live experiment table, built CONCURRENTLY so writes go on meanwhile. CONCURRENTLY cannot run in a
 * transaction, hence a non-transactional migration (and a migrator configured without a master transaction).
 */
export class Migration20261124120300_experiment_indexes extends Migration {
  override isTransactional(): boolean {
    return false;
  }

  override async up(): Promise<void> {
    for (const { name, definition } of INDEXES) {
      // A concurrent build that failed leaves an INVALID index behind that `if not exists` would keep: rebuild it.
      if (await this.isInvalidIndex(name)) this.addSql(`drop index concurrently if exists ${name}`);
      this.addSql(`create index concurrently if not exists ${name} ${definition}`);
    }
  }

  override async down(): Promise<void> {
    for (const { name } of [...INDEXES].reverse()) {
      this.addSql(`drop index concurrently if exists ${name}`);
    }
  }

  private async isInvalidIndex(name: string): Promise<boolean> {
    const rows = await this.execute(
      `select 1 from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = ? and not i.indisvalid`,
      [name],
    );
    return rows.length > 0;
  }
}
