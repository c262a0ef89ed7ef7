import { randomUUID } from 'node:crypto';
import { MikroORM } from '@mikro-orm/postgresql';
import pino from 'pino';
import { createOrmConfig } from '../mikro-orm.config';
import { loadConfig } from '../src/config';
import { Sql, StatementRecorder } from '../src/db/sql';
import { RateLimiter } from '../src/http/rate-limit';
import { walPosition, walReader, walWritten } from './cluster';
import { processCpuMs, processTreeCpuMs } from './cpu';
import type { LoadFigures } from './load-worker';
import { measureServerLoad, startServerProcesses, type ScaleBenchOptions } from './scale';
import { BENCH_SERVER_ENV } from './server';
import { labelOf, type CostCase, type Operation } from './workload';

export type RateLimitStoreName = 'memory' | 'postgres';

export interface RateLimitRun {
  store: RateLimitStoreName;
  graphql: LoadFigures;
  walBytesPerRequest: number;
  machine: { busyPercent: number; othersPercent: number };
}

/** `RateLimiter.take` called in the bench's process at a server's pace. */
export interface LimiterCalls {
  store: RateLimitStoreName;
  calls: number;
  statementsPerCall: number;
  /** CPU per call: the calling process (the limiter, the driver) and PostgreSQL. */
  cpuMsPerCall: { node: number; postgres: number };
  walBytesPerCall: number;
}

export interface RateLimitResult {
  operation: string;
  costCase?: CostCase;
  /** The operation against the server in its own process, its limits counted per process, then shared. */
  runs: RateLimitRun[];
  /**
   * The limiter alone, for two kinds of callers, counting in memory (the baseline: the calling loop and the count in
   * the process), then shared: each call from an address and a user new to the process (two rows of the next
   * report), and from a busy client at the default limits (a report every 30 calls for its user, 60 for its address).
   */
  callers: Array<{ caller: string; memory: LimiterCalls; postgres: LimiterCalls }>;
}

/** The default limits: what decides the block at which a busy address or user is reported (a twentieth). */
const DEFAULT_LIMITS = loadConfig({}).rateLimits;

/** About what one server process answers of cheap requests on this machine. */
const CALLS_PER_SECOND = 1_000;

/**
 * What sharing the rate limits in PostgreSQL costs. The operation runs against the server in its own process with
 * `RATE_LIMIT_STORE=memory`, then `postgres`, at the bench's lifted limits (blocks of 50,000: the requests of its
 * address and few dozen users are reported once a second). Then `RateLimiter.take` alone, in this process, at the
 * default limits and a server's pace, counting in memory and then shared, for two kinds of callers (see `callers`).
 */
