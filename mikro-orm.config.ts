import { defineConfig, type Configuration, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { migrationsList } from './migrations';
import { entities } from './src/db/entities';
import type { AppConfig } from './src/config';

export interface OrmOptions {
  clientUrl: string;
  db: AppConfig['db'];
  applicationName?: string;
  /** Migrations build indexes on large tables: they get their own, longer statement timeout. */
  statementTimeoutMs?: number;
  debug?: boolean;
}

/**
 * How long the client waits for an answer beyond the statement timeout before it gives up on its own. PostgreSQL
 * enforces `statement_timeout` itself, but a database that stopped answering (frozen, or cut off by the network)
 * cannot: without this deadline a query on an open connection waits forever, and so does its request.
 */
export const CLIENT_QUERY_DEADLINE_SLACK_MS = 1_000;

export const IDLE_IN_TRANSACTION_TIMEOUT_MS = 60_000;

/** The server-side timeouts every statement runs under, in milliseconds, by PostgreSQL's names for them. */
export function sessionTimeouts(db: AppConfig['db'], statementTimeoutMs = db.statementTimeoutMs) {
  return {
    statement_timeout: statementTimeoutMs,
    lock_timeout: db.lockTimeoutMs,
    idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_TIMEOUT_MS,
  };
}

/**
 * Whether connections of this ORM may keep named prepared statements (`Sql` prepares each text once per connection).
 * Behind PgBouncer in transaction mode they may not: a statement prepared through one client connection would be
 * looked for on whichever server connection runs the next one. PgBouncer 1.21 and later can track them
 * (`max_prepared_statements`); Debian 12 ships 1.18, so Tessera does not rely on it.
 */
export function keepsNamedStatements(config: Configuration): boolean {
  const driverOptions: { namedStatements?: boolean } = config.get('driverOptions');
  return driverOptions.namedStatements !== false;
}

/** The pool of connections to one server (the primary, or each replica), per process. */
export function poolSettings(db: AppConfig['db']) {
  return { min: 0, max: db.poolMax, acquireTimeoutMillis: db.acquireTimeoutMs, idleTimeoutMillis: 30_000 };
}

/** How every connection is opened, to the primary or to a replica: the same timeouts and client-side deadline. */
export function connectionSettings(options: Omit<OrmOptions, 'clientUrl'>) {
  const statementTimeoutMs = options.statementTimeoutMs ?? options.db.statementTimeoutMs;
  const direct = options.db.pooler === 'none';
  return {
    application_name: options.applicationName ?? 'tessera',
    connectionTimeoutMillis: options.db.connectTimeoutMs,
    // Connected directly, the timeouts travel as start-up parameters of every connection, so no statement can
    // escape them. PgBouncer refuses those parameters: behind it they are the role's defaults in the database,
    // which PostgreSQL applies to every server connection PgBouncer opens, checked when the server starts
    // (`checkPoolerTimeouts` in src/db/database.ts).
    ...(direct ? sessionTimeouts(options.db, statementTimeoutMs) : {}),
    // node-postgres' client-side deadline: fails the query (and frees its request) when the server never answers.
    query_timeout: statementTimeoutMs + CLIENT_QUERY_DEADLINE_SLACK_MS,
  };
}

export function createOrmConfig(options: OrmOptions): Options {
  const direct = options.db.pooler === 'none';
  return defineConfig({
    clientUrl: options.clientUrl,
    entities,
    extensions: [Migrator],
    discovery: { disableDynamicFileAccess: true, requireEntitiesArray: true },
    // Every request forks its own EntityManager; the global one must never be used by accident.
    allowGlobalContext: false,
    debug: options.debug ?? false,
    pool: poolSettings(options.db),
    driverOptions: {
      namedStatements: direct,
      connection: connectionSettings(options),
    },
    migrations: {
      migrationsList,
      tableName: 'mikro_orm_migrations',
      // One transaction per migration, not one around all of them: CREATE INDEX CONCURRENTLY would wait on it forever.
      transactional: true,
      allOrNothing: false,
      disableForeignKeys: false,
      snapshot: false,
      silent: true,
      emit: 'ts',
      path: 'migrations',
    },
  });
}
