import 'reflect-metadata';
import { ConfigError, loadConfig, loadDotEnv } from '../config';
import { describeFailure } from '../failure-cause';
import { BaselineRollbackRefused, embeddedDatabase, embeddedDatabaseUrl, migrateDatabase, rollBackLastMigration } from './database';

const USAGE = 'usage: npm run migrate [-- down [--drop-baseline]]';

class UsageError extends Error {}

/**
 * `npm run migrate`: the deploy step that applies pending migrations to DATABASE_MIGRATION_URL, else DATABASE_URL, else
 * the embedded database (the running server's, when one runs). `-- down` rolls back the last one applied, but not the
 * baseline unless `--drop-baseline` says so.
 */
async function main(): Promise<void> {
  const [direction = 'up', ...flags] = process.argv.slice(2);
  const dropBaseline = flags.includes('--drop-baseline');
  if (!['up', 'down'].includes(direction) || flags.some((flag) => flag !== '--drop-baseline') || (direction === 'up' && dropBaseline)) {
    throw new UsageError(USAGE);
  }
  loadDotEnv();
  const config = loadConfig();
  if (config.db.pooler !== 'none' && !config.databaseMigrationUrl) {
    // CREATE INDEX CONCURRENTLY and the migrations' long statement timeout need a session of their own.
    throw new ConfigError([`DATABASE_MIGRATION_URL is required with DATABASE_POOLER=${config.db.pooler}: migrations connect directly`]);
  }
  const configuredUrl = config.databaseMigrationUrl ?? config.databaseUrl;
  const embedded = configuredUrl
    ? undefined
    : await embeddedDatabase(config.dataDir, (message) => process.stdout.write(`${message}\n`), { command: 'npm run migrate' });
  try {
    const url = configuredUrl ?? embeddedDatabaseUrl(embedded!);
    if (direction === 'up') {
      const applied = await migrateDatabase(url, config);
      process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'Nothing to migrate.\n');
    } else {
      const reverted = await rollBackLastMigration(url, config, { dropBaseline });
      process.stdout.write(reverted ? `Rolled back: ${reverted}\n` : 'Nothing to roll back.\n');
    }
  } finally {
    await embedded?.stop();
  }
}

main().catch((error: unknown) => {
  // Refusals are whole sentences already.
  const refusal = error instanceof ConfigError || error instanceof UsageError || error instanceof BaselineRollbackRefused;
  process.stderr.write(`${refusal ? error.message : `npm run migrate failed: ${describeFailure(error)}`}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
