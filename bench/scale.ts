import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sessionTimeouts } from '../mikro-orm.config';
import { loadConfig } from '../src/config';
import { findPgBouncer, PGBOUNCER_MISSING, startPgBouncer, type PgBouncer } from '../test/support/pgbouncer';
import { withClient } from './cluster';
import { machineBusyMs, processTreeCpuMs } from './cpu';
import { removeLoadRows, runLoad, vacuumDataSet } from './http-load';
import type { LoadFigures } from './load-worker';
import { headersOf, withCounter } from './request-spec';
import { BENCH_SERVER_ENV } from './server';
import { labelOf, requestOf, type CostCase, type Operation } from './workload';

export type DatabaseRoute = 'direct' | 'pgbouncer';

export interface ScaleRun {
  operation: string;
  costCase?: CostCase;
  workers: number;
  database: DatabaseRoute;
  /** CPU per request: `server` is the primary and all its workers, `pgbouncer` PgBouncer's process. */
  graphql: LoadFigures;
  machine: { busyPercent: number; othersPercent: number };
}

export interface ScaleResult {
  connections: number;
  /** PgBouncer's server connections (default_pool_size); absent when it was not run. */
  pgbouncerPoolSize?: number;
  /** Why the PgBouncer configurations were not run, if they were not. */
  skipped?: string;
  runs: ScaleRun[];
  serverProblems: string[];
}

export interface ScaleBenchOptions {
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** The bench cluster's maintenance database: where PgBouncer is pointed (it serves every database), and WAL is read. */
  clusterUrl: string;
  postmaster: number;
  log: (line: string) => void;
}

export const SCALE_WORKERS = [1, 2];

/** Server connections PgBouncer keeps per database: those of one direct worker's pool. */
const PGBOUNCER_POOL_SIZE = 10;

/**
 * Operations A to D against the real server started as production starts it (`node dist/src/main.js`, in processes
 * of its own), with 1 and 2 workers, reaching PostgreSQL directly and through PgBouncer in transaction mode.
 */
export async function runScaleBench(databaseUrl: string, operations: Operation[], options: ScaleBenchOptions): Promise<ScaleResult> {
  const { log } = options;
  const result: ScaleResult = { connections: options.connections, runs: [], serverProblems: [] };
  const routes: DatabaseRoute[] = ['direct'];
  if (findPgBouncer()) routes.push('pgbouncer');
  else result.skipped = PGBOUNCER_MISSING;

  const database = new URL(databaseUrl).pathname.slice(1);
  const db = loadConfig({ ...BENCH_SERVER_ENV, DATABASE_URL: databaseUrl, DATABASE_POOLER: 'pgbouncer' }).db;
  let pgbouncer: PgBouncer | undefined;
  await vacuumDataSet(databaseUrl);
  try {
    if (routes.includes('pgbouncer')) {
      // The deploy step of DATABASE_POOLER=pgbouncer; undone after the phase, the bench's own sessions keep theirs.
      await setRoleTimeouts(databaseUrl, database, sessionTimeouts(db));
      pgbouncer = await startPgBouncer(options.clusterUrl, PGBOUNCER_POOL_SIZE);
      result.pgbouncerPoolSize = pgbouncer.poolSize;
    }
    let counterStart = Date.now() % 1_000_000_000;
    for (const route of routes) {
      for (const workers of SCALE_WORKERS) {
        const server = await startServerProcesses({
          ...BENCH_SERVER_ENV,
          WORKERS: String(workers),
          PORT: '0',
          DATABASE_URL: route === 'pgbouncer' ? pgbouncer!.url(database) : databaseUrl,
          DATABASE_POOLER: route === 'pgbouncer' ? 'pgbouncer' : 'none',
        });
        try {
          for (const operation of operations) {
            counterStart += 100_000_000;
            const operationStarted = new Date();
            const { graphql, machine } = await measureServerLoad(server, operation, {
              ...options,
              counterStart,
              pgbouncer: route === 'pgbouncer' ? pgbouncer!.pid : undefined,
            });
            result.runs.push({ operation: operation.name, costCase: operation.costCase, workers, database: route, graphql, machine });
            const cpuMs = graphql.cpuMsPerRequest!;
            log(
              `  ${labelOf(operation.name, operation.costCase)}, ${workers} worker${workers > 1 ? 's' : ''}, ${route}: ` +
                `${graphql.requestsPerSecond} req/s, p50 ${graphql.p50Ms} ms, p99 ${graphql.p99Ms} ms, ` +
                `${graphql.non2xx + graphql.errors + graphql.graphqlErrors} errors; CPU ms/request server ${cpuMs.server}` +
                (route === 'pgbouncer' ? `, pgbouncer ${cpuMs.pgbouncer}` : '') +
                `, postgres ${cpuMs.postgres}, load generator ${cpuMs.client}; machine ${machine.busyPercent}% busy (others ${machine.othersPercent}%)`,
            );
            if (graphql.sampleError) log(`    first error: ${graphql.sampleError}`);
            if (operation.kind === 'write') {
              // The newest templates would otherwise be D's, and the next configuration's pages would read them.
              await removeLoadRows(databaseUrl, [operation], operationStarted);
              await vacuumDataSet(databaseUrl);
            }
          }
        } finally {
          result.serverProblems.push(...(await server.stop()));
        }
      }
    }
  } finally {
    await pgbouncer?.stop();
    if (routes.includes('pgbouncer')) await resetRoleTimeouts(databaseUrl, database, Object.keys(sessionTimeouts(db)));
  }
  result.serverProblems = result.serverProblems.slice(0, 20);
  return result;
}

export interface MeasureOptions {
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  postmaster: number;
  /** Where the request counter starts; each load run within takes the next ten million. */
  counterStart: number;
  /** PgBouncer's process, when the server reaches PostgreSQL through it. */
  pgbouncer?: number;
}

