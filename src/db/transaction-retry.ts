import diagnosticsChannel from 'node:diagnostics_channel';
import type { EntityManager } from '@mikro-orm/postgresql';

/**
 * PostgreSQL's answers that mean "this transaction lost a race; run it again and it will likely pass", by SQL state:
 * 40001 serialization_failure (REPEATABLE READ or SERIALIZABLE, whether set by us, by a pooler or as the database's
 * default) and 40P01 deadlock_detected (the deadlock detector chose this transaction as the victim). Either way the
 * transaction was rolled back whole, so running it again is safe; clients must never see these.
 */
const RETRY_REASONS = { '40001': 'serialization_failure', '40P01': 'deadlock' } as const;
export type RetryReason = (typeof RETRY_REASONS)[keyof typeof RETRY_REASONS];
export const RETRY_REASON_NAMES: readonly RetryReason[] = Object.values(RETRY_REASONS);

/** Each retry, as it is about to happen: `{ reason }` (metrics count them). */
export interface TransactionRetried {
  reason: RetryReason;
}
export const transactionRetried = diagnosticsChannel.channel('tessera:transaction:retry');

export interface TransactionRetryOptions {
  /** Attempts in all, the first included. */
  attempts?: number;
  /** The backoff before attempt n + 1 is a random time (full jitter) up to min(maxDelayMs, baseDelayMs * 2^(n-1)). */
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Told of each failure that is about to be retried (for logs and tests). */
  onRetry?: (error: unknown, attempt: number) => void;
}

export const DEFAULT_TRANSACTION_ATTEMPTS = 5;
const DEFAULT_BASE_DELAY_MS = 10;
const DEFAULT_MAX_DELAY_MS = 250;

/** Why an error (the driver's, or MikroORM's wrapper around it, which copies its `code`) is worth a retry, if it is. */
export function retryReasonOf(error: unknown): RetryReason | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, sqlState } = error as { code?: unknown; sqlState?: unknown };
  return reasonOfSqlState(code) ?? reasonOfSqlState(sqlState);
}

function reasonOfSqlState(state: unknown): RetryReason | undefined {
  return typeof state === 'string' && Object.hasOwn(RETRY_REASONS, state) ? RETRY_REASONS[state as keyof typeof RETRY_REASONS] : undefined;
}

export function isRetryableTransactionError(error: unknown): boolean {
  return retryReasonOf(error) !== undefined;
}

/**
 * `em.transactional(work)`, run again (after a short random pause) when PostgreSQL aborts it with a serialization
 * failure or as a deadlock victim, at most `attempts` times in all. `work` must be safe to repeat: it runs on a fresh
 * fork each time and everything it wrote was rolled back, but side effects outside the database would happen twice.
 *
 * Inside a transaction already (a nested call), it does not retry: a deadlock or serialization failure aborts the
 * whole outer transaction, not just a savepoint, so only the outermost call can run it again.
 */
export async function withTransactionRetry<T>(
  em: EntityManager,
  work: (em: EntityManager) => Promise<T>,
  options: TransactionRetryOptions = {},
): Promise<T> {
  if (em.isInTransaction()) return em.transactional(work);
  // A retry starts from an empty identity map: a failure at COMMIT comes after the failed attempt's entities were
  // merged into `em`, and nothing of that attempt may leak into the next.
  return withRetry((attempt) => em.transactional(work, attempt > 1 ? { clear: true } : {}), options);
}

/**
 * `attempt(n)` run again on the same terms: a write that is one statement (its own transaction) loses the same races,
 * a serialization failure under REPEATABLE READ among them, and is as safe to repeat.
 */
export async function withRetry<T>(work: (attempt: number) => Promise<T>, options: TransactionRetryOptions = {}): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? DEFAULT_TRANSACTION_ATTEMPTS);
  const baseDelayMs = options.baseDelayMs ?? DEFAULT_BASE_DELAY_MS;
  const maxDelayMs = options.maxDelayMs ?? DEFAULT_MAX_DELAY_MS;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work(attempt);
    } catch (error) {
      const reason = retryReasonOf(error);
      if (attempt >= attempts || reason === undefined) throw error;
      if (transactionRetried.hasSubscribers) transactionRetried.publish({ reason } satisfies TransactionRetried);
      options.onRetry?.(error, attempt);
      // Full jitter: callers that collided once should not collide again in lockstep.
      const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
    }
  }
}
