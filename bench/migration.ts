import { setTimeout as sleep } from 'node:timers/promises';
import { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import { createOrmConfig } from '../mikro-orm.config';
import { dropDatabase, recreateDatabase, withClient } from './cluster';
import { BENCH_DB_CONFIG, type Generated } from './generate';
import type { Mode } from './options';

export interface LockSpan {
  mode: string;
  /** Time between the first and the last sample that saw the lock held: it was held at least this long. */
  atLeastMs: number;
  /** Time between the samples that saw it free before and after: it was held at most this long. */
  atMostMs: number;
}

export interface MigrationResult {
  experiments: number;
  tableBytes: number;
  migrations: Array<{ name: string; ms: number }>;
  totalMs: number;
  /** The longest continuous span each lock mode on ml_experiments was seen held, longest first. */
  locks: LockSpan[];
  longestAccessExclusive: LockSpan | null;
  /** Longest span in which some session waited for a lock on ml_experiments (traffic would queue meanwhile). */
  longestWaitMs: number;
  sampler: { samples: number; medianIntervalMs: number; maxIntervalMs: number };
  /**
   * Every statement the migrator sent, timed from send to answer. Outside a transaction a statement holds its locks
   * for exactly its own duration, so this bounds the lock of each DDL statement more finely than sampling can.
   */
  statements: Array<{ sql: string; ms: number }>;
  relfilenodeBefore: number;
  relfilenodeAfter: number;
  rewritten: boolean;
  /** Index files of ml_experiments that existed before and were rebuilt (should be none). */
  rebuiltIndexes: string[];
  invalidIndexes: string[];
}

/**
 * Samples the locks held on one relation from a connection of its own, every `intervalMs`, and keeps, per lock mode,
 * the longest continuous span it was seen held.
 */
class LockSampler {
  private readonly client: Client;
  private stopped = false;
  private loop?: Promise<void>;
  private readonly open = new Map<string, { firstSeen: number; lastSeen: number; freeBefore: number }>();
  private readonly longest = new Map<string, LockSpan>();
  private lastSampleAt = 0;
  private waitStarted: number | null = null;
  longestWaitMs = 0;
  private readonly intervals: number[] = [];

  constructor(
    url: string,
    private readonly relation: number,
    private readonly intervalMs = 2,
  ) {
    this.client = new Client({ connectionString: url, application_name: 'bench-lock-sampler' });
  }

  async start(): Promise<void> {
    await this.client.connect();
    await this.client.query('set statement_timeout = 0');
    this.lastSampleAt = performance.now();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
    // Whatever is still held at the end ends with the run.
    this.record(new Set(), false, performance.now());
    await this.client.end();
  }

  get spans(): LockSpan[] {
    return [...this.longest.values()].sort((a, b) => b.atMostMs - a.atMostMs);
  }

  get samplerStats() {
    const sorted = [...this.intervals].sort((a, b) => a - b);
    return {
      samples: sorted.length,
      medianIntervalMs: round(sorted[Math.floor(sorted.length / 2)] ?? 0),
      maxIntervalMs: round(sorted[sorted.length - 1] ?? 0),
    };
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const sent = performance.now();
      const { rows } = await this.client.query<{ mode: string; granted: boolean }>(
        `select mode, granted from pg_locks
         where locktype = 'relation' and relation = $1 and pid <> pg_backend_pid()
           and database = (select oid from pg_database where datname = current_database())`,
        [this.relation],
      );
      const at = (sent + performance.now()) / 2;
      this.intervals.push(at - this.lastSampleAt);
      this.record(
        new Set(rows.filter((row) => row.granted).map((row) => row.mode)),
        rows.some((row) => !row.granted),
        at,
      );
      await sleep(this.intervalMs);
    }
  }

  private record(held: Set<string>, waiting: boolean, at: number): void {
    for (const mode of held) {
      const span = this.open.get(mode);
      if (span) span.lastSeen = at;
      else this.open.set(mode, { firstSeen: at, lastSeen: at, freeBefore: this.lastSampleAt });
    }
    for (const [mode, span] of this.open) {
      if (held.has(mode)) continue;
      this.open.delete(mode);
      const closed = { mode, atLeastMs: round(span.lastSeen - span.firstSeen), atMostMs: round(at - span.freeBefore) };
      const best = this.longest.get(mode);
      if (!best || closed.atMostMs > best.atMostMs) this.longest.set(mode, closed);
    }
    if (waiting && this.waitStarted === null) this.waitStarted = this.lastSampleAt;
    if (!waiting && this.waitStarted !== null) {
      this.longestWaitMs = Math.max(this.longestWaitMs, round(at - this.waitStarted));
      this.waitStarted = null;
    }
    this.lastSampleAt = at;
  }
}

const round = (value: number) => Math.round(value * 10) / 10;

