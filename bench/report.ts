import type { WalWritten } from './cluster';
import type { Generated } from './generate';
import type { ServerResult } from './http-load';
import type { LoadFigures } from './load-worker';
import type { MigrationResult } from './migration';
import { worstCaseShare, type RateLimitResult } from './rate-limits';
import type { ScaleResult } from './scale';
import type { Mode } from './options';
import { labelOf, type CostCase } from './workload';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  postgres: string;
  settings: Record<string, string>;
  /** 1-minute load average when the run started and ended: anything else busy on the machine shows here. */
  loadAverageAtStart: number;
  loadAverageAtEnd?: number;
}

export interface BenchResult {
  mode: Mode;
  command: string;
  startedAt: string;
  seconds: number;
  machine: Machine;
  migrationBase?: Generated;
  migration?: MigrationResult;
  dataset?: Generated;
  server?: ServerResult;
  scale?: ScaleResult;
  rateLimits?: RateLimitResult;
  targets: TargetCheck[];
}

export interface TargetCheck {
  target: string;
  subject: string;
  measured: string;
  met: boolean;
}

const TARGETS = {
  write: { label: 'create / update template: p99 < 15 ms at 8 connections', p99Ms: 15 },
  page: { label: 'filtered template page (20, owner and shares): p99 < 20 ms at 8 connections', p99Ms: 20 },
  migrationMs: 5_000,
  lockMs: 100,
  ratio: 0.5,
  roundTripsPerPage: 2,
  /** The rate limits shared in PostgreSQL: a request's worst case, as a share of A's CPU per request. */
  sharedRateLimitPercentOfA: 5,
  /** The issue "Reads at PostGraphile's cost": CPU per request (server + PostgreSQL) and throughput at 8 connections. */
  costCases: {
    A: { cpuMs: 2.5, requestsPerSecond: 600 },
    B: { cpuMs: 2.0, requestsPerSecond: 770 },
    C: { cpuMs: 0.9, requestsPerSecond: 1500 },
    D: { cpuMs: 1.3, requestsPerSecond: 1100 },
  } satisfies Record<CostCase, { cpuMs: number; requestsPerSecond: number }>,
};

