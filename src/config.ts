import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SERVICE_ROLE_VALUE } from './auth/actor';

export type NodeEnv = 'development' | 'production' | 'test';

/**
 * What stands between the server and PostgreSQL. `pgbouncer`: PgBouncer in transaction mode, where consecutive
 * statements of one client may run on different server connections, so nothing may live in a session.
 */
export const DATABASE_POOLERS = ['none', 'pgbouncer'] as const;
export type DatabasePooler = (typeof DATABASE_POOLERS)[number];

/**
 * Where rate limits are counted. `postgres`: in the database, shared by every server process (`src/http/rate-limit.ts`);
 * `memory`: in each process on its own, so N processes allow N times the limits.
 */
export const RATE_LIMIT_STORES = ['postgres', 'memory'] as const;
export type RateLimitStore = (typeof RATE_LIMIT_STORES)[number];

export interface AppConfig {
  nodeEnv: NodeEnv;
  host: string;
  port: number;
  graphqlPath: string;
  /** Server processes sharing the port (node:cluster); 1: the process serves by itself. */
  workers: number;
  /** Absent: an embedded PostgreSQL is started with its data under `dataDir`. */
  databaseUrl?: string;
  /** A direct connection for `npm run migrate` (index builds, long timeouts); default: `databaseUrl`. */
  databaseMigrationUrl?: string;
  /** Streaming replicas of `databaseUrl` that serve query operations (src/db/replicas.ts); none by default. */
  databaseReplicaUrls: string[];
  dataDir: string;
  db: {
    pooler: DatabasePooler;
    /** This process's pool: `DB_POOL_MAX`, the whole server's connections, divided among its workers. */
    poolMax: number;
    statementTimeoutMs: number;
    lockTimeoutMs: number;
    acquireTimeoutMs: number;
    connectTimeoutMs: number;
    /** A replica further behind the primary than this serves no reads until it catches up. */
    replicaMaxLagMs: number;
  };
  auth: {
    jwtSecret?: string;
    jwksUrl?: string;
    issuer?: string;
    audience?: string;
    /**
     * A token whose `email` the provider did not mark verified (no `email_verified` claim) still stands for its address
     * unless this is set (`REQUIRE_EMAIL_VERIFIED`); `email_verified: false` never does (src/user/user-email.ts).
     */
    requireEmailVerified: boolean;
    /** The token claim holding the caller's roles (`ROLES_CLAIM`): a list of strings. */
    rolesClaim: string;
    /** The value in that claim that makes the caller staff (`STAFF_ROLE`). */
    staffRole: string;
    /**
     * The token claim (an array of group names) that keeps the caller's membership of teams with a matching external
     * id in step (`TEAMS_CLAIM`, e.g. `groups`); unset: teams are managed in Tessera only.
     */
    teamsClaim?: string;
  };
  logLevel: string;
  /** Per fixed minute; 0 turns a limit off. `userByEmailPerMinute`: lookups per caller, each field counting once. */
  rateLimits: { perIpPerMinute: number; perUserPerMinute: number; userByEmailPerMinute: number; store: RateLimitStore };
  /**
   * Prometheus metrics at `/metrics`: on `port` (`METRICS_PORT`) when set, otherwise on the server's own port; with
   * `token` (`METRICS_TOKEN`), only for `Authorization: Bearer <token>`. In production, not served unless one is set.
   */
  metrics: { served: boolean; port?: number; token?: string };
  /**
   * A stop (SIGTERM, SIGINT): for `graceMs` `/readyz` answers 503 while everything else is served as before, so that a
   * load balancer stops routing here; then the server stops accepting, answers what it accepted and exits. Past
   * `timeoutMs` from the signal it exits anyway, code 1.
   */
  shutdown: { graceMs: number; timeoutMs: number };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n- ${problems.join('\n- ')}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string): string | undefined {
    const value = this.env[name]?.trim();
    return value ? value : undefined;
  }

  integer(name: string, fallback: number, min: number, max: number): number {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      this.problems.push(`${name} must be an integer between ${min} and ${max} (got "${raw}")`);
      return fallback;
    }
    return value;
  }

  boolean(name: string, fallback: boolean): boolean {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (raw !== 'true' && raw !== 'false') {
      this.problems.push(`${name} must be true or false (got "${raw}")`);
      return fallback;
    }
    return raw === 'true';
  }

  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const raw = this.string(name);
    if (raw === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${allowed.join(', ')} (got "${raw}")`);
      return fallback;
    }
    return raw as T;
  }

  url(name: string, protocols: string[]): string | undefined {
    const raw = this.string(name);
    if (raw === undefined) return undefined;
    this.checkUrl(name, raw, protocols);
    return raw;
  }

  /** A comma-separated list of URLs; empty when unset. */
  urls(name: string, protocols: string[]): string[] {
    const raw = this.string(name);
    if (raw === undefined) return [];
    const urls = raw
      .split(',')
      .map((url) => url.trim())
      .filter((url) => url !== '');
    urls.forEach((url, index) => this.checkUrl(`${name} (URL ${index + 1})`, url, protocols));
    return urls;
  }

  private checkUrl(name: string, raw: string, protocols: string[]): void {
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) {
        this.problems.push(`${name} must use ${protocols.join(' or ')} (got "${parsed.protocol}")`);
      }
    } catch {
      // The text may hold a password: name the variable, never echo it.
      this.problems.push(`${name} is not a valid URL`);
    }
  }
}

const MAX_WORKERS = 128;
/** Claims with a meaning of their own (RFC 7519's registered ones, and the user's email and name). */
const RESERVED_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'jti', 'email', 'name'];
const MIN_METRICS_TOKEN_LENGTH = 32;
const DEFAULT_POOL_PER_WORKER = 10;
/** Long enough for a load balancer's health check to see `/readyz` fail (a few checks seconds apart) in production. */
const DEFAULT_PRODUCTION_GRACE_MS = 5_000;
/** What a stop may take after the grace: in-flight requests end within their statement timeouts long before. */
const DEFAULT_SHUTDOWN_AFTER_GRACE_MS = 20_000;

export function loadConfig(env: Env = process.env): AppConfig {
  const read = new EnvReader(env);
  const nodeEnv = read.oneOf('NODE_ENV', ['development', 'production', 'test'] as const, 'development');
  const host = read.string('HOST') ?? '127.0.0.1';
  const port = read.integer('PORT', 4000, 0, 65535);
  const workers = read.integer('WORKERS', nodeEnv === 'production' ? Math.min(os.availableParallelism(), MAX_WORKERS) : 1, 1, MAX_WORKERS);
  // One total for the server, so N pools fit PostgreSQL's max_connections (or the pooler's) whatever N is.
  const poolTotal = read.integer('DB_POOL_MAX', DEFAULT_POOL_PER_WORKER * workers, 1, 500);
  if (poolTotal < workers) {
    read.problems.push(`DB_POOL_MAX (${poolTotal}) must be at least WORKERS (${workers}): each worker needs a connection`);
  }
  const config: AppConfig = {
    nodeEnv,
    host,
    port,
    graphqlPath: '/graphql',
    workers,
    databaseUrl: read.url('DATABASE_URL', ['postgres:', 'postgresql:']),
    databaseMigrationUrl: read.url('DATABASE_MIGRATION_URL', ['postgres:', 'postgresql:']),
    databaseReplicaUrls: read.urls('DATABASE_REPLICA_URLS', ['postgres:', 'postgresql:']),
    dataDir: path.resolve(read.string('DATA_DIR') ?? '.data'),
    db: {
      pooler: read.oneOf('DATABASE_POOLER', DATABASE_POOLERS, 'none'),
      poolMax: Math.max(1, Math.floor(poolTotal / workers)),
      statementTimeoutMs: read.integer('DB_STATEMENT_TIMEOUT_MS', 5_000, 100, 600_000),
      lockTimeoutMs: read.integer('DB_LOCK_TIMEOUT_MS', 2_000, 10, 600_000),
      acquireTimeoutMs: read.integer('DB_ACQUIRE_TIMEOUT_MS', 3_000, 100, 120_000),
      connectTimeoutMs: read.integer('DB_CONNECT_TIMEOUT_MS', 5_000, 100, 120_000),
      replicaMaxLagMs: read.integer('DB_REPLICA_MAX_LAG_MS', 2_000, 0, 3_600_000),
    },
    auth: {
      jwtSecret: read.string('JWT_SECRET'),
      jwksUrl: read.url('JWT_JWKS_URL', ['https:', 'http:']),
      issuer: read.string('JWT_ISSUER'),
      audience: read.string('JWT_AUDIENCE'),
      requireEmailVerified: read.boolean('REQUIRE_EMAIL_VERIFIED', false),
      rolesClaim: read.string('ROLES_CLAIM') ?? 'roles',
      staffRole: read.string('STAFF_ROLE') ?? 'admin',
      teamsClaim: read.string('TEAMS_CLAIM'),
    },
    rateLimits: {
      perIpPerMinute: read.integer('RATE_LIMIT_PER_IP_PER_MINUTE', 1_200, 0, 1_000_000),
      perUserPerMinute: read.integer('RATE_LIMIT_PER_USER_PER_MINUTE', 600, 0, 1_000_000),
      userByEmailPerMinute: read.integer('RATE_LIMIT_USER_BY_EMAIL_PER_MINUTE', 30, 0, 1_000_000),
      store: read.oneOf('RATE_LIMIT_STORE', RATE_LIMIT_STORES, 'postgres'),
    },
    logLevel: read.oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const, 'info'),
    metrics: metricsConfig(read, nodeEnv),
    shutdown: shutdownConfig(read, nodeEnv),
  };

  if (config.metrics.port !== undefined && config.metrics.port !== 0 && config.metrics.port === port) {
    read.problems.push(`METRICS_PORT must differ from PORT (both ${port})`);
  }
  if (config.auth.jwtSecret && config.auth.jwtSecret.length < 32) {
    read.problems.push('JWT_SECRET must be at least 32 characters');
  }
  if (config.auth.jwtSecret && config.auth.jwksUrl) {
    read.problems.push('set JWT_SECRET or JWT_JWKS_URL, not both');
  }
  if (RESERVED_CLAIMS.includes(config.auth.rolesClaim)) {
    read.problems.push(`ROLES_CLAIM must not name a claim the token already uses for something else (got "${config.auth.rolesClaim}")`);
  }
  if (config.auth.staffRole === SERVICE_ROLE_VALUE) {
    read.problems.push(`STAFF_ROLE must differ from "${SERVICE_ROLE_VALUE}", the service tokens' role`);
  }
  if (config.db.pooler !== 'none' && !config.databaseUrl) {
    read.problems.push('DATABASE_POOLER needs DATABASE_URL (the embedded database is reached directly)');
  }
  if (config.databaseReplicaUrls.length > 0 && !config.databaseUrl) {
    read.problems.push('DATABASE_REPLICA_URLS needs DATABASE_URL (replicas stream from a primary the server reaches by URL)');
  }
  if (config.databaseMigrationUrl && !config.databaseUrl) {
    read.problems.push('DATABASE_MIGRATION_URL needs DATABASE_URL (the embedded database migrates itself)');
  }
  if (nodeEnv === 'production') {
    if (!config.databaseUrl) read.problems.push('DATABASE_URL is required in production');
    if (!config.auth.jwtSecret && !config.auth.jwksUrl) {
      read.problems.push('JWT_SECRET or JWT_JWKS_URL is required in production');
    }
  }
  if (read.problems.length > 0) throw new ConfigError(read.problems);
  return config;
}