/**
 * One operation against a server in processes of its own: sent once alone, a warm-up, then the measured load, with
 * the CPU of every process involved per request (the server's, PgBouncer's, PostgreSQL's, the load generator's) and
 * how busy the machine was.
 */
export async function measureServerLoad(
  server: ServerProcesses,
  operation: Operation,
  options: MeasureOptions,
): Promise<{ graphql: LoadFigures; machine: { busyPercent: number; othersPercent: number } }> {
  await sendOnce(server, operation);
  const requests = operation.variants.map((variant) => requestOf(operation, variant));
  let counterStart = options.counterStart;
  const load = (durationSeconds: number) => {
    counterStart += 10_000_000;
    return runLoad({ url: server.url, connections: options.connections, durationSeconds, requests, counterStart });
  };
  if (options.warmupSeconds > 0) await load(options.warmupSeconds);
  const cpu = () => ({
    server: processTreeCpuMs(server.pid),
    pgbouncer: options.pgbouncer === undefined ? 0 : processTreeCpuMs(options.pgbouncer),
    postgres: processTreeCpuMs(options.postmaster),
    machine: machineBusyMs(),
    at: performance.now(),
  });
  const before = cpu();
  const graphql = await load(options.durationSeconds);
  const after = cpu();
  const used = {
    server: after.server - before.server,
    pgbouncer: after.pgbouncer - before.pgbouncer,
    postgres: after.postgres - before.postgres,
    client: (graphql.cpuMsPerRequest?.client ?? 0) * graphql.requests,
    machine: after.machine - before.machine,
    available: (after.at - before.at) * os.cpus().length,
  };
  const perRequest = (total: number) => Math.round((total / Math.max(1, graphql.requests)) * 100) / 100;
  graphql.cpuMsPerRequest = {
    ...graphql.cpuMsPerRequest,
    server: perRequest(used.server),
    ...(options.pgbouncer === undefined ? {} : { pgbouncer: perRequest(used.pgbouncer) }),
    postgres: perRequest(used.postgres),
  };
  const accounted = used.server + used.pgbouncer + used.postgres + used.client;
  const machine = {
    busyPercent: Math.round((100 * used.machine) / used.available),
    othersPercent: Math.max(0, Math.round((100 * (used.machine - accounted)) / used.available)),
  };
  return { graphql, machine };
}

async function setRoleTimeouts(databaseUrl: string, database: string, timeouts: Record<string, number>): Promise<void> {
  await withClient(databaseUrl, async (client) => {
    for (const [name, ms] of Object.entries(timeouts)) {
      await client.query(`alter role current_user in database ${client.escapeIdentifier(database)} set ${name} = ${ms}`);
    }
  });
}

async function resetRoleTimeouts(databaseUrl: string, database: string, names: string[]): Promise<void> {
  await withClient(databaseUrl, async (client) => {
    for (const name of names) await client.query(`alter role current_user in database ${client.escapeIdentifier(database)} reset ${name}`);
  });
}

export interface ServerProcesses {
  url: string;
  /** The primary with several workers, the only process with one. */
  pid: number;
  /** Stops it as a deploy would (SIGTERM, drained) and answers the warnings and errors it logged. */
  stop(): Promise<string[]>;
}

const MAIN = path.join(__dirname, '..', 'src', 'main.js');
const START_TIMEOUT_MS = 30_000;

/**
 * `node dist/src/main.js` with this environment only (no `.env`: it runs in a directory of its own), logging to a
 * file as production logs to its collector; ready when its log says every process serves.
 */
export async function startServerProcesses(env: Record<string, string>): Promise<ServerProcesses> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-bench-server-'));
  const logFile = path.join(dir, 'server.log');
  const fd = openSync(logFile, 'w');
  const child = spawn(process.execPath, [MAIN], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let exitCode: number | null | undefined;
  void exited.then((code) => (exitCode = code));
  const lines = async () => (await readFile(logFile, 'utf8')).split('\n').filter(Boolean);
  const ready = Number(env.WORKERS) > 1 ? 'every worker is serving' : 'Tessera is serving GraphQL';

  const stop = async (): Promise<string[]> => {
    if (exitCode === undefined) child.kill('SIGTERM');
    const code = await exited;
    const problems = (await lines()).filter((line) => (parsed(line)?.level ?? 50) >= 40);
    await rm(dir, { recursive: true, force: true });
    return code === 0 ? problems : [...problems, `server (WORKERS=${env.WORKERS}) exited with ${code}`];
  };

  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline && exitCode === undefined) {
    const line = (await lines()).map(parsed).find((entry) => entry?.msg === ready);
    if (line?.url) return { url: line.url, pid: child.pid!, stop };
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const log = (await lines()).slice(-20).join('\n');
  await stop();
  throw new Error(`the server (WORKERS=${env.WORKERS}, ${env.DATABASE_POOLER}) did not start:\n${log}`);
}

function parsed(line: string): { level?: number; msg?: string; url?: string } | undefined {
  try {
    return JSON.parse(line) as { level?: number; msg?: string; url?: string };
  } catch {
    return undefined;
  }
}

/** The first variant once, alone: a server that answers it with an error fails the bench here, log in hand. */
async function sendOnce(server: ServerProcesses, operation: Operation): Promise<void> {
  const spec = requestOf(operation, operation.variants[0]);
  const response = await fetch(server.url, { method: 'POST', headers: headersOf(spec), body: withCounter(spec.body, 1_000_000_000) });
  const text = await response.text();
  if (response.status !== 200 || text.includes('"errors":[')) {
    throw new Error(`${labelOf(operation.name, operation.costCase)} failed: ${response.status} ${text.slice(0, 1000)}`);
  }
}
