import { Migration } from '@mikro-orm/migrations';

/**
 * The rate limits every server process shares (`src/http/rate-limit-counts.ts`): the requests each key made in each
 * fixed window, as the processes report them. UNLOGGED: counts are written to no WAL, and losing them in a crash only
 * lets a window start afresh. Rows are updated in place at every report; the free space of fillfactor 70 lets those
 * updates stay on their page. A new table: no live traffic to protect.
 */
export class Migration20261201120000_rate_limit_windows extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create unlogged table rate_limit_windows (
        window_start timestamptz not null,
        key text not null,
        used integer not null,
        constraint rate_limit_windows_pkey primary key (window_start, key)
      ) with (fillfactor = 70)`);
  }

  override async down(): Promise<void> {
    this.addSql(`drop table if exists rate_limit_windows`);
  }
}
