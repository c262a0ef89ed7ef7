import { Migration } from '@mikro-orm/migrations';

const TABLES = ['experiment_templates', 'experiment_template_versions'] as const;

/**
 * The configuration schema version each template version was validated against, and the template's current one (so
 * "which templates are behind" is a plain filter). Every row that exists was validated against version 1, the only
 * one there was: the column arrives with the constant default 1, a catalog change in PostgreSQL 11+ (no rewrite, no
 * scan), then the default becomes 2, the latest, for rows written by anything but the services, which name it.
 *
 * Outside a transaction, so each table's exclusive lock lasts only for its own statement; every statement is idempotent,
 * so a run cut short by `lock_timeout` can simply be retried. No index: the filter narrows listings that the existing
 * indexes already drive (visibility, owner, order).
 */
export class Migration20261206140000_configuration_schema_versions extends Migration {
  override isTransactional(): boolean {
    return false;
  }

  override async up(): Promise<void> {
    for (const table of TABLES) {
      this.addSql(`alter table ${table} add column if not exists configuration_schema_version smallint not null default 1`);
      this.addSql(`alter table ${table} alter column configuration_schema_version set default 2`);
    }
  }

  override async down(): Promise<void> {
    for (const table of [...TABLES].reverse()) this.addSql(`alter table ${table} drop column if exists configuration_schema_version`);
  }
}