export async function runRateLimitBench(databaseUrl: string, operation: Operation, options: ScaleBenchOptions): Promise<RateLimitResult> {
  const { log } = options;
  const runs: RateLimitRun[] = [];
  const wal = await walReader(options.clusterUrl);
  try {
    let counterStart = Date.now() % 1_000_000_000;
    for (const store of ['memory', 'postgres'] as const) {
      const server = await startServerProcesses({
        ...BENCH_SERVER_ENV,
        WORKERS: '1',
        PORT: '0',
        DATABASE_URL: databaseUrl,
        RATE_LIMIT_STORE: store,
      });
      try {
        counterStart += 100_000_000;
        const walBefore = await walPosition(wal);
        const { graphql, machine } = await measureServerLoad(server, operation, { ...options, counterStart });
        // The warm-up's WAL counts too.
        const written = await walWritten(wal, walBefore, await walPosition(wal));
        const run = { store, graphql, walBytesPerRequest: round(written.bytes / Math.max(1, graphql.requests)), machine };
        runs.push(run);
        log(
          `  ${labelOf(operation.name, operation.costCase)}, limits counted in ${store}: ${graphql.requestsPerSecond} req/s, ` +
            `p50 ${graphql.p50Ms} ms, p99 ${graphql.p99Ms} ms, ${graphql.non2xx + graphql.errors + graphql.graphqlErrors} errors; ` +
            `CPU ms/request server ${graphql.cpuMsPerRequest?.server}, postgres ${graphql.cpuMsPerRequest?.postgres}; ` +
            `${run.walBytesPerRequest} WAL bytes/request; machine ${machine.busyPercent}% busy (others ${machine.othersPercent}%)`,
        );
        if (graphql.sampleError) log(`    first error: ${graphql.sampleError}`);
      } finally {
        const problems = await server.stop();
        if (problems.length) log(`    logged by the server: ${problems.slice(0, 3).join(' ')}`);
      }
    }

    const config = loadConfig({ ...BENCH_SERVER_ENV, DATABASE_URL: databaseUrl });
    const orm = await MikroORM.init(createOrmConfig({ clientUrl: databaseUrl, db: config.db }));
    const recorder = new StatementRecorder().attach();
    try {
      const measure = async (
        caller: string,
        store: RateLimitStoreName,
        nextCaller: () => { ip: string; user: string },
      ): Promise<LimiterCalls> => {
        const limiter = new RateLimiter({ ...DEFAULT_LIMITS, store }, Sql.of(orm.em), pino({ level: 'warn' }));
        // At a server's pace, yielding to the event loop as requests do, so reports go out on their timer.
        const run = async (seconds: number) => {
          const calls = Math.round(seconds * CALLS_PER_SECOND);
          for (let i = 0; i < calls; i++) {
            if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 10_000 / CALLS_PER_SECOND));
            const { ip, user } = nextCaller();
            const decision = await limiter.take(ip, user);
            if (!decision.allowed) throw new Error(`rate limit bench: ${caller} was refused`);
          }
          return calls;
        };
        await run(options.warmupSeconds);
        const before = {
          statements: recorder.count,
          node: processCpuMs(),
          postgres: processTreeCpuMs(options.postmaster),
          wal: await walPosition(wal),
        };
        const calls = await run(options.durationSeconds);
        // Its last report (what it admitted since the one before) counts too.
        await limiter.close();
        const after = {
          statements: recorder.count,
          node: processCpuMs(),
          postgres: processTreeCpuMs(options.postmaster),
          wal: await walPosition(wal),
        };
        const written = await walWritten(wal, before.wal, after.wal);
        const figures: LimiterCalls = {
          store,
          calls,
          statementsPerCall: round((after.statements - before.statements) / calls, 3),
          cpuMsPerCall: {
            node: round((after.node - before.node) / calls, 3),
            postgres: round((after.postgres - before.postgres) / calls, 3),
          },
          walBytesPerCall: round(written.bytes / calls),
        };
        log(
          `  RateLimiter.take, ${caller}, counted in ${store}: ${calls} calls, ${figures.statementsPerCall} statements/call, ` +
            `CPU ms/call node ${figures.cpuMsPerCall.node}, postgres ${figures.cpuMsPerCall.postgres}; ` +
            `${figures.walBytesPerCall} WAL bytes/call${Object.keys(written.byRecord).length ? ` (${JSON.stringify(written.byRecord)})` : ''}`,
        );
        return figures;
      };
      const newPair = () => ({ ip: `bench-${randomUUID()}`, user: `bench-${randomUUID()}` });
      // A busy client: the same pair until just before its user's limit runs out.
      const busyClient = () => {
        let pair = newPair();
        let uses = 0;
        return () => {
          if (++uses % DEFAULT_LIMITS.perUserPerMinute === 0) pair = newPair();
          return pair;
        };
      };
      const callers: RateLimitResult['callers'] = [];
      for (const [caller, nextCaller] of [
        ['a new address and user every call', () => newPair],
        ['a busy client, the same address and user', busyClient],
      ] as const) {
        callers.push({
          caller,
          memory: await measure(caller, 'memory', nextCaller()),
          postgres: await measure(caller, 'postgres', nextCaller()),
        });
      }
      return { operation: operation.name, costCase: operation.costCase, runs, callers };
    } finally {
      recorder.detach();
      await orm.close(true);
    }
  } finally {
    await wal.end();
  }
}

/** What sharing adds to a call (shared less counted in memory), for the costlier kind of caller. */
export function sharingCostMs(result: RateLimitResult): number {
  const cpuMs = (calls: LimiterCalls) => calls.cpuMsPerCall.node + calls.cpuMsPerCall.postgres;
  return round(Math.max(...result.callers.map(({ memory, postgres }) => cpuMs(postgres) - cpuMs(memory))), 3);
}

/** `sharingCostMs` as a share of the operation's CPU per request with the limits counted per process. */
export function worstCaseShare(result: RateLimitResult): { cpuMs: number; operationCpuMs: number; percent: number } {
  const memory = result.runs.find((run) => run.store === 'memory')?.graphql.cpuMsPerRequest;
  const operationCpuMs = (memory?.server ?? Number.NaN) + (memory?.postgres ?? Number.NaN);
  const cpuMs = sharingCostMs(result);
  return { cpuMs: round(cpuMs, 3), operationCpuMs: round(operationCpuMs), percent: round((100 * cpuMs) / operationCpuMs, 1) };
}

function round(value: number, digits = 2): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