async function relationFiles(url: string) {
  return withClient(url, async (client) => {
    const table = await client.query<{ oid: number; filenode: number }>(
      `select oid::integer as oid, relfilenode::integer as filenode from pg_class where oid = 'ml_experiments'::regclass`,
    );
    const indexes = await client.query<{ name: string; filenode: number; valid: boolean }>(`
      select c.relname as name, c.relfilenode::integer as filenode, i.indisvalid and i.indisready as valid
      from pg_index i join pg_class c on c.oid = i.indexrelid
      where i.indrelid = 'ml_experiments'::regclass`);
    const size = await client.query<{ bytes: string; rows: string }>(
      `select pg_total_relation_size('ml_experiments') as bytes, (select count(*) from ml_experiments) as rows`,
    );
    return {
      oid: table.rows[0].oid,
      filenode: table.rows[0].filenode,
      indexes: indexes.rows,
      bytes: Number(size.rows[0].bytes),
      rows: Number(size.rows[0].rows),
    };
  });
}

/**
 * The deploy step against a copy of the baseline database: every migration after the baseline, run as
 * `migrateDatabase` runs them (same ORM configuration), timed one by one, while a second connection samples the
 * locks held on ml_experiments.
 */
export async function runMigrationBench(
  serverUrl: string,
  url: (database: string) => string,
  base: Generated,
  mode: Mode,
  log: (line: string) => void,
): Promise<MigrationResult> {
  const database = `tessera_bench_${mode}_migration_run`;
  const dbUrl = url(database);
  await recreateDatabase(serverUrl, database, base.database);
  const before = await relationFiles(dbUrl);
  log(`migrating a copy of ${base.database}: ${before.rows} experiments, ${(before.bytes / 2 ** 20).toFixed(0)} MB`);

  // As migrateDatabase (src/db/database.ts) configures it: its own small pool and a long statement timeout.
  const orm = await MikroORM.init(
    createOrmConfig({
      clientUrl: dbUrl,
      db: { ...BENCH_DB_CONFIG, poolMax: 2 },
      applicationName: 'tessera-migrate',
      statementTimeoutMs: 30 * 60_000,
    }),
  );
  const sampler = new LockSampler(dbUrl, before.oid);
  const statements: Array<{ sql: string; ms: number }> = [];
  const sent = new Map<string, number>();
  const knex = orm.em.getConnection().getKnex();
  knex.on('query', (query: { __knexQueryUid: string }) => sent.set(query.__knexQueryUid, performance.now()));
  knex.on('query-response', (_response: unknown, query: { __knexQueryUid: string; sql: string }) => {
    const at = sent.get(query.__knexQueryUid);
    if (at !== undefined) statements.push({ sql: query.sql.replace(/\s+/g, ' ').trim().slice(0, 160), ms: round(performance.now() - at) });
  });
  const migrations: Array<{ name: string; ms: number }> = [];
  let totalMs: number;
  try {
    const migrator = orm.getMigrator();
    let startedAt = 0;
    migrator.on('migrating', () => {
      startedAt = performance.now();
    });
    migrator.on('migrated', ({ name }) => {
      migrations.push({ name: name ?? '?', ms: round(performance.now() - startedAt) });
    });
    await sampler.start();
    const started = performance.now();
    await migrator.up();
    totalMs = round(performance.now() - started);
    await sampler.stop();
  } finally {
    await orm.close(true);
  }

  const after = await relationFiles(dbUrl);
  const beforeIndexes = new Map(before.indexes.map((index) => [index.name, index.filenode]));
  const result: MigrationResult = {
    experiments: before.rows,
    tableBytes: before.bytes,
    migrations,
    totalMs,
    locks: sampler.spans,
    longestAccessExclusive: sampler.spans.find((span) => span.mode === 'AccessExclusiveLock') ?? null,
    longestWaitMs: sampler.longestWaitMs,
    sampler: sampler.samplerStats,
    statements,
    relfilenodeBefore: before.filenode,
    relfilenodeAfter: after.filenode,
    rewritten: before.filenode !== after.filenode,
    rebuiltIndexes: after.indexes
      .filter((index) => beforeIndexes.has(index.name) && beforeIndexes.get(index.name) !== index.filenode)
      .map((index) => index.name),
    invalidIndexes: after.indexes.filter((index) => !index.valid).map((index) => index.name),
  };
  if (after.rows !== before.rows) throw new Error(`migration changed the number of experiments: ${before.rows} -> ${after.rows}`);
  // The migrated copy has served its purpose: its gigabytes go (the next run copies the baseline afresh).
  await dropDatabase(serverUrl, database);
  for (const migration of migrations) log(`  ${migration.name}: ${migration.ms} ms`);
  const exclusive = result.longestAccessExclusive ? `≤ ${result.longestAccessExclusive.atMostMs} ms` : 'never seen';
  log(`  total ${totalMs} ms; longest AccessExclusiveLock ${exclusive}; rewrite: ${result.rewritten ? 'YES' : 'no'}`);
  return result;
}
