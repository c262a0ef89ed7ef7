import { knex, type Knex } from '@mikro-orm/postgresql';
import { DatabaseError, type QueryResultRow } from 'pg';
import { connectionSettings, poolSettings } from '../../mikro-orm.config';
import type { AppConfig } from '../config';
import { Sql, type Reader } from './sql';

/**
 * A position in the primary's write-ahead log. The server hands it to a client after a write (`READ_AFTER_HEADER`);
 * the client sends the latest one it holds with every request, and a replica serves that request only once it has
 * replayed the log up to there.
 */
export type WalPosition = bigint;

export const READ_AFTER_HEADER = 'x-tessera-read-after';

/** PostgreSQL prints a WAL position as two hexadecimal halves of 32 bits: `16/B374D848`. */
export function parseWalPosition(text: string): WalPosition | null {
  const match = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(text);
  if (!match) return null;
  return (BigInt(`0x${match[1]}`) << 32n) | BigInt(`0x${match[2]}`);
}

export function formatWalPosition(position: WalPosition): string {
  return `${(position >> 32n).toString(16).toUpperCase()}/${(position & 0xffffffffn).toString(16).toUpperCase()}`;
}

export type ReplicaState = 'serving' | 'behind' | 'down';

export interface ReplicaHealth {
  /** host:port of the replica: never its credentials. */
  name: string;
  state: ReplicaState;
  /** How long the replica has been missing WAL the primary had; null while it cannot be asked. */
  lagMs: number | null;
}

const CHECK_EVERY_MS = 200;
/** Ten minutes of samples. */
const MAX_SAMPLES = (10 * 60_000) / CHECK_EVERY_MS;

class Replica {
  state: ReplicaState = 'down';
  replayed: WalPosition = 0n;
  lagMs: number | null = null;

  constructor(
    readonly name: string,
    readonly sql: Sql,
    readonly pool: Knex,
  ) {}
}

/**
 * The streaming replicas of the primary and what each has replayed, checked every `CHECK_EVERY_MS` by each process:
 * the primary's WAL position is sampled, and a replica's lag is how long ago the primary had WAL the replica has not
 * replayed yet (0 when it has replayed everything the primary had). A replica serves reads while its lag is within
 * `DB_REPLICA_MAX_LAG_MS`; one that is behind, down, or failed a statement since the last check serves none, and its
 * reads go to the primary. A request carrying a WAL position is served by a replica that has replayed it, or by the
 * primary: a writer always reads its writes.
 */
export class ReplicaSet {
  private readonly primarySamples: Array<{ at: number; position: WalPosition }> = [];
  private nextReplica = 0;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(
    readonly primary: Sql,
    private readonly replicas: Replica[],
    private readonly maxLagMs: number,
  ) {}

  /** Opens a pool per replica URL (connected on first use) and checks them once before the server serves. */
  static async open(primary: Sql, urls: string[], db: AppConfig['db'], applicationName?: string): Promise<ReplicaSet> {
    const replicas = urls.map((url) => {
      const pool = knex({
        client: 'pg',
        connection: { connectionString: url, ...connectionSettings({ db, applicationName }) },
        pool: poolSettings(db),
      });
      const parsed = new URL(url);
      return new Replica(`${parsed.hostname}:${parsed.port || '5432'}`, Sql.onPool(pool.client, db.pooler === 'none'), pool);
    });
    const set = new ReplicaSet(primary, replicas, db.replicaMaxLagMs);
    await set.check();
    set.scheduleCheck();
    return set;
  }

  /** Where a request that only reads goes: a replica serving and past `readAfter` (in turn), else the primary. */
  readerFor(readAfter: WalPosition | null): Sql {
    for (let tried = 0; tried < this.replicas.length; tried++) {
      const replica = this.replicas[this.nextReplica++ % this.replicas.length];
      if (replica.state === 'serving' && (readAfter === null || replica.replayed >= readAfter)) return replica.sql;
    }
    return this.primary;
  }

  /** A replica whose statement failed for want of the replica serves nothing until a check finds it well again. */
  markDown(sql: Sql): void {
    const replica = this.replicas.find((candidate) => candidate.sql === sql);
    if (!replica) return;
    replica.state = 'down';
    replica.lagMs = null;
  }

  /**
   * The primary's WAL position now: after a write committed, a position past its commit record. The insert position,
   * not the written one: with `synchronous_commit = off` a commit returns before its record is written.
   */
  async primaryPosition(): Promise<string> {
    const [{ position }] = await this.primary.rows<{ position: string }>('select pg_current_wal_insert_lsn()::text as position');
    return position;
  }

