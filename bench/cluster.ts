import { Client } from 'pg';
import { ensureDatabase, startEmbeddedDatabase, type EmbeddedDatabase } from '../src/db/embedded-database';

/**
 * The bench's own PostgreSQL cluster, kept under its own data directory so a generated data set survives for
 * `--reuse`. Memory settings are what a deployment on this machine (24 GB) would give PostgreSQL; planner costs and
 * durability stay at their defaults, so plans and write latencies are those of a stock server.
 */
export const BENCH_SETTINGS: Record<string, string> = {
  shared_buffers: '2GB',
  effective_cache_size: '12GB',
  work_mem: '16MB',
  maintenance_work_mem: '1GB',
  // Generation writes several GB: fewer, later checkpoints.
  max_wal_size: '16GB',
  checkpoint_timeout: '30min',
  max_connections: '100',
};

export async function startBenchCluster(dataDir: string, log: (line: string) => void): Promise<EmbeddedDatabase> {
  log(`bench cluster: ${dataDir}/pg`);
  return startEmbeddedDatabase({ dir: dataDir, persistent: true, settings: BENCH_SETTINGS });
}

export async function recreateDatabase(serverUrl: string, name: string, template?: string): Promise<void> {
  await dropDatabase(serverUrl, name);
  if (!template) return ensureDatabase(serverUrl, name);
  // FILE_COPY: a copy of a multi-GB database without writing it all to the WAL.
  await withClient(serverUrl, (client) => client.query(`create database "${name}" template "${template}" strategy file_copy`));
}

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  await withClient(serverUrl, (client) => client.query(`drop database if exists "${name}" with (force)`));
}

export async function databaseExists(serverUrl: string, name: string): Promise<boolean> {
  return withClient(serverUrl, async (client) => {
    const result = await client.query('select 1 from pg_database where datname = $1', [name]);
    return result.rowCount === 1;
  });
}

export async function withClient<T>(url: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Where the cluster's WAL is written up to now. */
export async function walPosition(client: Client): Promise<string> {
  const result = await client.query<{ lsn: string }>('select pg_current_wal_lsn()::text as lsn');
  return result.rows[0].lsn;
}

/** WAL bytes written since `position`, by every database of the cluster. */
export async function walBytesSince(client: Client, position: string): Promise<number> {
  const result = await client.query<{ bytes: string }>('select pg_wal_lsn_diff(pg_current_wal_lsn(), $1) as bytes', [position]);
  return Number(result.rows[0].bytes);
}
