import { fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { runBareSql } from './bare-sql';
import { walPosition, walReader, walWritten, withClient, type WalWritten } from './cluster';
import { machineBusyMs, processTreeCpuMs, processCpuMs } from './cpu';
import { explainOperation, type ExplainResult } from './explain';
import { countTemplateUsage } from './generate';
import type { LoadFigures, LoadJob } from './load-worker';
import { mib, vmHwmMiB, watchRss } from './memory';
import { startBenchServer, type BenchServer, type Stages } from './server';
import { headersOf, withCounter, type RequestSpec } from './request-spec';
import { labelOf, LOAD_CHANGE_NOTE_PREFIX, LOAD_NAME_PREFIX, requestOf, type CostCase, type Operation } from './workload';

export interface OperationResult {
  operation: string;
  costCase?: CostCase;
  kind: 'read' | 'write';
  page: boolean;
  graphql: LoadFigures;
  statementsPerRequest: number;
  /** Stages of statements (a stage: sent before any earlier one was answered), each variant sent alone, on average. */
  roundTripsPerRequest: number;
  /** WAL the cluster wrote during the GraphQL run, per request: 0 for a read that writes nothing. */
  walBytesPerRequest: number;
  wal: WalWritten;
  /** The server process's peak resident set during the GraphQL run. */
  peakRssMiB: number;
  bare?: LoadFigures;
  /** GraphQL throughput / bare `pg` throughput running the same statements. */
  ratio?: number;
  /**
   * How busy the machine's cores were during the GraphQL run (100% = every core), and the part of it that was neither
   * the server, PostgreSQL nor the load generator: other work on the machine, which makes the figures pessimistic.
   */
  machine?: { busyPercent: number; othersPercent: number };
}

export interface PageSizeCheck {
  operation: string;
  /** Statements of one request by page size. */
  statements: Record<string, number>;
  /** No statement per row: the counts differ by at most the two loaders that run only for the caller's own templates. */
  constant: boolean;
}

export interface ServerResult {
  explain: ExplainResult[];
  pageSizes: PageSizeCheck[];
  operations: OperationResult[];
  /** The server process's peak resident set during the GraphQL runs (not the bare `pg` runs it also hosts). */
  peakRssMiB: number;
  /** VmHWM: the process's peak resident set over its whole life (generation and EXPLAIN included). */
  vmHwmMiB: number;
  serverProblems: string[];
  soak?: SoakResult;
}

export interface SoakResult {
  operation: string;
  costCase?: CostCase;
  seconds: number;
  requests: number;
  requestsPerSecond: number;
  failed: number;
  sampleError?: string;
  /** The server process's resident set when the soak started and ended, the growth between them, the peak. */
  rssMiB: { start: number; end: number; growth: number; peak: number };
  heapUsedMiB: { start: number; end: number };
  /** A sample every tenth of the soak: a steady climb tells a leak from a one-off step. */
  rssTimelineMiB: number[];
}

export interface ServerBenchOptions {
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** Variants of each operation whose statements are EXPLAINed. */
  explainVariants: number;
  phases: { explain: boolean; http: boolean };
  bare: boolean;
  /** Seconds of the soak after the other phases (0: none). */
  soakSeconds: number;
  /** The bench cluster's maintenance database: WAL positions and records are the cluster's, not one database's. */
  clusterUrl: string;
  /** The bench cluster's postmaster, whose processes' CPU time is counted per request. */
  postmaster: number;
  log: (line: string) => void;
}

async function post(server: BenchServer, spec: RequestSpec, body: string): Promise<{ status: number; text: string }> {
  const response = await fetch(server.url, { method: 'POST', headers: headersOf(spec), body });
  return { status: response.status, text: await response.text() };
}

/**
 * Sends one variant alone and records the statements it caused; fails on any error, which would void the figures. A
 * read is sent once unrecorded first, as under load: its caller is then known to the process (a caller's first
 * request reads its user row, once per process).
 */
async function captureVariant(
  server: BenchServer,
  operation: Operation,
  index: number,
  override?: Record<string, unknown>,
): Promise<Stages> {
  const variant = operation.variants[index % operation.variants.length];
  const spec = requestOf(operation, { ...variant, variables: { ...variant.variables, ...override } });
  let response: { status: number; text: string } | undefined;
  if (operation.kind === 'read') await post(server, spec, withCounter(spec.body, 1_000_000_000 + index));
  const { trips: stages } = await server.recorder.capture(async () => {
    response = await post(server, spec, withCounter(spec.body, 1_000_000_000 + index));
  });
  if (response!.status !== 200 || response!.text.includes('"errors":[')) {
    const logged = server.problems.slice(-3).join('');
    throw new Error(`${operation.name} failed: ${response!.status} ${response!.text.slice(0, 1000)}\nserver log:\n${logged}`);
  }
  return stages;
}

export function runLoad(job: LoadJob): Promise<LoadFigures> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'load-worker.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    child.once('message', (figures) => resolve(figures as LoadFigures));
    child.once('exit', (code) => (code === 0 ? undefined : reject(new Error(`load generator exited with ${code}`))));
    child.send(job);
  });
}

