import 'reflect-metadata';
import { ConfigError, loadConfig, loadDotEnv } from '../config';
import { openDatabase, migrateDatabase } from './database';

/**
 * `npm run migrate`: the deploy step that applies pending migrations to DATABASE_MIGRATION_URL, else DATABASE_URL (or
 * the embedded database).
 */
async function main(): Promise<void> {
  loadDotEnv();
  const config = loadConfig();
  if (config.db.pooler !== 'none' && !config.databaseMigrationUrl) {
    // CREATE INDEX CONCURRENTLY and the migrations' long statement timeout need a session of their own.
    throw new ConfigError([`DATABASE_MIGRATION_URL is required with DATABASE_POOLER=${config.db.pooler}: migrations connect directly`]);
  }
  const url = config.databaseMigrationUrl ?? config.databaseUrl;
  if (url) {
    const applied = await migrateDatabase(url, config);
    process.stdout.write(applied.length ? `Applied: ${applied.join(', ')}\n` : 'Nothing to migrate.\n');
    return;
  }
  // The embedded database migrates itself when opened.
  const database = await openDatabase(config, (message) => process.stdout.write(`${message}\n`));
  await database.close();
}

main().catch((error) => {
  process.stderr.write(`${error instanceof ConfigError ? error.message : error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
