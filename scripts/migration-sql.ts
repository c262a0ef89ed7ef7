import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Migration } from '@mikro-orm/migrations';
import { migrationsList } from '../migrations';

export interface MigrationSql {
  name: string;
  direction: 'up' | 'down';
  statements: string[];
}

/**
 * The SQL each migration sends, read without a database: migrations only add statements, and the one check a migration
 * makes against the database (an invalid index left by a failed build) answers "none", the normal case.
 */
export async function migrationSql(): Promise<MigrationSql[]> {
  const noDatabase = { execute: async () => [] };
  const result: MigrationSql[] = [];
  for (const { name, class: MigrationClass } of migrationsList) {
    for (const direction of ['up', 'down'] as const) {
      const migration: Migration = new MigrationClass(noDatabase, {});
      await migration[direction]();
      result.push({ name, direction, statements: migration.getQueries().map(String) });
    }
  }
  return result;
}

/** Writes one `.sql` file per migration and direction into `dir`, for linters; returns the paths. */
export async function writeMigrationSql(dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: string[] = [];
  for (const { name, direction, statements } of await migrationSql()) {
    const file = path.join(dir, `${name}.${direction}.sql`);
    await writeFile(file, statements.map((sql) => `${sql.trim()};\n`).join('\n'));
    files.push(file);
  }
  return files;
}

if (require.main === module) {
  writeMigrationSql(process.argv[2] ?? 'dist/migration-sql').then(
    (files) => process.stdout.write(`${files.join('\n')}\n`),
    (error) => {
      process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
      process.exit(1);
    },
  );
}
