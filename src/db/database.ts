import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import { createOrmConfig, sessionTimeouts } from '../../mikro-orm.config';
import { ConfigError, type AppConfig } from '../config';
import { ensureDatabase, quoteIdentifier, startEmbeddedDatabase, type EmbeddedDatabase } from './embedded-database';
import { ReplicaSet } from './replicas';
import { discardOrmConnectionsOutOfStep, publishOrmStatements, Sql } from './sql';

export interface Database {
  orm: MikroORM;
  /** The read path: bound, prepared statements returning plain rows, over the ORM's pool. */
  reader: Sql;
  /** `DATABASE_REPLICA_URLS`: where query operations may read instead of the primary. */
  replicas?: ReplicaSet;
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
    embedded = await startMigratedEmbeddedDatabase(config, log);
    url = embeddedDatabaseUrl(embedded);
  }
  let orm: MikroORM | undefined;
  let replicas: ReplicaSet | undefined;
  try {
    orm = await MikroORM.init(createOrmConfig({ clientUrl: url, db: config.db }));
    if (config.db.pooler !== 'none') await checkPoolerTimeouts(orm, config.db);
    if (config.databaseReplicaUrls.length > 0) replicas = await ReplicaSet.open(Sql.of(orm.em), config.databaseReplicaUrls, config.db);
    return databaseOf(orm, url, embedded, replicas);
  } catch (error) {
    await replicas?.close();
    await orm?.close(true);
    await embedded?.stop();
    throw error;
  }
}

/**
 * The development default: a PostgreSQL under the data directory, with Tessera's database on it (`embeddedDatabaseUrl`)
 * created and migrated.
 */
export async function startMigratedEmbeddedDatabase(
  config: Pick<AppConfig, 'dataDir' | 'db'>,
  log: (message: string) => void,
): Promise<EmbeddedDatabase> {
  log(`starting embedded PostgreSQL in ${path.join(config.dataDir, 'pg')}`);
  const embedded = await startEmbeddedDatabase({ dir: config.dataDir, persistent: true, log: () => undefined });
  try {
    await ensureDatabase(embedded.serverUrl, EMBEDDED_DATABASE_NAME);
    const applied = await migrateDatabase(embeddedDatabaseUrl(embedded), config);
    if (applied.length > 0) log(`applied migrations: ${applied.join(', ')}`);
    return embedded;
  } catch (error) {
    await embedded.stop();
    throw error;
  }
}

export function embeddedDatabaseUrl(embedded: EmbeddedDatabase): string {
  return embedded.url(EMBEDDED_DATABASE_NAME);
}

/**
 * Behind a transaction-mode pooler the server cannot set its timeouts on its connections (PgBouncer refuses them as
 * start-up parameters, and a session `SET` would stay on a server connection for whichever client gets it next). They
 * are the defaults PostgreSQL gives every session of the role in the database instead. Refuses to start when they
 * are not the configured ones, so they cannot silently vanish, and says how to set them.
 */
export async function checkPoolerTimeouts(orm: MikroORM, db: AppConfig['db']): Promise<void> {
  const expected: Record<string, number> = sessionTimeouts(db);
  const rows = await orm.em
    .getConnection()
    .execute<Array<{ name: string; setting: string; role: string; database: string }>>(
      `select name, setting, current_user as role, current_database() as database from pg_settings where name in (?, ?, ?)`,
      Object.keys(expected),
    );
  const wrong = rows.filter((row) => Number(row.setting) !== expected[row.name]);
  if (wrong.length === 0) return;
  const { role, database } = rows[0];
  throw new ConfigError(
    wrong.map(
      (row) =>
        `behind DATABASE_POOLER=${db.pooler}, ${row.name} must be the default of role ${role} in database ${database} ` +
        `(it is ${row.setting} ms, configured ${expected[row.name]} ms): ` +
        `ALTER ROLE ${quoteIdentifier(role)} IN DATABASE ${quoteIdentifier(database)} SET ${row.name} = ${expected[row.name]};`,
    ),
  );
}

export function databaseOf(orm: MikroORM, url: string, embedded?: EmbeddedDatabase, replicas?: ReplicaSet): Database {
  publishOrmStatements(orm);
  discardOrmConnectionsOutOfStep(orm);
  return {
    orm,
    reader: Sql.of(orm.em),
    replicas,
    url,
    embedded,
    async isReady() {
      const result = await orm.checkConnection();
      return result.ok;
    },
    async close() {
      await replicas?.close();
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
      // A direct connection, so the timeouts travel as its start-up parameters and override the role's defaults.
      db: { ...config.db, pooler: 'none', poolMax: 2 },
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
