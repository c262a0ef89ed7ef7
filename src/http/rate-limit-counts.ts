import { createHash } from 'node:crypto';
import type { Sql } from '../db/sql';

export interface CountedRequests {
  /** What is limited: a client address or a user, with its scope (`ip:…`, `user:…`). */
  key: string;
  /** Requests admitted since the last report. */
  requests: number;
}

export interface Totals {
  /** Each key's requests in the window, as every process reported them (this report included), in the keys' order. */
  totals: number[];
  /** The database's clock when it counted them. */
  databaseNow: number;
}

/**
 * Adds each key's requests to its row of the window. Rows are written in key order, so two reports over the same keys
 * cannot deadlock.
 */
const ADD_REQUESTS = `
  insert into rate_limit_windows as w (window_start, key, used)
  select $1, counted.key, counted.requests
  from unnest($2::text[], $3::int[]) as counted (key, requests)
  order by counted.key
  on conflict (window_start, key) do update set used = w.used + excluded.used
  returning key, used, extract(epoch from statement_timestamp()) * 1000 as database_now_ms`;

const DELETE_WINDOWS_BEFORE = `delete from rate_limit_windows where window_start < $1`;

/**
 * Requests per key and fixed window, counted by every server process together in PostgreSQL's UNLOGGED
 * `rate_limit_windows` (`RateLimiter` reports its counts in batches, not one statement per request).
 */
export class RateLimitCounts {
  constructor(private readonly sql: Sql) {}

  /** Adds the requests of the window starting at `windowStart`; keys must be distinct. */
  async add(windowStart: number, counted: readonly CountedRequests[]): Promise<Totals> {
    const storedKeys = counted.map((entry) => storedKeyOf(entry.key));
    const rows = await this.sql.rows<{ key: string; used: number; database_now_ms: string }>(ADD_REQUESTS, [
      new Date(windowStart),
      storedKeys,
      counted.map((entry) => entry.requests),
    ]);
    const used = new Map(rows.map((row) => [row.key, row.used]));
    return { totals: storedKeys.map((key) => used.get(key)!), databaseNow: Number(rows[0].database_now_ms) };
  }

  async deleteWindowsBefore(windowStart: number): Promise<void> {
    await this.sql.rows(DELETE_WINDOWS_BEFORE, [new Date(windowStart)]);
  }
}

/**
 * Keys come from clients (an address, a token's subject): a digest keeps them a fixed size and text PostgreSQL can
 * always store (a NUL in a subject would fail the whole report), and keeps them out of the table.
 */
export function storedKeyOf(key: string): string {
  return createHash('sha256').update(key).digest('base64url');
}
