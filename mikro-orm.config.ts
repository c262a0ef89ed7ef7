import { defineConfig, type Options } from '@mikro-orm/postgresql';
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

export function createOrmConfig(options: OrmOptions): Options {
  const statementTimeoutMs = options.statementTimeoutMs ?? options.db.statementTimeoutMs;
  return defineConfig({
    clientUrl: options.clientUrl,
    entities,
    extensions: [Migrator],
    discovery: { disableDynamicFileAccess: true, requireEntitiesArray: true },
    // Every request forks its own EntityManager; the global one must never be used by accident.
    allowGlobalContext: false,
    debug: options.debug ?? false,
    pool: {
      min: 0,
      max: options.db.poolMax,
      acquireTimeoutMillis: options.db.acquireTimeoutMs,
      idleTimeoutMillis: 30_000,
    },
    driverOptions: {
      connection: {
        application_name: options.applicationName ?? 'tessera',
        connectionTimeoutMillis: options.db.connectTimeoutMs,
        // Session settings travel with every pooled connection, so no statement can escape them.
        statement_timeout: statementTimeoutMs,
        // node-postgres' client-side deadline: fails the query (and frees its request) when the server never answers.
        query_timeout: statementTimeoutMs + CLIENT_QUERY_DEADLINE_SLACK_MS,
        lock_timeout: options.db.lockTimeoutMs,
        idle_in_transaction_session_timeout: 60_000,
      },
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