  health(): ReplicaHealth[] {
    return this.replicas.map(({ name, state, lagMs }) => ({ name, state, lagMs }));
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.timer);
    await Promise.all(this.replicas.map((replica) => replica.pool.destroy()));
  }

  private scheduleCheck(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => void this.check().finally(() => this.scheduleCheck()), CHECK_EVERY_MS);
    // The checks never keep a process alive on their own.
    this.timer.unref();
  }

  private async check(): Promise<void> {
    try {
      const position = parseWalPosition(await this.primaryPosition());
      if (position !== null) this.primarySamples.push({ at: Date.now(), position });
    } catch {
      // The primary cannot be asked: lags are measured against the samples taken so far.
    }
    this.forgetSamplesOlderThanNeeded();
    await Promise.all(this.replicas.map((replica) => this.checkReplica(replica)));
  }

  private async checkReplica(replica: Replica): Promise<void> {
    try {
      const [{ replayed }] = await replica.sql.rows<{ replayed: string | null }>('select pg_last_wal_replay_lsn()::text as replayed');
      // null: the server is not in recovery, so it is no replica of anything; reading from it could return anything.
      const position = replayed === null ? null : parseWalPosition(replayed);
      if (position === null) {
        replica.state = 'down';
        replica.lagMs = null;
        return;
      }
      replica.replayed = position;
      const firstMissing = this.primarySamples.find((sample) => sample.position > position);
      replica.lagMs = firstMissing ? Date.now() - firstMissing.at : 0;
      replica.state = replica.lagMs > this.maxLagMs ? 'behind' : 'serving';
    } catch {
      replica.state = 'down';
      replica.lagMs = null;
    }
  }

  /**
   * A sample is needed while some replica has not replayed the next one (it dates that replica's lag); with every
   * replica down, the last `MAX_SAMPLES` keep the lag measurable when one returns.
   */
  private forgetSamplesOlderThanNeeded(): void {
    let oldestReplayed: WalPosition | null = null;
    for (const replica of this.replicas) {
      if (replica.state !== 'down' && (oldestReplayed === null || replica.replayed < oldestReplayed)) oldestReplayed = replica.replayed;
    }
    const samples = this.primarySamples;
    while (samples.length > 1 && (samples.length > MAX_SAMPLES || (oldestReplayed !== null && samples[1].position <= oldestReplayed))) {
      samples.shift();
    }
  }
}

/**
 * The reads of one request when the server has replicas. They go to the primary until the operation is known to be
 * a query (`readsOnly`): a mutation, and the reads of its answer, stay on the primary, and so do the reads of a query
 * after it wrote the caller's own row (`wrote`: a new user, changed claims). A statement a replica cannot
 * answer for want of the replica (gone, shutting down, cancelled by recovery) is sent again to the primary: a read
 * can be repeated, and the replica serves nothing more until it is found well.
 */
export class RoutedReader implements Reader {
  private target: Sql;
  /** The request wrote outside a mutation (the caller's own row): its answer carries the position too. */
  wroteOutsideMutation = false;

  constructor(
    private readonly replicas: ReplicaSet,
    private readonly readAfter: WalPosition | null,
  ) {
    this.target = replicas.primary;
  }

  readsOnly(): void {
    if (!this.wroteOutsideMutation) this.target = this.replicas.readerFor(this.readAfter);
  }

  /** What the request reads from now on must include its own write: only the primary has it for sure. */
  wrote(): void {
    this.wroteOutsideMutation = true;
    this.target = this.replicas.primary;
  }

  async rows<Row extends QueryResultRow>(text: string, values?: readonly unknown[], options?: { planEachCall?: boolean }): Promise<Row[]> {
    const target = this.target;
    if (target === this.replicas.primary) return target.rows<Row>(text, values, options);
    try {
      return await target.rows<Row>(text, values, options);
    } catch (error) {
      if (!replicaUnavailable(error)) throw error;
      this.replicas.markDown(target);
      this.target = this.replicas.primary;
      return this.target.rows<Row>(text, values, options);
    }
  }
}

/**
 * Failures of the replica rather than of the statement: no connection (refused, cut, pool timeout), the connection
 * class 08, the server shutting down or starting (57P01-57P03), and a query cancelled by a conflict with recovery
 * (40001 on a standby). A statement timeout or bad SQL would fail on the primary too, and is not repeated.
 */
function replicaUnavailable(error: unknown): boolean {
  if (!(error instanceof DatabaseError)) return true;
  const code = error.code ?? '';
  return code.startsWith('08') || ['57P01', '57P02', '57P03', '40001'].includes(code);
}
