import { createHash } from 'node:crypto';
import type { Sql } from '../db/sql';

export interface LeaseRequest {
  /** What is limited: a client address or a user, with its scope (`ip:…`, `user:…`). */
  key: string;
  /** Requests the limit allows per window. */
  quota: number;
  /** Requests asked for at once (at most `quota`). */
  block: number;
}

export interface Lease {
  /** Requests this lease may admit: the block, less once the window's quota runs out, 0 when it has. */
  granted: number;
  /** What the window's quota still holds after this lease, for every process. */
  remaining: number;
  /** Milliseconds until the window ends, by the database's clock. */
  windowMsLeft: number;
}

/**
 * One statement leases a block for every key asked, in the current window by the database's clock (one clock for
 * every process): a new key's row starts with its block; an existing one grants what is left of its quota, up to the
 * block, computed from the row as it was (`last_grant`, since RETURNING sees only the new row). `excluded.last_grant`
 * is the block asked for. Rows are written in key order, so two statements over the same keys cannot deadlock.
 */
const LEASE_BLOCKS = `
  insert into rate_limit_windows as w (window_start, key, quota, used, last_grant)
  select date_bin($4::interval, statement_timestamp(), timestamptz '2000-01-01 00:00:00+00'), lease.key, lease.quota,
    least(lease.block, lease.quota), least(lease.block, lease.quota)
  from unnest($1::text[], $2::int[], $3::int[]) as lease (key, quota, block)
  order by lease.key
  on conflict (window_start, key) do update
  set quota = excluded.quota,
    used = w.used + greatest(0, least(excluded.last_grant, excluded.quota - w.used)),
    last_grant = greatest(0, least(excluded.last_grant, excluded.quota - w.used))
  returning key, last_grant as granted, quota - used as remaining,
    ceil(extract(epoch from w.window_start + $4::interval - statement_timestamp()) * 1000)::int as window_ms_left`;

/** Windows that ended before the one before the current one: no lease can reach them any more. */
const DELETE_OLD_WINDOWS = `delete from rate_limit_windows where window_start < statement_timestamp() - $1::interval`;

/**
 * The budgets of fixed windows shared by every server process, in PostgreSQL's UNLOGGED `rate_limit_windows`: each
 * process leases blocks of a key's quota and spends them on its own (`RateLimiter`), so the database sees one
 * statement per block, not one per request.
 */
export class RateLimitLeases {
  constructor(
    private readonly sql: Sql,
    readonly windowMs: number,
  ) {}

  /** A lease for each request, in their order; keys must be distinct. */
  async lease(requests: readonly LeaseRequest[]): Promise<Lease[]> {
    const storedKeys = requests.map((request) => storedKeyOf(request.key));
    const rows = await this.sql.rows<{ key: string; granted: number; remaining: number; window_ms_left: number }>(LEASE_BLOCKS, [
      storedKeys,
      requests.map((request) => request.quota),
      requests.map((request) => request.block),
      this.window(),
    ]);
    const byKey = new Map(rows.map((row) => [row.key, row]));
    return storedKeys.map((key) => {
      const row = byKey.get(key)!;
      return { granted: row.granted, remaining: row.remaining, windowMsLeft: row.window_ms_left };
    });
  }

  /** Deletes the rows of windows long over. */
  async deleteOldWindows(): Promise<void> {
    await this.sql.rows(DELETE_OLD_WINDOWS, [this.window()]);
  }

  private window(): string {
    return `${this.windowMs} milliseconds`;
  }
}

/**
 * Keys come from clients (an address, a token's subject): a digest keeps them a fixed size and text PostgreSQL can
 * always store (a NUL in a subject would fail the whole statement), and keeps them out of the table.
 */
function storedKeyOf(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}
