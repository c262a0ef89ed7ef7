import path from 'node:path';
import { MikroORM } from '@mikro-orm/postgresql';
import type { BaseLogger } from 'pino';
import { createOrmConfig, sessionTimeouts } from '../../mikro-orm.config';
import { BASELINE_MIGRATION } from '../../migrations';
import { ConfigError, type AppConfig } from '../config';
import { describeFailure } from '../failure-cause';
import {
  claimDataDirectory,
  DataDirectoryInUseError,
  findOrphanedPostmaster,
  SERVER_COMMAND,
  stopOrphanedPostmaster,
  type DataDirectoryClaim,
} from './data-directory';
import {
  connectToRunningEmbeddedDatabase,
  ensureDatabase,
  quoteIdentifier,
  startEmbeddedDatabase,
  type EmbeddedDatabase,
  type EmbeddedDatabaseSupervision,
} from './embedded-database';
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

/**
 * Who needs the embedded database (without DATABASE_URL). The server starts it and owns it, restarted when it dies as
 * `supervision` is told; a command (`npm run seed`) uses the cluster of whichever process owns the data directory, and
 * starts one of its own only when none does.
 */
export type EmbeddedDatabaseUser = { server: Partial<EmbeddedDatabaseSupervision> } | { command: string };

const EMBEDDED_DATABASE_NAME = 'tessera';
const MIGRATION_STATEMENT_TIMEOUT_MS = 30 * 60_000;
/** A command finding the server's cluster starting, or restarting after a crash, waits this long for it. */
const RUNNING_CLUSTER_WAIT_MS = 15_000;

/**
 * Opens the configured database, or the embedded one under the data directory, migrated. Only the embedded default is
 * migrated here: against a real database, migrating is a deploy step (`npm run migrate`).
 */