/**
 * Starts the real server on the data set, then: EXPLAIN of every statement the read operations send, the page-size
 * check, and for each operation an autocannon run (plus the same SQL through bare `pg` for reads).
 */
export async function runServerBench(databaseUrl: string, operations: Operation[], options: ServerBenchOptions): Promise<ServerResult> {
  const { log } = options;
  log('VACUUM (ANALYZE) of the data set before the load');
  await vacuumDataSet(databaseUrl);
  const server = await startBenchServer(databaseUrl);
  const wal = await walReader(options.clusterUrl);
  const runStarted = new Date();
  let counterStart = Date.now() % 1_000_000_000;
  // Each load run counts from a fresh start, so created names and changed configurations never repeat.
  const load = (operation: Operation, durationSeconds: number): Promise<LoadFigures> => {
    counterStart += 10_000_000;
    const requests = operation.variants.map((variant) => requestOf(operation, variant));
    return runLoad({ url: server.url, connections: options.connections, durationSeconds, requests, counterStart });
  };
  const result: ServerResult = { explain: [], pageSizes: [], operations: [], peakRssMiB: 0, vmHwmMiB: 0, serverProblems: [] };
  try {
    const reads = operations.filter((operation) => operation.kind === 'read');

    if (options.phases.explain) {
      log('EXPLAIN (ANALYZE, BUFFERS) of the statements each read sends');
      for (const operation of reads) {
        const captured: Stages[] = [];
        for (let i = 0; i < Math.min(options.explainVariants, operation.variants.length); i += 1) {
          captured.push(await captureVariant(server, operation, i));
        }
        const explained = await explainOperation(databaseUrl, operation.name, captured);
        result.explain.push(explained);
        const slowest = Math.max(...explained.statements.map((statement) => statement.executionMs));
        const scans = explained.seqScans.map((scan) => `${scan.table} (${scan.rowsRead} rows)`).join(', ');
        log(`  ${operation.name}: slowest statement ${slowest.toFixed(2)} ms${scans ? `; SEQ SCAN on ${scans}` : ''}`);
      }
      for (const operation of reads.filter((candidate) => candidate.pageSizeVariable)) {
        const statements: Record<string, number> = {};
        for (const first of [1, 20, 100]) {
          const stages = await captureVariant(server, operation, 0, { [operation.pageSizeVariable!]: first });
          statements[first] = stages.flat().length;
        }
        const counts = Object.values(statements);
        // Bounded, not identical: the shares loader (and its users) only runs when the page holds the caller's own
        // templates, which a page of 1 may not. Per-row loading would add a statement per row instead.
        result.pageSizes.push({ operation: operation.name, statements, constant: Math.max(...counts) - Math.min(...counts) <= 2 });
      }
    }

    if (options.phases.http) {
      for (const operation of operations) {
        // Every variant once, alone: a broken request fails the bench here rather than hiding in an error count.
        const variants: Stages[] = [];
        for (let i = 0; i < operation.variants.length; i += 1) variants.push(await captureVariant(server, operation, i));
        const roundTrips = variants.reduce((sum, stages) => sum + stages.length, 0) / variants.length;

        if (options.warmupSeconds > 0) await load(operation, options.warmupSeconds);
        const walBefore = await walPosition(wal);
        const before = {
          statements: server.recorder.count,
          server: processCpuMs(),
          postgres: processTreeCpuMs(options.postmaster),
          machine: machineBusyMs(),
          at: performance.now(),
        };
        const rss = watchRss();
        const graphql = await load(operation, options.durationSeconds);
        const peakRss = rss.stop().peak;
        const statements = server.recorder.count - before.statements;
        const written = await walWritten(wal, walBefore, await walPosition(wal));
        const perRequest = (total: number) => Math.round((total / Math.max(1, graphql.requests)) * 100) / 100;
        const used = {
          server: processCpuMs() - before.server,
          postgres: processTreeCpuMs(options.postmaster) - before.postgres,
          machine: machineBusyMs() - before.machine,
          available: (performance.now() - before.at) * os.cpus().length,
        };
        graphql.cpuMsPerRequest = { ...graphql.cpuMsPerRequest, server: perRequest(used.server), postgres: perRequest(used.postgres) };
        const client = (graphql.cpuMsPerRequest.client ?? 0) * graphql.requests;
        const machine = {
          busyPercent: Math.round((100 * used.machine) / used.available),
          othersPercent: Math.max(0, Math.round((100 * (used.machine - used.server - used.postgres - client)) / used.available)),
        };
        const entry: OperationResult = {
          operation: operation.name,
          costCase: operation.costCase,
          kind: operation.kind,
          page: operation.page,
          graphql,
          statementsPerRequest: Math.round((statements / Math.max(1, graphql.requests)) * 100) / 100,
          roundTripsPerRequest: Math.round(roundTrips * 100) / 100,
          walBytesPerRequest: perRequest(written.bytes),
          wal: written,
          peakRssMiB: mib(peakRss),
          machine,
        };
        if (operation.kind === 'read' && options.bare) {
          entry.bare = await runBareSql(
            databaseUrl,
            variants,
            options.connections,
            options.durationSeconds,
            server.poolMax,
            options.postmaster,
          );
          entry.ratio = Math.round((graphql.requestsPerSecond / entry.bare.requestsPerSecond) * 100) / 100;
        }
        result.operations.push(entry);
        log(
          `  ${labelOf(operation.name, operation.costCase)}: ${graphql.requestsPerSecond} req/s, p50 ${graphql.p50Ms} ms, p99 ${graphql.p99Ms} ms, ` +
            `${graphql.non2xx + graphql.errors + graphql.graphqlErrors} errors, ${entry.statementsPerRequest} statements/request, ` +
            `${entry.roundTripsPerRequest} round trips/request, ${entry.walBytesPerRequest} WAL bytes/request, peak RSS ${entry.peakRssMiB} MiB` +
            `; machine ${machine.busyPercent}% busy (others ${machine.othersPercent}%)` +
            `; CPU ms/request server ${graphql.cpuMsPerRequest.server}, postgres ${graphql.cpuMsPerRequest.postgres}, load generator ${graphql.cpuMsPerRequest.client}` +
            (entry.bare
              ? `; bare pg ${entry.bare.requestsPerSecond} req/s (ratio ${entry.ratio}; CPU ms/request driver ${entry.bare.cpuMsPerRequest?.client}, postgres ${entry.bare.cpuMsPerRequest?.postgres})`
              : ''),
        );
        if (graphql.sampleError) log(`    first error: ${graphql.sampleError}`);
      }
      await removeLoadRows(databaseUrl, operations, runStarted);
    }

    if (options.soakSeconds > 0) {
      const operation = reads[0];
      if (!operation) throw new Error('the soak needs a read operation');
      log(`soak: ${labelOf(operation.name, operation.costCase)} for ${options.soakSeconds} s`);
      if (options.warmupSeconds > 0) await load(operation, options.warmupSeconds);
      result.soak = await soak(operation, options.soakSeconds, (seconds) => load(operation, seconds));
      const { rssMiB, heapUsedMiB } = result.soak;
      log(
        `  ${result.soak.requestsPerSecond} req/s, ${result.soak.failed} failed; RSS ${rssMiB.start} → ${rssMiB.end} MiB ` +
          `(growth ${rssMiB.growth}, peak ${rssMiB.peak}); heap used ${heapUsedMiB.start} → ${heapUsedMiB.end} MiB; ` +
          `RSS every tenth: ${result.soak.rssTimelineMiB.join(', ')} MiB`,
      );
    }
  } finally {
    result.peakRssMiB = Math.max(0, ...result.operations.map((entry) => entry.peakRssMiB));
    result.vmHwmMiB = vmHwmMiB();
    result.serverProblems = server.problems.slice(0, 20);
    await wal.end();
    await server.stop();
  }
  return result;
}

