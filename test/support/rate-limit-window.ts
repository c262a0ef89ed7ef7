interface Database {
  query(sql: string): Promise<Array<Record<string, any>>>;
}

const WINDOW_MS = 60_000;

/**
 * Shared rate limits count in fixed one-minute windows by the database's clock. A test that counts requests against a
 * limit starts with at least `leftMs` of the current window ahead, waiting for the next window otherwise, so that no
 * window ends (and no count starts afresh) midway.
 */
export async function waitForRateLimitWindow(db: Database, leftMs = 20_000): Promise<void> {
  const [row] = await db.query(`select (extract(epoch from statement_timestamp()) * 1000)::bigint % ${WINDOW_MS} as into_window_ms`);
  const msLeft = WINDOW_MS - Number(row.into_window_ms);
  if (msLeft < leftMs) await new Promise((resolve) => setTimeout(resolve, msLeft + 50));
}
