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

export function createOrmConfig(options: OrmOptions): Options {
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
        statement_timeout: options.statementTimeoutMs ?? options.db.statementTimeoutMs,
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
