import type { FastifyBaseLogger } from 'fastify';
import { LruCache } from '../cache/lru-cache';
import type { AppConfig } from '../config';
import type { Sql } from '../db/sql';
import { RateLimitCounts } from './rate-limit-counts';
import { withTimeout } from './timeout';

/** The limits every GraphQL request counts against, before Apollo runs it (refused with HTTP 429). */
export const RATE_LIMIT_SCOPES = ['ip', 'user'] as const;
export type RateLimitScope = (typeof RATE_LIMIT_SCOPES)[number];
/**
 * Limits on one operation, counted by its resolver each time it runs (`userByEmail`: an address per lookup, so a
 * caller cannot find out who has an account by trying addresses at the general rate).
 */
export type OperationLimitScope = 'user_by_email';
type LimitScope = RateLimitScope | OperationLimitScope;

export type RateDecision<Scope extends LimitScope = RateLimitScope> =
  { allowed: true } | { allowed: false; retryAfterSeconds: number; scope: Scope };

const ALLOWED = { allowed: true } as const;

export const WINDOW_MS = 60_000;

/**
 * The requests of a key a process may admit before the store has heard of them, as a share of the limit. A process
 * admits while the store's count and its own unreported requests stay under the limit, so with P processes a key
 * gets at most P - 1 blocks more than its limit (2 processes: within 5%). Smaller blocks are more exact and report
 * more often.
 */
const BLOCK_SHARE = 1 / 20;

/** Keys below their block are reported this often, all in one statement. */
export const REPORT_EVERY_MS = 1_000;

/** The longest a report may take (one short statement) before the process counts on its own. */
export const REPORT_DEADLINE_MS = 500;

/** Once the store failed, this process counts on its own for this long before it reports again. */
export const STORE_RETRY_MS = 5_000;

/** Keys a process keeps counts of; one forgotten early loses its unreported requests (a block at most). */
const MAX_KEYS = 100_000;

interface Limit {
  scope: LimitScope;
  perWindow: number;
  block: number;
}

/** What a process knows of a key in the current window. */
interface KeyCount {
  windowStart: number;
  /** The store's count when it last answered: every process's reported requests, this one's included. */
  reported: number;
  /** Admitted here since the last report. */
  unreported: number;
}

/**
 * Requests per fixed minute per client address and per authenticated user (0 turns a limit off); each request counts
 * against both. Operations with a limit of their own (`takeOperation`) count against it too, keyed the same way. Each process admits and refuses on its own, from what it knows of a key: the count the store last gave
 * and the requests it admitted since. With `RATE_LIMIT_STORE=postgres` (the default) it reports those requests to
 * PostgreSQL (`RateLimitCounts`), every `REPORT_EVERY_MS` for every key in one statement, and at once for a key that
 * reaches its block, whose further requests wait for that report: the store answers each key's count over every
 * process. No request waits for the store otherwise. When the store does not answer within `REPORT_DEADLINE_MS`, the
 * process goes on counting on its own (as with `RATE_LIMIT_STORE=memory`, from the last count the store gave) and
 * reports again after `STORE_RETRY_MS`; it logs when it stops and starts sharing, not per request.
 */
export class RateLimiter {
  private readonly limits: Partial<Record<LimitScope, Limit>> = {};
  private readonly counts = new LruCache<string, KeyCount>(MAX_KEYS);
  /** Absent with `RATE_LIMIT_STORE=memory`, or with every limit off. */
  private readonly store?: RateLimitCounts;
  /** Keys with requests the store has not heard of. */
  private readonly unreportedKeys = new Set<string>();
  private reportInFlight?: Promise<void>;
  private reportScheduled = false;
  private readonly timers: NodeJS.Timeout[] = [];
  /** The database's clock less this process's, from the last report: windows follow the database's clock. */
  private clockOffsetMs = 0;
  /** Set while the store does not answer: when to report again. */
  private storeRetryAt?: number;

  constructor(
    config: AppConfig['rateLimits'],
    sql: Sql,
    private readonly logger: FastifyBaseLogger,
  ) {
    if (config.perIpPerMinute > 0) this.limits.ip = limitOf('ip', config.perIpPerMinute);
    if (config.perUserPerMinute > 0) this.limits.user = limitOf('user', config.perUserPerMinute);
    if (config.userByEmailPerMinute > 0) this.limits.user_by_email = limitOf('user_by_email', config.userByEmailPerMinute);
    if (config.store === 'postgres' && Object.keys(this.limits).length > 0) {
      const store = new RateLimitCounts(sql);
      this.store = store;
      this.timers.push(
        setInterval(() => {
          if (this.unreportedKeys.size > 0 && this.sharing()) void this.report(store);
        }, REPORT_EVERY_MS).unref(),
        setInterval(() => void this.deleteOldWindows(store), WINDOW_MS).unref(),
      );
    }
  }