export function checkTargets(result: Omit<BenchResult, 'targets'>): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const migration = result.migration;
  if (migration) {
    const lock = migration.longestAccessExclusive?.atMostMs;
    checks.push(
      {
        target: 'extension migration < 5 s',
        subject: `${migration.experiments} experiments`,
        measured: `${(migration.totalMs / 1000).toFixed(2)} s`,
        met: migration.totalMs < TARGETS.migrationMs,
      },
      {
        target: 'longest AccessExclusiveLock on ml_experiments < 100 ms',
        subject: 'migration',
        measured: lock === undefined ? `never seen held (sampled every ${migration.sampler.medianIntervalMs} ms)` : `≤ ${lock} ms`,
        met: (lock ?? 0) < TARGETS.lockMs,
      },
      {
        target: 'no table rewrite',
        subject: 'ml_experiments',
        measured: `relfilenode ${migration.relfilenodeBefore} → ${migration.relfilenodeAfter}`,
        met: !migration.rewritten && migration.rebuiltIndexes.length === 0,
      },
    );
  }
  for (const operation of result.server?.operations ?? []) {
    const failed = operation.graphql.non2xx + operation.graphql.errors + operation.graphql.graphqlErrors;
    const errors = failed > 0 ? ` (${failed} errors)` : '';
    const subject = labelOf(operation.operation, operation.costCase);
    if (operation.operation === 'create template' || operation.operation === 'update template') {
      checks.push({
        target: TARGETS.write.label,
        subject,
        measured: `p99 ${operation.graphql.p99Ms} ms${errors}`,
        met: operation.graphql.p99Ms < TARGETS.write.p99Ms && failed === 0,
      });
    }
    if (operation.page) {
      checks.push({
        target: TARGETS.page.label,
        subject,
        measured: `p99 ${operation.graphql.p99Ms} ms${errors}`,
        met: operation.graphql.p99Ms < TARGETS.page.p99Ms && failed === 0,
      });
    }
    if (operation.ratio !== undefined) {
      checks.push({
        target: `GraphQL / bare pg throughput ≥ ${TARGETS.ratio}`,
        subject,
        measured: `${operation.ratio}`,
        met: operation.ratio >= TARGETS.ratio,
      });
    }
    if (operation.costCase) {
      const target = TARGETS.costCases[operation.costCase];
      const { server, postgres } = operation.graphql.cpuMsPerRequest ?? {};
      const cpuMs = server === undefined || postgres === undefined ? Number.NaN : Math.round((server + postgres) * 100) / 100;
      checks.push(
        {
          target: `CPU per request (server + PostgreSQL) ≤ ${target.cpuMs} ms`,
          subject,
          measured: Number.isNaN(cpuMs) ? '?' : `${cpuMs} ms (${server} + ${postgres})`,
          met: cpuMs <= target.cpuMs,
        },
        {
          target: `throughput at 8 connections ≥ ${target.requestsPerSecond} req/s`,
          subject,
          measured: `${operation.graphql.requestsPerSecond} req/s${errors}`,
          met: operation.graphql.requestsPerSecond >= target.requestsPerSecond && failed === 0,
        },
      );
    }
    if (operation.page) {
      checks.push({
        target: `round trips per page ≤ ${TARGETS.roundTripsPerPage}`,
        subject,
        measured: `${operation.roundTripsPerRequest}`,
        met: operation.roundTripsPerRequest <= TARGETS.roundTripsPerPage,
      });
    }
    if (operation.kind === 'read') {
      checks.push({
        target: 'WAL written by a read request: 0 bytes (periodic records aside)',
        subject,
        measured: `${operation.walBytesPerRequest} (${operation.wal.bytes} in ${operation.graphql.requests} requests${walRecords(operation.wal)})`,
        met: Object.keys(operation.wal.byRecord).every((kind) => PERIODIC_WAL_RECORDS.includes(kind)),
      });
    }
  }
  if (result.rateLimits) {
    const share = worstCaseShare(result.rateLimits);
    checks.push({
      target: `rate limits shared in PostgreSQL: a request's cost ≤ ${TARGETS.sharedRateLimitPercentOfA}% of A's CPU`,
      subject: 'the costlier caller: a new address and user, or a busy client',
      measured: `${share.cpuMs} ms, ${share.percent}% of ${share.operationCpuMs} ms`,
      met: share.percent <= TARGETS.sharedRateLimitPercentOfA,
    });
  }
  for (const check of result.server?.pageSizes ?? []) {
    checks.push({
      target: 'SQL statements per request constant in page size',
      subject: check.operation,
      measured: Object.entries(check.statements)
        .map(([first, count]) => `first ${first}: ${count}`)
        .join(', '),
      met: check.constant,
    });
  }
  return checks;
}

/**
 * Records the cluster writes on a timer whatever the requests do (a snapshot of running transactions every 15 s after
 * other WAL, checkpoints): a read phase that holds only these wrote nothing.
 */
const PERIODIC_WAL_RECORDS = ['Standby/RUNNING_XACTS', 'XLOG/CHECKPOINT_ONLINE'];

/** The kinds of WAL records that make up most of it: what wrote, when a read should have written nothing. */
function walRecords(wal: WalWritten): string {
  const kinds = Object.entries(wal.byRecord).slice(0, 3);
  return kinds.length ? `: ${kinds.map(([kind, bytes]) => `${kind} ${bytes}`).join(', ')}` : '';
}

const cpu = (figures: LoadFigures['cpuMsPerRequest'], keys: Array<'server' | 'pgbouncer' | 'postgres' | 'client'>) =>
  keys.map((key) => figures?.[key] ?? '?').join(' / ');