export async function openDatabase(
  config: AppConfig,
  log: (message: string) => void,
  user: EmbeddedDatabaseUser = { server: {} },
): Promise<Database> {
  let embedded: EmbeddedDatabase | undefined;
  let url = config.databaseUrl;
  if (!url) {
    embedded = await migratedEmbeddedDatabase(config, log, user);
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

/** The development default: the embedded PostgreSQL of the data directory, with Tessera's database on it migrated. */
export async function migratedEmbeddedDatabase(
  config: Pick<AppConfig, 'dataDir' | 'db'>,
  log: (message: string) => void,
  user: EmbeddedDatabaseUser,
): Promise<EmbeddedDatabase> {
  const embedded = await embeddedDatabase(config.dataDir, log, user);
  try {
    const applied = await migrateDatabase(embeddedDatabaseUrl(embedded), config);
    if (applied.length > 0) log(`applied migrations: ${applied.join(', ')}`);
    return embedded;
  } catch (error) {
    await embedded.stop();
    throw error;
  }
}

/**
 * The embedded PostgreSQL of `dataDir`, with Tessera's database on it. The server claims the directory (refused while
 * another process owns it), stops a postmaster an earlier owner left running, and starts the cluster; a command does
 * the same when the directory is free, and otherwise connects to its owner's cluster.
 */
export async function embeddedDatabase(
  dataDir: string,
  log: (message: string) => void,
  user: EmbeddedDatabaseUser,
): Promise<EmbeddedDatabase> {
  let claim: DataDirectoryClaim;
  try {
    claim = await claimDataDirectory(dataDir, 'server' in user ? SERVER_COMMAND : user.command);
  } catch (error) {
    if (!(error instanceof DataDirectoryInUseError) || 'server' in user) throw error;
    const { owner } = error;
    const running = await connectToRunningEmbeddedDatabase(dataDir, RUNNING_CLUSTER_WAIT_MS).catch((cause: unknown) => {
      throw new Error(`${owner.command} (pid ${owner.pid}) is using the data directory ${dataDir}, but ${describeFailure(cause)}`);
    });
    log(`using the embedded PostgreSQL that ${owner.command} (pid ${owner.pid}) runs on ${dataDir}`);
    await ensureDatabase(running.serverUrl, EMBEDDED_DATABASE_NAME);
    return running;
  }
  let embedded: EmbeddedDatabase | undefined;
  try {
    const orphan = findOrphanedPostmaster(dataDir);
    if (orphan) {
      await stopOrphanedPostmaster(orphan);
      log(
        `stopped the embedded PostgreSQL (pid ${orphan.pid}, port ${orphan.port}) that an earlier run left running in ${orphan.databaseDir} ` +
          `when it exited without stopping it; starting it afresh`,
      );
    }
    log(`starting embedded PostgreSQL in ${path.join(dataDir, 'pg')}`);
    embedded = await startEmbeddedDatabase({ dir: dataDir, persistent: true, supervision: 'server' in user ? user.server : undefined });
    await ensureDatabase(embedded.serverUrl, EMBEDDED_DATABASE_NAME);
  } catch (error) {
    await embedded?.stop();
    await claim.release();
    throw error;
  }
  const started = embedded;
  return {
    ...started,
    async stop() {
      await started.stop();
      await claim.release();
    },
  };
}

/**
 * How the server hears of its embedded PostgreSQL dying under it: each event logged, each restart counted, and when it
 * cannot be restarted, `lost`: the server stops rather than answer 503 until someone notices.
 */
export function loggedSupervision(
  logger: Pick<BaseLogger, 'error' | 'warn' | 'fatal'>,
  countRestart: () => void,
  lost: (reason: string) => void,
): EmbeddedDatabaseSupervision {
  return {
    exited: ({ pid, code, signal }) =>
      logger.error({ postgresPid: pid, code, signal }, 'embedded PostgreSQL exited unexpectedly: restarting it'),
    restarted: ({ pid, downMs, attempts }) => {
      countRestart();
      logger.warn({ postgresPid: pid, downMs, attempts }, 'embedded PostgreSQL restarted');
    },
    gaveUp: (reason) => {
      logger.fatal({ reason }, 'embedded PostgreSQL cannot be restarted: stopping the server');
      lost(reason);
    },
  };
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

/** Applies pending migrations; resolves to their names. */
export function migrateDatabase(url: string, config: Pick<AppConfig, 'db'>): Promise<string[]> {
  return withMigrator(url, config, async (migrator) => (await migrator.up()).map((migration) => migration.name));
}

/** The migrator on a connection of its own, with a statement timeout long enough for index builds. */
async function withMigrator<T>(
  url: string,
  config: Pick<AppConfig, 'db'>,
  work: (migrator: ReturnType<MikroORM['getMigrator']>) => Promise<T>,
): Promise<T> {
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
    return await work(orm.getMigrator());
  } finally {
    await orm.close(true);
  }
}

/** Rolling back the baseline drops tables that existed before Tessera, with their rows: refused unless asked for. */
export class BaselineRollbackRefused extends Error {
  constructor() {
    super(
      `${BASELINE_MIGRATION} is the baseline: rolling it back drops the pre-existing ml_experiments and users tables and every row ` +
        `in them. Nothing was rolled back; add --drop-baseline to do it anyway`,
    );
    this.name = 'BaselineRollbackRefused';
  }
}

/** Rolls back the last migration applied; resolves to its name, or undefined when none is. */
export function rollBackLastMigration(
  url: string,
  config: Pick<AppConfig, 'db'>,
  options: { dropBaseline: boolean },
): Promise<string | undefined> {
  return withMigrator(url, config, async (migrator) => {
    const last = (await migrator.getExecutedMigrations()).at(-1)?.name;
    if (last === undefined) return undefined;
    if (last === BASELINE_MIGRATION && !options.dropBaseline) throw new BaselineRollbackRefused();
    const [reverted] = await migrator.down();
    return reverted?.name;
  });
}
