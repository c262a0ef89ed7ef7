import { createHash } from 'node:crypto';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { EntityManager, MikroORM } from '@mikro-orm/postgresql';
import { DatabaseError, types, type QueryConfig, type QueryResult, type QueryResultRow } from 'pg';
import { keepsNamedStatements } from '../../mikro-orm.config';

/**
 * Every SQL statement the server sends, whichever way it goes (the read path below or the ORM's writes), is published
 * on these channels: tests count statements and round trips from them, the bench records them, and nothing pays for
 * it while nobody subscribes.
 */
export interface StatementStart {
  id: number;
  sql: string;
  values: readonly unknown[];
  /** Sent as a named prepared statement, whose plan PostgreSQL may reuse for any values. */
  prepared: boolean;
}

export interface StatementEnd {
  id: number;
  failed: boolean;
  /** Ended when it started, its answer never reported to us (a transaction's BEGIN, COMMIT...): its duration is unknown. */
  untimed?: true;
}

export const statementStarted = diagnosticsChannel.channel('tessera:sql:start');
export const statementEnded = diagnosticsChannel.channel('tessera:sql:end');

let lastStatementId = 0;

function published<T>(sql: string, values: readonly unknown[], prepared: boolean, run: () => Promise<T>): Promise<T> {
  if (!statementStarted.hasSubscribers && !statementEnded.hasSubscribers) return run();
  const id = ++lastStatementId;
  statementStarted.publish({ id, sql, values, prepared } satisfies StatementStart);
  return run().then(
    (result) => {
      statementEnded.publish({ id, failed: false } satisfies StatementEnd);
      return result;
    },
    (error: unknown) => {
      statementEnded.publish({ id, failed: true } satisfies StatementEnd);
      throw error;
    },
  );
}

/** Publishes the statements the ORM sends (through knex, which numbers them) on the same channels. */
export function publishOrmStatements(orm: MikroORM): void {
  const knex = orm.em.getConnection().getKnex();
  const ids = new Map<string, number>();
  const end = (query: { __knexQueryUid?: string }, failed: boolean) => {
    const id = query.__knexQueryUid === undefined ? undefined : ids.get(query.__knexQueryUid);
    if (id === undefined) return;
    ids.delete(query.__knexQueryUid!);
    statementEnded.publish({ id, failed } satisfies StatementEnd);
  };
  knex.on('query', (query: { sql: string; bindings?: unknown[]; __knexQueryUid?: string }) => {
    if (!statementStarted.hasSubscribers) return;
    const id = ++lastStatementId;
    statementStarted.publish({ id, sql: query.sql, values: query.bindings ?? [], prepared: false } satisfies StatementStart);
    if (query.__knexQueryUid !== undefined) ids.set(query.__knexQueryUid, id);
    // A transaction's own statements (BEGIN, COMMIT, ROLLBACK, SAVEPOINT) come unnumbered and are never reported as
    // answered; nothing else is sent on their connection until they are, so they end where they start.
    else statementEnded.publish({ id, failed: false, untimed: true } satisfies StatementEnd);
  });
  knex.on('query-response', (_response: unknown, query: { __knexQueryUid?: string }) => end(query, false));
  knex.on('query-error', (_error: unknown, query: { __knexQueryUid?: string }) => end(query, true));
}

/**
 * Records the statements sent while `work` runs, grouped into round trips: a statement sent before any earlier one
 * was answered travels alongside it (one DataLoader batch, a page and its count), one sent after an answer starts
 * the next trip. Requests must not overlap while recording.
 */
export class StatementRecorder {
  /** Every statement since `attach`, recorded or not. */
  count = 0;
  private trips: StatementStart[][] | null = null;
  private answeredSinceTripStart = false;

  private readonly onStart = (message: unknown) => {
    this.count += 1;
    if (!this.trips) return;
    if (this.trips.length === 0 || this.answeredSinceTripStart) {
      this.trips.push([message as StatementStart]);
      this.answeredSinceTripStart = false;
    } else {
      this.trips[this.trips.length - 1].push(message as StatementStart);
    }
  };

