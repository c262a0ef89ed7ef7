import { Migration } from '@mikro-orm/migrations';

const NAME = 'experiment_templates_configuration_index';

/**
 * Filters on what a configuration holds (`templates(filter: { configuration })`) are containments (`@>`), which a GIN
 * index with `jsonb_path_ops` serves: smaller than the default operator class, and containment is all it is asked.
 * Built CONCURRENTLY on the live table, hence non-transactional.
 */
export class Migration20261201130000_template_configuration_index extends Migration {
  override isTransactional(): boolean {
    return false;
  }

  override async up(): Promise<void> {
    // A concurrent build that failed leaves an INVALID index behind that `if not exists` would keep: rebuild it.
    if (await this.isInvalidIndex()) this.addSql(`drop index concurrently if exists ${NAME}`);
    this.addSql(`create index concurrently if not exists ${NAME} on experiment_templates using gin (configuration jsonb_path_ops)`);
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