/**
 * One read operation under load for a long run, for memory that grows with the requests served: the server's
 * resident set when it starts and ends (after a warm-up), its peak, and a sample every tenth of the run.
 */
async function soak(operation: Operation, seconds: number, run: (seconds: number) => Promise<LoadFigures>): Promise<SoakResult> {
  const start = process.memoryUsage();
  const rss = watchRss((seconds * 1000) / 10);
  const figures = await run(seconds);
  const { peak, timeline } = rss.stop();
  const end = process.memoryUsage();
  return {
    operation: operation.name,
    costCase: operation.costCase,
    seconds: figures.seconds,
    requests: figures.requests,
    requestsPerSecond: figures.requestsPerSecond,
    failed: figures.non2xx + figures.errors + figures.graphqlErrors,
    sampleError: figures.sampleError,
    rssMiB: { start: mib(start.rss), end: mib(end.rss), growth: mib(end.rss - start.rss), peak: mib(peak) },
    heapUsedMiB: { start: mib(start.heapUsed), end: mib(end.heapUsed) },
    rssTimelineMiB: timeline.map(mib),
  };
}

/**
 * Rows written by an earlier write phase would otherwise be vacuumed (and their GIN entries merged) by autovacuum in
 * the middle of a read phase, or their dead index entries walked by the pages ordered newest first, and that phase's
 * WAL and CPU figures would carry the work.
 */