  private readonly onEnd = () => {
    this.answeredSinceTripStart = true;
  };

  attach(): this {
    statementStarted.subscribe(this.onStart);
    statementEnded.subscribe(this.onEnd);
    return this;
  }

  /** Without subscribers the server publishes nothing, as in production. */
  detach(): void {
    statementStarted.unsubscribe(this.onStart);
    statementEnded.unsubscribe(this.onEnd);
  }

  async capture<T>(work: () => Promise<T>): Promise<{ result: T; trips: StatementStart[][] }> {
    const trips: StatementStart[][] = [];
    this.trips = trips;
    this.answeredSinceTripStart = false;
    try {
      return { result: await work(), trips };
    } finally {
      this.trips = null;
    }
  }
}

/** A pooled node-postgres connection as the ORM's pool hands it out. */
interface PooledConnection {
  query<Row extends QueryResultRow>(config: QueryConfig): Promise<QueryResult<Row>>;
  end(): Promise<void>;
  /** The pool's mark for a connection it must destroy instead of handing it out again. */
  __knex__disposed?: unknown;
  /** knex's name for the connection, which its statement events carry. */
  __knexUid?: string;
}

interface ConnectionPool {
  acquireConnection(): Promise<PooledConnection>;
  releaseConnection(connection: PooledConnection): Promise<void>;
}

/**
 * After a statement failed, keeps its connection if PostgreSQL reported the failure (a timeout, a constraint): the
 * connection is in step. Any other failure (the client-side deadline, a broken socket) leaves it out of step: the
 * statement may still be running, to answer later, and a transaction may stay open on the connection, its ROLLBACK
 * queued behind that statement. Such a connection is closed at once (node-postgres destroys the socket of one with a
 * statement running; PostgreSQL rolls back whatever the session had open when it notices) and marked for the pool to
 * destroy rather than hand out again.
 */
function discardUnlessInStep(connection: PooledConnection, error: unknown): void {
  if (error instanceof DatabaseError || connection.__knex__disposed) return;
  connection.__knex__disposed = error;
  connection.end().catch(() => undefined);
}

/** The ORM's connections get the same treatment as `Sql`'s when one of its statements fails (`discardUnlessInStep`). */
export function discardOrmConnectionsOutOfStep(orm: MikroORM): void {
  const knex = orm.em.getConnection().getKnex();
  const pool = (knex.client as { pool: TarnPool }).pool;
  // The statement events name the connection; the pool hands out the connection itself.
  const inUse = new Map<string, PooledConnection>();
  pool.on('acquireSuccess', (_eventId: number, connection: PooledConnection) => inUse.set(connection.__knexUid!, connection));
  pool.on('release', (connection: PooledConnection) => inUse.delete(connection.__knexUid!));
  knex.on('query-error', (error: unknown, query: { __knexUid?: string }) => {
    const connection = query.__knexUid === undefined ? undefined : inUse.get(query.__knexUid);
    if (connection) discardUnlessInStep(connection, error);
  });
}

/** What `discardOrmConnectionsOutOfStep` uses of knex's pool (tarn). */
interface TarnPool {
  on(event: 'acquireSuccess', listener: (eventId: number, connection: PooledConnection) => void): void;
  on(event: 'release', listener: (connection: PooledConnection) => void): void;
}

const statementNames = new Map<string, string>();

/** A name per statement text: each connection parses and plans a text once, then only binds and executes it. */
function statementName(text: string): string {
  let name = statementNames.get(text);
  if (!name) {
    name = `r_${createHash('sha1').update(text).digest('base64url')}`;
    statementNames.set(text, name);
  }
  return name;
}

