import type { EntityManager } from '@mikro-orm/postgresql';
import type { FastifyBaseLogger } from 'fastify';
import { withTransactionRetry } from '../db/transaction-retry';

/** How often each server process checks whether a UTC day has passed: the TRENDING window lags midnight by at most this. */
export const TRENDING_CHECK_EVERY_MS = 60_000;

/** The window's first day for today: the last 7 UTC days, today included. */
const WINDOW_START = `(now() at time zone 'utc')::date - 6`;

/**
 * Moves the TRENDING window (docs/SCALING.md): `experiment_templates.trending_count` counts each template's experiments
 * from `template_trending_window.starts_on` on, raised in each experiment's transaction; once a UTC day has passed, this
 * subtracts the days that left the window, read from `template_usage_daily`, and moves `starts_on`, in one
 * transaction. The window row's lock makes processes that check at once take turns: the first moves it, the others
 * find nothing to do. No experiment is created on a day that leaves the window (it is 7 days old), so the days
 * subtracted no longer change and the counts stay exact. Returns the number of days moved.
 */
export async function moveTrendingWindow(em: EntityManager): Promise<number> {
  // A plain read first: most checks find the window current, and a read takes no lock and writes nothing.
  const [{ behind }] = await em.execute<Array<{ behind: boolean }>>(
    `select starts_on < ${WINDOW_START} as behind from template_trending_window`,
  );
  if (!behind) return 0;
  return withTransactionRetry(em.fork(), async (tx) => {
    const [window] = await tx.execute<Array<{ startsOn: string; target: string; days: number }>>(
      `select starts_on::text as "startsOn", (${WINDOW_START})::text as target, (${WINDOW_START}) - starts_on as days
       from template_trending_window for update`,
    );
    if (window.days <= 0) return 0;
    await tx.execute(
      `update experiment_templates t set trending_count = t.trending_count - gone.experiments
       from (
         select d.template_id, sum(d.experiments)::integer as experiments
         from template_usage_daily d
         where d.day >= ?::date and d.day < ?::date
         group by d.template_id
       ) gone
       where gone.template_id = t.id`,
      [window.startsOn, window.target],
    );
    await tx.execute(`update template_trending_window set starts_on = ?::date`, [window.target]);
    return window.days;
  });
}

/** Checks every `TRENDING_CHECK_EVERY_MS` (and at once) in each server process; a failed check is logged and tried again. */
export class TrendingWindowKeeper {
  private readonly timer: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly em: EntityManager,
    private readonly logger: FastifyBaseLogger,
  ) {
    this.timer = setInterval(() => this.check(), TRENDING_CHECK_EVERY_MS).unref();
    this.check();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private check(): void {
    if (this.running) return;
    this.running = moveTrendingWindow(this.em.fork())
      .then((days) => {
        if (days > 0) this.logger.info({ days }, 'moved the TRENDING window');
      })
      .catch((error: unknown) => this.logger.warn({ err: error }, 'could not move the TRENDING window: trying again in a minute'))
      .finally(() => {
        this.running = undefined;
      });
  }
}