export async function vacuumDataSet(databaseUrl: string): Promise<void> {
  await withClient(databaseUrl, async (client) => {
    // The role's own timeouts, set for the PgBouncer runs of the scale phase, are for requests, not for this.
    await client.query('set statement_timeout = 0');
    await client.query('vacuum (analyze)');
  });
}

/**
 * What the load wrote goes again, so that a reused data set keeps its size and its shape: the templates and
 * experiments it created; the versions it added to existing templates, whose content, version and update time go back
 * to their last version before (or every later run would read longer histories and find those templates newest); the
 * usage counts, daily usage and TRENDING counts its experiments raised, counted again from the experiments left; and its
 * audit events.
 */
export async function removeLoadRows(databaseUrl: string, operations: Operation[], since: Date): Promise<void> {
  const emails = [...new Set(operations.flatMap((operation) => operation.variants.flatMap((variant) => variant.caller?.email ?? [])))];
  await withClient(databaseUrl, async (client) => {
    await client.query('set statement_timeout = 0');
    const owners = `(select id from users where email = any($1))`;
    const used = await client.query<{ template_id: string }>(
      `delete from ml_experiments where owner_id in ${owners} and created_at >= $2 and name like $3 returning template_id`,
      [emails, since, `${LOAD_NAME_PREFIX}%`],
    );
    await client.query(`delete from experiment_templates where created_by in ${owners} and created_at >= $2 and name like $3`, [
      emails,
      since,
      `${LOAD_NAME_PREFIX}%`,
    ]);
    // Versions and audit events are append-only to everyone else; as the bench cluster's superuser, this session skips
    // the triggers that refuse changing them.
    await client.query('set session_replication_role = replica');
    const changed = await client.query<{ template_id: string }>(
      `delete from experiment_template_versions where created_by in ${owners} and change_note like $2 returning template_id`,
      [emails, `${LOAD_CHANGE_NOTE_PREFIX}%`],
    );
    const changedIds = [...new Set(changed.rows.map((row) => row.template_id))];
    if (changedIds.length > 0) {
      await client.query(
        `update experiment_templates t
         set name = last.name, description = last.description, category = last.category, tags = last.tags,
             configuration = last.configuration, configuration_schema_version = last.configuration_schema_version,
             version = last.version, updated_at = last.created_at
         from unnest($1::uuid[]) as changed(id)
         cross join lateral (
           select * from experiment_template_versions v where v.template_id = changed.id order by v.version desc limit 1
         ) last
         where t.id = changed.id`,
        [changedIds],
      );
    }
    const usedIds = [...new Set(used.rows.flatMap((row) => row.template_id ?? []))];
    if (usedIds.length > 0) await countTemplateUsage(client, usedIds);
    await client.query(`delete from audit_events where actor_id in ${owners} and occurred_at >= $2`, [emails, since]);
  });
}
