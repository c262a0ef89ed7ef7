import { randomBytes } from 'node:crypto';
import { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { createOrmConfig } from '../../mikro-orm.config';
import type { AppConfig } from '../../src/config';
import { TEMPLATE_DATABASE, TEST_DB_CONFIG } from './test-database-config';

export interface TestDatabase {
  name: string;
  url: string;
  /** Runs SQL on a connection of its own, outside any ORM. */
  query<T extends Record<string, unknown> = Record<string, any>>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/** The test cluster's maintenance database, as the global setup started it. */
export function serverUrl(): string {
  const url = process.env.TESSERA_TEST_SERVER_URL;
  if (!url) throw new Error('TESSERA_TEST_SERVER_URL is not set: run the tests through jest (global setup)');
  return url;
}

function urlOf(database: string): string {
  const url = new URL(serverUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

async function onServer<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: serverUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A database of its own for one test file: a copy of the migrated template, or empty. */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = `tessera_test_${randomBytes(6).toString('hex')}`;
  await onServer((client) => client.query(`create database ${name}${options.empty ? '' : ` template ${TEMPLATE_DATABASE}`}`));
  const url = urlOf(name);
  const pool = new Client({ connectionString: url });
  await pool.connect();
  return {
    name,
    url,
    async query(sql, params) {
      const result = await pool.query(sql, params as unknown[]);
      return result.rows;
    },
    async drop() {
      await pool.end();
      await onServer((client) => client.query(`drop database if exists ${name} with (force)`));
    },
  };
}

export async function openTestOrm(database: TestDatabase, db: Partial<AppConfig['db']> = {}): Promise<MikroORM> {
  return MikroORM.init(createOrmConfig({ clientUrl: database.url, db: { ...TEST_DB_CONFIG, ...db } }));
}
