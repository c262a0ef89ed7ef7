import 'reflect-metadata';
import { ConfigError, loadConfig, loadDotEnv } from '../config';
import { openDatabase, migrateDatabase } from './database';

/** `npm run migrate`: the deploy step that applies pending migrations to DATABASE_URL (or the embedded database). */
async function main(): Promise<void> {
  loadDotEnv();
  const config = loadConfig();
  if (config.databaseUrl) {
    const applied = await migrateDatabase(config.databaseUrl, config);
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
