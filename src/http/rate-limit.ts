import DataLoader from 'dataloader';
import type { FastifyBaseLogger } from 'fastify';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { LruCache } from '../cache/lru-cache';
import type { AppConfig } from '../config';
import type { Sql } from '../db/sql';
import { RateLimitLeases, type Lease, type LeaseRequest } from './rate-limit-leases';
import { withTimeout } from './timeout';

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number; scope: Scope };

type Scope = 'ip' | 'user';

const ALLOWED: RateDecision = { allowed: true };

const WINDOW_MS = 60_000;

/**
 * The share of a limit a process leases at a time. A process holds at most one block per key, and only a block left
 * unspent when the window ends goes unused: with P processes, a key busy enough to reach its limit gets between the
 * limit less P blocks and the limit (2 processes: within 10%). Smaller blocks would be more exact and cost a statement
 * more often.
 */
const BLOCK_SHARE = 1 / 20;

/** The longest a request waits for the store (a lease is one short statement) before it is counted here instead. */
export const LEASE_DEADLINE_MS = 500;

/** Once the store failed, this process counts on its own for this long before it asks the store again. */
export const STORE_RETRY_MS = 5_000;

/** Keys whose leased blocks a process remembers; one forgotten early loses its unspent block, never admits more. */
const MAX_BUDGETS = 100_000;

/** Keys leased in one statement, at most. */
const MAX_KEYS_PER_LEASE = 100;

interface Limit {
  scope: Scope;
  perWindow: number;
  block: number;
  /** Counts of this process alone: `RATE_LIMIT_STORE=memory`, and while the shared store does not answer. */
  inProcess: RateLimiterMemory;
}

/** What a process holds of a key's budget in the current window. */
interface Budget {
  /** Leased requests not yet admitted. */
  unspent: number;
  /** The window's quota is spent by every process together: refuse once `unspent` is. */
  exhausted: boolean;
  windowEndsAt: number;
}

/**
 * Requests per minute per client address and per authenticated user (0 turns a limit off); each request counts
 * against both. With `RATE_LIMIT_STORE=postgres` (the default) the limits are shared by every server process: each
 * leases blocks of a key's budget from PostgreSQL (`RateLimitLeases`) and spends them on its own, and concurrent
 * requests for a key wait for its one lease in flight. When the store does not answer within `LEASE_DEADLINE_MS`, this
 * process counts on its own (as with `RATE_LIMIT_STORE=memory`) for `STORE_RETRY_MS` before trying it again; it logs
 * when it stops and starts sharing, not per request.
 */
export class RateLimiter {
  private readonly limits: Partial<Record<Scope, Limit>> = {};
  /** Absent with `RATE_LIMIT_STORE=memory`, or with every limit off. */
  private readonly leases?: DataLoader<LeaseRequest, Lease, string>;
  private readonly leasesInFlight = new Map<string, Promise<void>>();
  private readonly budgets = new LruCache<string, Budget>(MAX_BUDGETS);
  private readonly deleteOldWindowsTimer?: NodeJS.Timeout;
  /** Set while the store does not answer: when to ask it again. */
  private storeRetryAt?: number;

  constructor(
    config: AppConfig['rateLimits'],
    sql: Sql,
    private readonly logger: FastifyBaseLogger,
  ) {
    if (config.perIpPerMinute > 0) this.limits.ip = limitOf('ip', config.perIpPerMinute);
    if (config.perUserPerMinute > 0) this.limits.user = limitOf('user', config.perUserPerMinute);
    if (config.store === 'postgres' && (this.limits.ip || this.limits.user)) {
      const store = new RateLimitLeases(sql, WINDOW_MS);
      // The keys of one request (its address and its user), and of requests arriving together, go in one statement.
      this.leases = new DataLoader((requests) => withTimeout(store.lease(requests), LEASE_DEADLINE_MS), {
        cache: false,
        maxBatchSize: MAX_KEYS_PER_LEASE,
      });
      this.deleteOldWindowsTimer = setInterval(() => void this.deleteOldWindows(store), WINDOW_MS).unref();
    }
  }

  async take(ip: string, userKey: string | undefined): Promise<RateDecision> {
    const [byIp, byUser] = await Promise.all([this.takeOne(this.limits.ip, ip), this.takeOne(this.limits.user, userKey)]);
    return byIp.allowed ? byUser : byIp;
  }

  close(): void {
    clearInterval(this.deleteOldWindowsTimer);
  }

  private async takeOne(limit: Limit | undefined, key: string | undefined): Promise<RateDecision> {
    if (!limit || key === undefined) return ALLOWED;
    if (this.leases && (this.storeRetryAt === undefined || Date.now() >= this.storeRetryAt)) {
      try {
        const decision = await this.takeShared(this.leases, limit, `${limit.scope}:${key}`);
        this.storeAnswered();
        return decision;
      } catch (error) {
        this.storeFailed(error);
      }
    }
    return takeInProcess(limit, key);
  }

  private async takeShared(leases: DataLoader<LeaseRequest, Lease, string>, limit: Limit, key: string): Promise<RateDecision> {
    for (;;) {
      const now = Date.now();
      const budget = this.budgets.get(key, now);
      if (budget && budget.unspent > 0) {
        budget.unspent -= 1;
        return ALLOWED;
      }
      if (budget?.exhausted) {
        return { allowed: false, scope: limit.scope, retryAfterSeconds: Math.max(1, Math.ceil((budget.windowEndsAt - now) / 1000)) };
      }
      await this.leaseBlock(leases, limit, key);
    }
  }

  /** The key's one lease in flight, started when there is none; it replaces the key's spent budget. */
  private leaseBlock(leases: DataLoader<LeaseRequest, Lease, string>, limit: Limit, key: string): Promise<void> {
    let inFlight = this.leasesInFlight.get(key);
    if (!inFlight) {
      inFlight = leases
        .load({ key, quota: limit.perWindow, block: limit.block })
        .then((lease) => {
          const windowEndsAt = Date.now() + lease.windowMsLeft;
          this.budgets.set(key, { unspent: lease.granted, exhausted: lease.remaining <= 0, windowEndsAt }, windowEndsAt);
        })
        .finally(() => this.leasesInFlight.delete(key));
      this.leasesInFlight.set(key, inFlight);
    }
    return inFlight;
  }

  private async deleteOldWindows(store: RateLimitLeases): Promise<void> {
    if (this.storeRetryAt !== undefined) return;
    try {
      await store.deleteOldWindows();
    } catch (error) {
      this.storeFailed(error);
    }
  }

  private storeFailed(error: unknown): void {
    if (this.storeRetryAt === undefined) {
      this.logger.warn(
        { err: error, retryInMs: STORE_RETRY_MS },
        'rate limit store unreachable: each process counts the limits on its own until it answers',
      );
    }
    this.storeRetryAt = Date.now() + STORE_RETRY_MS;
  }

  private storeAnswered(): void {
    if (this.storeRetryAt === undefined) return;
    this.storeRetryAt = undefined;
    this.logger.info('rate limit store answers again: limits are shared by every process');
  }
}

function limitOf(scope: Scope, perMinute: number): Limit {
  return {
    scope,
    perWindow: perMinute,
    block: Math.max(1, Math.floor(perMinute * BLOCK_SHARE)),
    inProcess: new RateLimiterMemory({ points: perMinute, duration: WINDOW_MS / 1000 }),
  };
}

async function takeInProcess(limit: Limit, key: string): Promise<RateDecision> {
  try {
    await limit.inProcess.consume(key);
    return ALLOWED;
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) {
      return { allowed: false, scope: limit.scope, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
    }
    throw rejection;
  }
}
