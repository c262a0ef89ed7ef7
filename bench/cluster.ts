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

/** A connection to the cluster that reads its WAL records, kept in the maintenance database, not in a data set. */
export async function walReader(clusterUrl: string): Promise<Client> {
  const client = new Client({ connectionString: clusterUrl, application_name: 'bench-wal' });
  await client.connect();
  try {
    await client.query('create extension if not exists pg_walinspect');
  } catch (error) {
    await client.end();
    throw error;
  }
  return client;
}

export interface WalWritten {
  bytes: number;
  /** Bytes by kind of record, largest first: `Heap2/PRUNE_ON_ACCESS` is pruning by a backend that read a page. */
  byRecord: Record<string, number>;
}

/** The WAL every database of the cluster wrote between two positions, with the kinds of records it holds. */
export async function walWritten(client: Client, start: string, end: string): Promise<WalWritten> {
  const diff = await client.query<{ bytes: string }>('select pg_wal_lsn_diff($2, $1) as bytes', [start, end]);
  const bytes = Number(diff.rows[0].bytes);
  if (bytes === 0) return { bytes, byRecord: {} };
  const records = await client.query<{ kind: string; bytes: string }>(
    `select "resource_manager/record_type" as kind, combined_size as bytes from pg_get_wal_stats($1, $2, true)
     where count > 0 order by combined_size desc`,
    [start, end],
  );
  return { bytes, byRecord: Object.fromEntries(records.rows.map((row) => [row.kind, Number(row.bytes)])) };
}
