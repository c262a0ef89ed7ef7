import { Migration } from '@mikro-orm/migrations';

export interface ConcurrentIndex {
  name: string;
  /** What follows `create index concurrently if not exists <name>`: `on table (...)`, `using`, `where`. */
  definition: string;
}

/**
 * Indexes built CONCURRENTLY on live tables, so writes go on meanwhile. CONCURRENTLY cannot run in a transaction,
 * hence non-transactional. A concurrent build that failed leaves an INVALID index behind that `if not exists` would
 * keep: it is dropped and built again.
 */
export abstract class ConcurrentIndexMigration extends Migration {
  protected abstract readonly indexes: ConcurrentIndex[];
  /**
   * Tables to ANALYZE once the indexes are built: PostgreSQL keeps statistics of an index's expressions, gathered by
   * the next ANALYZE only, which autovacuum may not run for a long time on a table that changes little.
   */
  protected readonly analyzedTables: readonly string[] = [];

  override isTransactional(): boolean {
    return false;
  }

  override async up(): Promise<void> {
    for (const { name, definition } of this.indexes) {
      if (await this.isInvalidIndex(name)) this.addSql(`drop index concurrently if exists ${name}`);
      this.addSql(`create index concurrently if not exists ${name} ${definition}`);
    }
    for (const table of this.analyzedTables) this.addSql(`analyze ${table}`);
  }

  override async down(): Promise<void> {
    for (const { name } of [...this.indexes].reverse()) this.addSql(`drop index concurrently if exists ${name}`);
  }

  private async isInvalidIndex(name: string): Promise<boolean> {
    const rows = await this.execute(
      `select 1 from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = ? and not i.indisvalid`,
      [name],
    );
    return rows.length > 0;
  }
}

/**
 * Indexes no query uses any more, dropped CONCURRENTLY (writes go on meanwhile, and stop paying for them); going down
 * builds them again as they were.
 */
export abstract class ConcurrentIndexDropMigration extends ConcurrentIndexMigration {
  override async up(): Promise<void> {
    await super.down();
  }

  override async down(): Promise<void> {
    await super.up();
  }
}
