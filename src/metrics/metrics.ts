import cluster from 'node:cluster';
import { performance } from 'node:perf_hooks';
import type { MikroORM } from '@mikro-orm/postgresql';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { statementEnded, statementStarted, type StatementEnd, type StatementStart } from '../db/sql';
import { RETRY_REASON_NAMES, transactionRetried, type TransactionRetried } from '../db/transaction-retry';
import { QUERY_LIMIT_NAMES, type QueryLimitName } from '../graphql/limits';
import { RATE_LIMIT_SCOPES, type RateLimitScope } from '../http/rate-limit';
import { shareWithPrimary } from './cluster-metrics';

/** How a GraphQL request ended: no error, an error of the client's, or a fault of the server's (which wins). */
export type Outcome = 'ok' | 'client_error' | 'server_error';

/**
 * Operation names come from clients, so they are labels only up to a bound; parentheses cannot appear in a GraphQL
 * name, so these can never be mistaken for one.
 */
export const OPERATION_LABELS = {
  /** An operation without a name. */
  anonymous: '(anonymous)',
  /** No operation was resolved: the request was refused before (rate limit, token, parse, validation). */
  unresolved: '(unresolved)',
  /** A name seen after `MAX_OPERATION_NAMES` others. */
  other: '(other)',
} as const;
export const MAX_OPERATION_NAMES = 200;
const OPERATION_SLOTS = MAX_OPERATION_NAMES + Object.keys(OPERATION_LABELS).length;
/** Error codes are the server's own, but a bound costs nothing. */
const MAX_ERROR_CODES = 50;

/** Seconds: around the latency targets (p99 under 15 and 20 ms) finely, up to the statement timeout coarsely. */
const REQUEST_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const STATEMENT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** The pool MikroORM's knex keeps (tarn), as far as the gauges read it. */
interface ConnectionPool {
  max: number;
  numUsed(): number;
  numFree(): number;
  numPendingAcquires(): number;
}

/** Prometheus children of one operation name, one per outcome, made on first use and kept. */
type OperationSeries = Record<Outcome, { requests: Counter.Internal; seconds: Histogram.Internal<string> } | undefined>;

/**
 * What the server counts, in one registry per process: GraphQL requests by operation and outcome with their latency,
 * errors by code, rate-limit refusals, query-limit rejections, transaction retries, database statement durations, the
 * pool's connections (read when scraped), restarts of the embedded database, and Node's process metrics. Recording a request costs a map lookup and two
 * updates of cached children: no label objects are built per request.
 */
export class Metrics {
  readonly registry = new Registry();