export const mb = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MB`;

export function table(header: string[], rows: Array<Array<string | number>>): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

export function markdown(result: BenchResult): string {
  const parts: string[] = [];
  const m = result.machine;
  parts.push(`## Bench ${result.mode}: \`${result.command}\``);
  parts.push(
    `${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB RAM, Node ${m.node}, PostgreSQL ${m.postgres}; ` +
      `load average ${m.loadAverageAtStart} at start, ${m.loadAverageAtEnd ?? '?'} at end; run took ${result.seconds.toFixed(0)} s.`,
  );

  for (const [title, generated] of [
    ['Migration base', result.migrationBase],
    ['Data set', result.dataset],
  ] as const) {
    if (!generated) continue;
    parts.push(`### ${title}: ${generated.database} (${generated.reused ? 'reused; ' : ''}generated in ${generated.seconds.toFixed(1)} s)`);
    parts.push(
      table(
        ['table', 'rows', 'size'],
        Object.keys(generated.rows).map((name) => [name, generated.rows[name], mb(generated.bytes[name])]),
      ),
    );
    parts.push(`Steps: ${generated.steps.map((step) => `${step.step} ${step.seconds.toFixed(1)} s`).join(', ')}`);
  }

  const migration = result.migration;
  if (migration) {
    parts.push(`### Extension migration over ${migration.experiments} experiments (${mb(migration.tableBytes)})`);
    parts.push(
      table(
        ['migration', 'ms'],
        [...migration.migrations.map((entry) => [entry.name, entry.ms]), ['**total**', `**${migration.totalMs}**`]],
      ),
    );
    parts.push(
      table(
        ['lock mode on ml_experiments', 'longest span held (ms, between samples that saw it free)', 'at least (ms)'],
        migration.locks.map((lock) => [lock.mode, lock.atMostMs, lock.atLeastMs]),
      ),
    );
    parts.push(
      table(
        ['statement (slowest first)', 'ms'],
        [...migration.statements]
          .sort((a, b) => b.ms - a.ms)
          .slice(0, 12)
          .map((statement) => [`\`${statement.sql.replace(/\|/g, '\\|')}\``, statement.ms]),
      ),
    );
    parts.push(
      `Sampler: ${migration.sampler.samples} samples of pg_locks, median interval ${migration.sampler.medianIntervalMs} ms, ` +
        `max ${migration.sampler.maxIntervalMs} ms. Longest lock wait seen: ${migration.longestWaitMs} ms. ` +
        `relfilenode ${migration.relfilenodeBefore} → ${migration.relfilenodeAfter} (${migration.rewritten ? 'REWRITTEN' : 'no rewrite'}); ` +
        `rebuilt indexes: ${migration.rebuiltIndexes.join(', ') || 'none'}; invalid indexes: ${migration.invalidIndexes.join(', ') || 'none'}.`,
    );
  }

  const server = result.server;
  if (server?.explain.length) {
    parts.push('### EXPLAIN (ANALYZE, BUFFERS) of the SQL each read sends');
    parts.push(
      table(
        ['operation', 'statements', 'slowest execution (ms)', 'shared blocks hit / read (slowest)', 'seq scans on big tables'],
        server.explain.map((entry) => {
          const slowest = [...entry.statements].sort((a, b) => b.executionMs - a.executionMs)[0];
          return [
            entry.operation,
            entry.statements.length,
            slowest ? slowest.executionMs.toFixed(2) : '-',
            slowest ? `${slowest.sharedHitBlocks} / ${slowest.sharedReadBlocks}` : '-',
            entry.seqScans.length ? entry.seqScans.map((scan) => `**${scan.table}** (${scan.rowsRead} rows)`).join(', ') : 'none',
          ];
        }),
      ),
    );
  }
  if (server?.operations.length) {
    parts.push(`### HTTP load: 8 connections, autocannon`);
    parts.push(
      table(
        [
          'operation',
          'req/s',
          'p50 ms',
          'p99 ms',
          'errors',
          'CPU ms/request: server',
          'PostgreSQL',
          'load generator',
          'SQL/request',
          'round trips/request',
          'WAL bytes/request',
          'cores busy (others)',
          'server peak RSS MiB',
        ],
        server.operations.map((entry) => [
          labelOf(entry.operation, entry.costCase),
          entry.graphql.requestsPerSecond,
          entry.graphql.p50Ms,
          entry.graphql.p99Ms,
          entry.graphql.non2xx + entry.graphql.errors + entry.graphql.graphqlErrors,
          cpu(entry.graphql.cpuMsPerRequest, ['server']),
          cpu(entry.graphql.cpuMsPerRequest, ['postgres']),
          cpu(entry.graphql.cpuMsPerRequest, ['client']),
          entry.statementsPerRequest,
          entry.roundTripsPerRequest,
          entry.walBytesPerRequest,
          entry.machine ? `${entry.machine.busyPercent}% (${entry.machine.othersPercent}%)` : '-',
          entry.peakRssMiB,
        ]),
      ),
    );
    parts.push(`Server peak RSS during the GraphQL runs: ${server.peakRssMiB} MiB (process VmHWM ${server.vmHwmMiB} MiB).`);
    const replayed = server.operations.filter((entry) => entry.bare);
    if (replayed.length) {
      parts.push(`### The same SQL through bare pg: 8 workers on a pool of 10`);
      parts.push(
        table(
          ['operation', 'bare pg req/s', 'bare p99 ms', 'bare CPU ms/request: driver / PostgreSQL', 'GraphQL / bare'],
          replayed.map((entry) => [
            labelOf(entry.operation, entry.costCase),
            entry.bare!.requestsPerSecond,
            entry.bare!.p99Ms,
            cpu(entry.bare!.cpuMsPerRequest, ['client', 'postgres']),
            entry.ratio ?? '-',
          ]),
        ),
      );
    }
  }
  const soak = server?.soak;
  if (soak) {
    parts.push(`### Soak: ${labelOf(soak.operation, soak.costCase)}, ${soak.seconds} s at 8 connections`);
    parts.push(
      table(
        ['requests', 'req/s', 'failed', 'RSS MiB at start', 'at end', 'growth', 'peak', 'heap used MiB at start / end'],
        [
          [
            soak.requests,
            soak.requestsPerSecond,
            soak.failed,
            soak.rssMiB.start,
            soak.rssMiB.end,
            soak.rssMiB.growth,
            soak.rssMiB.peak,
            `${soak.heapUsedMiB.start} / ${soak.heapUsedMiB.end}`,
          ],
        ],
      ),
    );
    parts.push(`RSS every tenth of the soak: ${soak.rssTimelineMiB.join(', ')} MiB.`);
  }
  if (server?.pageSizes.length) {
    parts.push(
      table(
        ['statements per request', 'first: 1', 'first: 20', 'first: 100'],
        server.pageSizes.map((check) => [check.operation, check.statements[1], check.statements[20], check.statements[100]]),
      ),
    );
  }
  const scale = result.scale;
  if (scale) {
    parts.push(`### Workers and PgBouncer: ${scale.connections} connections, the server started as \`node dist/src/main.js\``);
    parts.push(
      table(
        [
          'operation',
          'workers',
          'PostgreSQL reached',
          'req/s',
          'p50 ms',
          'p99 ms',
          'errors',
          'CPU ms/request: server (all processes)',
          'PgBouncer',
          'PostgreSQL',
          'load generator',
          'cores busy (others)',
        ],
        scale.runs.map((run) => [
          labelOf(run.operation, run.costCase),
          run.workers,
          run.database === 'pgbouncer' ? `PgBouncer (transaction, pool ${scale.pgbouncerPoolSize})` : 'directly',
          run.graphql.requestsPerSecond,
          run.graphql.p50Ms,
          run.graphql.p99Ms,
          run.graphql.non2xx + run.graphql.errors + run.graphql.graphqlErrors,
          cpu(run.graphql.cpuMsPerRequest, ['server']),
          run.database === 'pgbouncer' ? cpu(run.graphql.cpuMsPerRequest, ['pgbouncer']) : '-',
          cpu(run.graphql.cpuMsPerRequest, ['postgres']),
          cpu(run.graphql.cpuMsPerRequest, ['client']),
          `${run.machine.busyPercent}% (${run.machine.othersPercent}%)`,
        ]),
      ),
    );
    if (scale.skipped) parts.push(`Through PgBouncer: not run (${scale.skipped}).`);
    if (scale.serverProblems.length)
      parts.push(`Logged by the server processes:\n\n${scale.serverProblems.map((line) => `    ${line}`).join('\n')}`);
  }
  const limits = result.rateLimits;
  if (limits) {
    parts.push(`### Rate limits: ${labelOf(limits.operation, limits.costCase)}, counted per process, then shared in PostgreSQL`);
    parts.push(
      table(
        [
          'limits counted in',
          'req/s',
          'p50 ms',
          'p99 ms',
          'errors',
          'CPU ms/request: server',
          'PostgreSQL',
          'load generator',
          'WAL bytes/request',
          'cores busy (others)',
        ],
        limits.runs.map((run) => [
          run.store === 'memory' ? 'each process (`RATE_LIMIT_STORE=memory`)' : 'PostgreSQL (`RATE_LIMIT_STORE=postgres`)',
          run.graphql.requestsPerSecond,
          run.graphql.p50Ms,
          run.graphql.p99Ms,
          run.graphql.non2xx + run.graphql.errors + run.graphql.graphqlErrors,
          cpu(run.graphql.cpuMsPerRequest, ['server']),
          cpu(run.graphql.cpuMsPerRequest, ['postgres']),
          cpu(run.graphql.cpuMsPerRequest, ['client']),
          run.walBytesPerRequest,
          `${run.machine.busyPercent}% (${run.machine.othersPercent}%)`,
        ]),
      ),
    );
    parts.push(
      table(
        [
          '`RateLimiter.take` at the default limits, 1,000 calls/s',
          'counted in',
          'calls',
          'statements/call',
          'CPU ms/call: Node',
          'PostgreSQL',
          'WAL bytes/call',
        ],
        limits.callers.flatMap(({ caller, memory, postgres }) =>
          [memory, postgres].map((calls) => [
            caller,
            calls.store,
            calls.calls,
            calls.statementsPerCall,
            calls.cpuMsPerCall.node,
            calls.cpuMsPerCall.postgres,
            calls.walBytesPerCall,
          ]),
        ),
      ),
    );
    const share = worstCaseShare(limits);
    parts.push(
      `Sharing the limits adds at most ${share.cpuMs} ms of CPU to a request (shared less counted in memory, for the ` +
        `costlier caller above), ${share.percent}% of A's ${share.operationCpuMs} ms with the limits counted per process.`,
    );
  }
  if (result.targets.length) {
    parts.push('### Targets');
    parts.push(
      table(
        ['target', 'subject', 'measured', 'met'],
        result.targets.map((check) => [check.target, check.subject, check.measured, check.met ? 'met' : '**not met**']),
      ),
    );
  }
  return `${parts.join('\n\n')}\n`;
}

/** Every plan, in full, for reading next to the summary. */
export function plansText(result: BenchResult): string {
  const sections = (result.server?.explain ?? []).map((entry) =>
    [
      `## ${entry.operation}`,
      ...entry.statements.map((statement) => `### ${statement.sql}\n-- bindings: ${JSON.stringify(statement.bindings)}\n${statement.plan}`),
    ].join('\n\n'),
  );
  return `${sections.join('\n\n')}\n`;
}