  /** One GraphQL request of a client address and, with a valid token, of its user (`sub:<subject>`). */
  async take(ip: string, userKey: string | undefined): Promise<RateDecision<RateLimitScope>> {
    const [byIp, byUser] = await Promise.all([this.takeOne(this.limits.ip, ip), this.takeOne(this.limits.user, userKey)]);
    return (byIp.allowed ? byUser : byIp) as RateDecision<RateLimitScope>;
  }

  /** One run of a limited operation by a user (`sub:<subject>`), counted and shared like the request limits. */
  async takeOperation(scope: OperationLimitScope, userKey: string): Promise<RateDecision<OperationLimitScope>> {
    return (await this.takeOne(this.limits[scope], userKey)) as RateDecision<OperationLimitScope>;
  }

  /** Stops reporting on a timer, after one last report of what the store has not heard of. */
  async close(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    // A report in flight may have left out the last requests.
    await this.reportInFlight;
    if (this.store && this.unreportedKeys.size > 0 && this.sharing()) await this.report(this.store);
  }

  private async takeOne(limit: Limit | undefined, key: string | undefined): Promise<RateDecision<LimitScope>> {
    if (!limit || key === undefined) return ALLOWED;
    const id = `${limit.scope}:${key}`;
    for (;;) {
      const now = Date.now() + this.clockOffsetMs;
      const windowStart = now - (now % WINDOW_MS);
      let count = this.counts.get(id);
      if (count?.windowStart !== windowStart) {
        count = { windowStart, reported: 0, unreported: 0 };
        this.counts.set(id, count, windowStart + WINDOW_MS - this.clockOffsetMs);
      }
      if (count.reported + count.unreported >= limit.perWindow) {
        return { allowed: false, scope: limit.scope, retryAfterSeconds: Math.max(1, Math.ceil((windowStart + WINDOW_MS - now) / 1000)) };
      }
      if (this.store && this.sharing() && count.unreported >= limit.block) {
        await this.report(this.store);
        continue;
      }
      count.unreported += 1;
      if (this.store) {
        this.unreportedKeys.add(id);
        if (count.unreported >= limit.block) this.reportSoon(this.store);
      }
      return ALLOWED;
    }
  }

  private sharing(): boolean {
    return this.storeRetryAt === undefined || Date.now() >= this.storeRetryAt;
  }

  /** Keys reaching their block in the same turn of the event loop (a request's address and user) share a report. */
  private reportSoon(store: RateLimitCounts): void {
    if (this.reportScheduled) return;
    this.reportScheduled = true;
    setImmediate(() => {
      this.reportScheduled = false;
      void this.report(store);
    });
  }

  /** The report in flight, or a new one of every key's unreported requests; it never fails. */
  private report(store: RateLimitCounts): Promise<void> {
    this.reportInFlight ??= this.sendReport(store).finally(() => (this.reportInFlight = undefined));
    return this.reportInFlight;
  }

  private async sendReport(store: RateLimitCounts): Promise<void> {
    const now = Date.now() + this.clockOffsetMs;
    const windowStart = now - (now % WINDOW_MS);
    const sent: Array<{ id: string; count: KeyCount; requests: number }> = [];
    for (const id of this.unreportedKeys) {
      const count = this.counts.get(id);
      // Requests of a window that is over count for nothing any more.
      if (count?.windowStart !== windowStart || count.unreported === 0) this.unreportedKeys.delete(id);
      else sent.push({ id, count, requests: count.unreported });
    }
    if (sent.length === 0) return;
    const sentAt = Date.now();
    try {
      const { totals, databaseNow } = await withTimeout(
        store.add(
          windowStart,
          sent.map(({ id, requests }) => ({ key: id, requests })),
        ),
        REPORT_DEADLINE_MS,
      );
      this.clockOffsetMs = databaseNow - (sentAt + Date.now()) / 2;
      sent.forEach(({ id, count, requests }, i) => {
        count.unreported -= requests;
        count.reported = totals[i];
        if (count.unreported === 0) this.unreportedKeys.delete(id);
      });
      this.storeAnswered();
    } catch (error) {
      // The requests stay unreported, for the next report.
      this.storeFailed(error);
    }
  }

  private async deleteOldWindows(store: RateLimitCounts): Promise<void> {
    if (!this.sharing()) return;
    const now = Date.now() + this.clockOffsetMs;
    try {
      await store.deleteWindowsBefore(now - (now % WINDOW_MS) - WINDOW_MS);
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

function limitOf(scope: LimitScope, perMinute: number): Limit {
  return { scope, perWindow: perMinute, block: Math.max(1, Math.floor(perMinute * BLOCK_SHARE)) };
}
