import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { createOrmConfig } from '../../mikro-orm.config';
import type { AppConfig } from '../config';
import { ensureDatabase, startEmbeddedDatabase, type EmbeddedDatabase } from './embedded-database';
import { publishOrmStatements, Sql } from './sql';

export interface Database {
  orm: MikroORM;
  /** The read path: bound, prepared statements returning plain rows, over the ORM's pool. */
  reader: Sql;
  url: string;
  embedded?: EmbeddedDatabase;
  isReady(): Promise<boolean>;
  close(): Promise<void>;
}

const EMBEDDED_DATABASE_NAME = 'tessera';
const MIGRATION_STATEMENT_TIMEOUT_MS = 30 * 60_000;

/**
 * Opens the configured database, or starts the embedded one under the data directory. Only the embedded default is
 * migrated here: against a real database, migrating is a deploy step (`npm run migrate`).
 */
export async function openDatabase(config: AppConfig, log: (message: string) => void): Promise<Database> {
  let embedded: EmbeddedDatabase | undefined;
  let url = config.databaseUrl;
  if (!url) {
    log(`starting embedded PostgreSQL in ${path.join(config.dataDir, 'pg')}`);
    embedded = await startEmbeddedDatabase({ dir: config.dataDir, persistent: true, log: () => undefined });
    await ensureDatabase(embedded.serverUrl, EMBEDDED_DATABASE_NAME);
    url = embedded.url(EMBEDDED_DATABASE_NAME);
    const applied = await migrateDatabase(url, config);
    if (applied.length > 0) log(`applied migrations: ${applied.join(', ')}`);
  }
  try {
    const orm = await MikroORM.init(createOrmConfig({ clientUrl: url, db: config.db }));
    return databaseOf(orm, url, embedded);
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
}

export function databaseOf(orm: MikroORM, url: string, embedded?: EmbeddedDatabase): Database {
  publishOrmStatements(orm);
  return {
    orm,
    reader: Sql.of(orm.em),
    url,
    embedded,
    async isReady() {
      const result = await orm.checkConnection();
      return result.ok;
    },
    async close() {
      await orm.close(true);
      await embedded?.stop();
    },
  };
}

/** Applies pending migrations on a connection of its own, with a statement timeout long enough for index builds. */
export async function migrateDatabase(url: string, config: Pick<AppConfig, 'db'>): Promise<string[]> {
  const orm = await MikroORM.init(
    createOrmConfig({
      clientUrl: url,
      db: { ...config.db, poolMax: 2 },
      applicationName: 'tessera-migrate',
      statementTimeoutMs: MIGRATION_STATEMENT_TIMEOUT_MS,
    }),
  );
  try {
    const applied = await orm.getMigrator().up();
    return applied.map((migration) => migration.name);
  } finally {
    await orm.close(true);
  }
}