function metricsConfig(read: EnvReader, nodeEnv: NodeEnv): AppConfig['metrics'] {
  const port = read.string('METRICS_PORT') === undefined ? undefined : read.integer('METRICS_PORT', 0, 0, 65535);
  const token = read.string('METRICS_TOKEN');
  if (token !== undefined && token.length < MIN_METRICS_TOKEN_LENGTH) {
    read.problems.push(`METRICS_TOKEN must be at least ${MIN_METRICS_TOKEN_LENGTH} characters`);
  }
  // Metrics tell the load, the errors and the database's state to whoever reads them: in production, only where the
  // operator chose to put them.
  const served = nodeEnv !== 'production' || port !== undefined || token !== undefined;
  return { served, port, token };
}

function shutdownConfig(read: EnvReader, nodeEnv: NodeEnv): AppConfig['shutdown'] {
  // Outside production nothing routes to the server by its readiness: a stop need not wait.
  const graceMs = read.integer('SHUTDOWN_GRACE_MS', nodeEnv === 'production' ? DEFAULT_PRODUCTION_GRACE_MS : 0, 0, 600_000);
  const timeoutMs = read.integer('SHUTDOWN_TIMEOUT_MS', graceMs + DEFAULT_SHUTDOWN_AFTER_GRACE_MS, 1_000, 3_600_000);
  if (timeoutMs <= graceMs) {
    read.problems.push(
      `SHUTDOWN_TIMEOUT_MS (${timeoutMs}) must exceed SHUTDOWN_GRACE_MS (${graceMs}): requests are answered after the grace`,
    );
  }
  return { graceMs, timeoutMs };
}

/** Entry points read `.env` when present; variables already set in the environment win. */
export function loadDotEnv(file = '.env'): void {
  if (existsSync(file)) process.loadEnvFile(file);
}
