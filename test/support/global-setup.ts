import { execFileSync } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../../src/db/embedded-database';
import { migrateDatabase } from '../../src/db/database';
import { TEST_DB_CONFIG, TEMPLATE_DATABASE } from './test-database-config';

declare global {
  var __tesseraTestDatabase: EmbeddedDatabase | undefined;

  var __tesseraTestDatabaseDir: string | undefined;
}

/**
 * One throwaway PostgreSQL for the whole run (or the server named by TEST_DATABASE_URL), holding a migrated template
 * database that every test file copies into a database of its own.
 */
export default async function globalSetup(): Promise<void> {
  // Tests that run the server as a process of its own (npm start, faults) need dist/ current; compiled only when stale.
  execFileSync(process.execPath, ['scripts/build-if-stale.mjs'], { cwd: path.resolve(__dirname, '../..'), stdio: 'inherit' });
  let serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-test-'));
    const embedded = await startEmbeddedDatabase({
      dir,
      persistent: false,
      // Durability is worthless for a database thrown away after the run.
      settings: { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off', max_connections: '300' },
    });
    globalThis.__tesseraTestDatabase = embedded;
    globalThis.__tesseraTestDatabaseDir = dir;
    serverUrl = embedded.serverUrl;
  }
  process.env.TESSERA_TEST_SERVER_URL = serverUrl;

  const admin = new Client({ connectionString: serverUrl });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${TEMPLATE_DATABASE} with (force)`);
    await admin.query(`create database ${TEMPLATE_DATABASE}`);
  } finally {
    await admin.end();
  }
  const templateUrl = new URL(serverUrl);
  templateUrl.pathname = `/${TEMPLATE_DATABASE}`;
  await migrateDatabase(templateUrl.toString(), { db: TEST_DB_CONFIG });
  // MikroORM keeps decorator metadata on globalThis; a test run in band would otherwise see this realm's copy.
  for (const key of Object.keys(globalThis).filter((k) => k.startsWith('mikro-orm-'))) {
    delete (globalThis as Record<string, unknown>)[key];
  }
}