  private readonly requests = new Counter({
    name: 'tessera_graphql_requests_total',
    help: 'GraphQL requests answered, by operation name and outcome (ok, client_error, server_error)',
    labelNames: ['operation', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly requestSeconds = new Histogram({
    name: 'tessera_graphql_request_duration_seconds',
    help: "GraphQL requests' time from Apollo receiving them to their answer, by operation name and outcome",
    labelNames: ['operation', 'outcome'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [this.registry],
  });
  private readonly errors = new Counter({
    name: 'tessera_graphql_errors_total',
    help: 'Errors in GraphQL answers, by extensions.code',
    labelNames: ['code'] as const,
    registers: [this.registry],
  });
  private readonly rateLimitRefusals = new Counter({
    name: 'tessera_rate_limit_refusals_total',
    help: 'GraphQL requests refused by the rate limits (HTTP 429), by scope (ip, user)',
    labelNames: ['scope'] as const,
    registers: [this.registry],
  });
  private readonly queryLimitRejections = new Counter({
    name: 'tessera_graphql_query_limit_rejections_total',
    help: 'Queries refused by a query limit before running, by limit (depth, aliases, tokens, directives, cost)',
    labelNames: ['limit'] as const,
    registers: [this.registry],
  });
  private readonly transactionRetries = new Counter({
    name: 'tessera_db_transaction_retries_total',
    help: 'Transactions run again after PostgreSQL aborted them, by reason (serialization_failure, deadlock)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });
  private readonly embeddedDatabaseRestarts = embeddedDatabaseRestartsCounter(this.registry);
  private readonly statementSeconds = new Histogram({
    name: 'tessera_db_statement_duration_seconds',
    help: "SQL statements' time from sending to answer, by outcome (ok, error); a transaction's BEGIN and COMMIT are not timed",
    labelNames: ['outcome'] as const,
    buckets: STATEMENT_BUCKETS,
    registers: [this.registry],
  });

  // Every series that can move exists from the start at 0, so a rate over it is defined before its first event.
  private readonly refusalsByScope = zeroedChildren(this.rateLimitRefusals, RATE_LIMIT_SCOPES);
  private readonly rejectionsByLimit = zeroedChildren(this.queryLimitRejections, QUERY_LIMIT_NAMES);
  private readonly retriesByReason = zeroedChildren(this.transactionRetries, RETRY_REASON_NAMES);
  private readonly statementsOk = zeroedChild(this.statementSeconds, 'ok');
  private readonly statementsFailed = zeroedChild(this.statementSeconds, 'error');
  private readonly operations = new Map<string, OperationSeries>(
    Object.values(OPERATION_LABELS).map((label) => [label, newOperationSeries()]),
  );
  private readonly errorsByCode = new Map<string, Counter.Internal>();
  private readonly statementStarts = new Map<number, number>();
  private readonly unsubscribes: Array<() => void> = [];
  /** In a worker of WORKERS=N: the whole server's metrics, gathered by the primary. */
  private readonly gatheredByPrimary = cluster.isWorker ? shareWithPrimary(this.registry) : undefined;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** One GraphQL request answered, under its operation's name or one of `OPERATION_LABELS`. */
  requestAnswered(operation: string, outcome: Outcome, seconds?: number): void {
    let series = this.operations.get(operation);
    if (!series) {
      if (this.operations.size >= OPERATION_SLOTS) return this.requestAnswered(OPERATION_LABELS.other, outcome, seconds);
      series = newOperationSeries();
      this.operations.set(operation, series);
    }
    const children = (series[outcome] ??= {
      requests: this.requests.labels(operation, outcome),
      seconds: this.requestSeconds.labels(operation, outcome),
    });
    children.requests.inc();
    if (seconds !== undefined) children.seconds.observe(seconds);
  }

  /** A request answered with one error before any operation was resolved (rate limit, token, CSRF prevention). */
  requestRefused(code: string, outcome: Exclude<Outcome, 'ok'>): void {
    this.errorAnswered(code);
    this.requestAnswered(OPERATION_LABELS.unresolved, outcome);
  }

  errorAnswered(code: string): void {
    let child = this.errorsByCode.get(code);
    if (!child) {
      if (this.errorsByCode.size >= MAX_ERROR_CODES) return this.errorAnswered(OPERATION_LABELS.other);
      child = this.errors.labels(code);
      this.errorsByCode.set(code, child);
    }
    child.inc();
  }

  rateLimitRefused(scope: RateLimitScope): void {
    this.refusalsByScope[scope].inc();
  }

  queryLimitRejected(limit: QueryLimitName): void {
    this.rejectionsByLimit[limit].inc();
  }

  embeddedDatabaseRestarted(): void {
    this.embeddedDatabaseRestarts.inc();
  }

  /**
   * Times the statements and counts the retries published on the diagnostics channels (`src/db/sql.ts`,
   * `src/db/transaction-retry.ts`), and reads the pool's connections from `orm` whenever the metrics are scraped.
   */
  observeDatabase(orm: MikroORM): void {
    const onStart = (message: unknown) => void this.statementStarts.set((message as StatementStart).id, performance.now());
    const onEnd = (message: unknown) => {
      const { id, failed, untimed } = message as StatementEnd;
      const startedAt = this.statementStarts.get(id);
      if (startedAt === undefined) return;
      this.statementStarts.delete(id);
      if (!untimed) (failed ? this.statementsFailed : this.statementsOk).observe((performance.now() - startedAt) / 1000);
    };
    const onRetry = (message: unknown) => this.retriesByReason[(message as TransactionRetried).reason].inc();
    statementStarted.subscribe(onStart);
    statementEnded.subscribe(onEnd);
    transactionRetried.subscribe(onRetry);
    this.unsubscribes.push(() => {
      statementStarted.unsubscribe(onStart);
      statementEnded.unsubscribe(onEnd);
      transactionRetried.unsubscribe(onRetry);
    });

    const pool = (): ConnectionPool | undefined => (orm.em.getConnection().getKnex().client as { pool?: ConnectionPool }).pool;
    new Gauge({
      name: 'tessera_db_pool_connections',
      help: "The database pool's connections, by state (in_use: lent to a request, idle: open and free)",
      labelNames: ['state'] as const,
      registers: [this.registry],
      collect() {
        const current = pool();
        this.set({ state: 'in_use' }, current?.numUsed() ?? 0);
        this.set({ state: 'idle' }, current?.numFree() ?? 0);
      },
    });
    new Gauge({
      name: 'tessera_db_pool_waiting_requests',
      help: 'Requests waiting for a connection of the database pool',
      registers: [this.registry],
      collect() {
        this.set(pool()?.numPendingAcquires() ?? 0);
      },
    });
    new Gauge({
      name: 'tessera_db_pool_max_connections',
      help: "The database pool's size (DB_POOL_MAX divided among the workers)",
      registers: [this.registry],
      collect() {
        this.set(pool()?.max ?? 0);
      },
    });
  }

  /** The metrics in Prometheus' text format: this process's, or with WORKERS=N, every worker's. */
  exposition(): Promise<string> {
    return this.gatheredByPrimary ? this.gatheredByPrimary() : this.registry.metrics();
  }

  /** Stops listening to the diagnostics channels. */
  close(): void {
    for (const unsubscribe of this.unsubscribes.splice(0)) unsubscribe();
  }
}

/**
 * Restarts of the embedded PostgreSQL after it died, counted by the process that owns it: the server, or with WORKERS=N
 * the primary, which adds its own count to the workers' metrics. Workers never own it, so their copies are left out of
 * the sum.
 */
export function embeddedDatabaseRestartsCounter(registry: Registry): Counter {
  return new Counter({
    name: 'tessera_embedded_database_restarts_total',
    help: 'Times the embedded PostgreSQL was started again after it exited on its own (killed, crashed)',
    registers: [registry],
    aggregator: 'omit',
  });
}

function zeroedChildren<Value extends string>(counter: Counter<string>, values: readonly Value[]): Record<Value, Counter.Internal> {
  return Object.fromEntries(
    values.map((value) => {
      const child = counter.labels(value);
      child.inc(0);
      return [value, child];
    }),
  ) as Record<Value, Counter.Internal>;
}

function zeroedChild(histogram: Histogram<'outcome'>, outcome: string): Histogram.Internal<'outcome'> {
  histogram.zero({ outcome });
  return histogram.labels(outcome);
}

function newOperationSeries(): OperationSeries {
  return { ok: undefined, client_error: undefined, server_error: undefined };
}