/**
 * SQL in the project's own words: parameters bound (`$1`, `$2`...), never inlined, each statement text prepared once
 * per connection under a name of its own, rows returned as node-postgres builds them (plain objects, no entities).
 * The read path runs on it (`Database.reader`), and so do writes that are one statement (`Sql.of(em)`). It borrows
 * connections from the ORM's pool, so there is one pool and one set of connection settings (timeouts) for reads
 * and writes alike. Statement texts must come from code, never from input: each distinct text is prepared and kept
 * on every connection that runs it. Behind a transaction-mode pooler (`DATABASE_POOLER`) every statement is sent
 * unnamed instead, parsed and planned with each call: nothing is left on a server connection another client gets next.
 */
export class Sql {
  private static readonly byPool = new WeakMap<object, Sql>();

  /** The statements of the pool `em` writes through (outside any transaction of `em`'s). */
  static of(em: EntityManager): Sql {
    const knex: { client: unknown } = em.getConnection().getKnex();
    const pool = knex.client as ConnectionPool;
    let sql = Sql.byPool.get(pool);
    if (!sql) {
      sql = new Sql(pool, keepsNamedStatements(em.config));
      Sql.byPool.set(pool, sql);
    }
    return sql;
  }

  /** The statements of a pool of its own: a replica's (src/db/replicas.ts). */
  static onPool(pool: unknown, namesStatements: boolean): Sql {
    return new Sql(pool as ConnectionPool, namesStatements);
  }

  private constructor(
    private readonly pool: ConnectionPool,
    private readonly namesStatements: boolean,
  ) {}

  /**
   * The rows of one statement. A prepared statement may be planned once for any values (PostgreSQL's generic plan);
   * `planEachCall` is for statements whose best plan depends on a value's selectivity (a search term, a tag: a rare
   * one wants its index, a common one the ordered scan), which are sent unnamed and planned with their values.
   */
  async rows<Row extends QueryResultRow>(
    text: string,
    values: readonly unknown[] = [],
    options: { planEachCall?: boolean } = {},
  ): Promise<Row[]> {
    const connection = await this.pool.acquireConnection();
    try {
      const name = options.planEachCall || !this.namesStatements ? undefined : statementName(text);
      const result = await published(text, values, name !== undefined, () =>
        // node-postgres' own parsers (timestamps as Dates): the ORM's connections keep them as text for its mapping.
        connection.query<Row>({ name, text, values: values as unknown[], types }),
      );
      return result.rows;
    } catch (error) {
      discardUnlessInStep(connection, error);
      throw error;
    } finally {
      await this.pool.releaseConnection(connection);
    }
  }
}

/**
 * What reads need of `Sql`: a request's reads may be routed among the primary and its replicas, and are told when the
 * request wrote something they must see (`RoutedReader`).
 */
export type Reader = Pick<Sql, 'rows'> & { wrote?(): void };

/**
 * A statement's values and their placeholders, in the style of whoever runs it: `$1`, `$2`... for Sql (bound
 * by PostgreSQL), `?` for the ORM's `em.execute` inside a write's transaction. SQL shared by both (the visibility
 * rule) is written once against this.
 */
export class SqlValues {
  readonly values: unknown[] = [];

  constructor(private readonly style: 'numbered' | 'question' = 'numbered') {}

  /** The placeholder standing for `value`. */
  bind(value: unknown): string {
    this.values.push(value);
    return this.style === 'numbered' ? `$${this.values.length}` : '?';
  }
}

/**
 * `column` is one of `ids`: an equality for a single id (one template, one experiment: the common case), whose plan
 * PostgreSQL keeps for any id; `= any(...)` for several, whose reusable plan would assume ten of them and look dearer
 * than one planned for the ids at hand, so it is planned each call.
 */
export function isOneOf(column: string, ids: readonly string[], values: SqlValues): string {
  return ids.length === 1 ? `${column} = ${values.bind(ids[0])}::uuid` : `${column} = any(${values.bind(ids)}::uuid[])`;
}
