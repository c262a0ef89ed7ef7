import type { AddressInfo } from 'node:net';
import { MikroORM } from '@mikro-orm/postgresql';
import pino from 'pino';
import { createOrmConfig } from '../mikro-orm.config';
import { createApp, type App } from '../src/app';
import { signLocalToken } from '../src/auth/local-secret';
import { loadConfig } from '../src/config';
import { databaseOf } from '../src/db/database';
import { statementEnded, statementStarted, type StatementStart } from '../src/db/sql';

export const BENCH_JWT_SECRET = 'tessera-bench-secret-0123456789-abcdefghij';

export interface Statement {
  sql: string;
  bindings: unknown[];
}

/**
 * Statements in the order the server sent them, grouped into stages: a statement sent before any earlier one was
 * answered runs alongside it (DataLoader batches of the same tick), one sent after an answer starts the next stage.
 */
export type Stages = Statement[][];

/**
 * Counts every statement the server sends (the ORM's and the read path's alike, from the channels of src/db/sql.ts)
 * and, on demand, records them with their values, stage by stage.
 */
export class SqlRecorder {
  count = 0;
  private stages: Stages | null = null;
  private answeredSinceStageStart = false;

  private readonly onStart = (message: unknown) => {
    this.count += 1;
    if (!this.stages) return;
    const { sql, values } = message as StatementStart;
    const statement = { sql, bindings: [...values] };
    if (this.stages.length === 0 || this.answeredSinceStageStart) {
      this.stages.push([statement]);
      this.answeredSinceStageStart = false;
    } else {
      this.stages[this.stages.length - 1].push(statement);
    }
  };

  private readonly onEnd = () => {
    this.answeredSinceStageStart = true;
  };

  attach(): void {
    statementStarted.subscribe(this.onStart);
    statementEnded.subscribe(this.onEnd);
  }

  /** Without subscribers the server publishes nothing, as in production. */
  detach(): void {
    statementStarted.unsubscribe(this.onStart);
    statementEnded.unsubscribe(this.onEnd);
  }

  /** Runs `work` (one request at a time) and returns the statements it caused. */
  async capture(work: () => Promise<unknown>): Promise<Stages> {
    this.stages = [];
    this.answeredSinceStageStart = false;
    try {
      await work();
      return this.stages;
    } finally {
      this.stages = null;
    }
  }
}

export interface BenchServer {
  url: string;
  app: App;
  recorder: SqlRecorder;
  /** Warnings and errors the server logged (request logs at info level are written, to nowhere). */
  problems: string[];
  poolMax: number;
  stop(): Promise<void>;
}

/**
 * The real server, in this process, as production runs it: NODE_ENV=production, request logging at info, the
 * default pool and timeouts, a shared JWT secret; only the rate limits are lifted.
 */
export async function startBenchServer(databaseUrl: string): Promise<BenchServer> {
  const config = loadConfig({
    NODE_ENV: 'production',
    JWT_SECRET: BENCH_JWT_SECRET,
    PORT: '0',
    LOG_LEVEL: 'info',
    DATABASE_URL: databaseUrl,
    // The load comes from one address and a few dozen users: limits as high as allowed, so the limiter still runs
    // on every request but never refuses one.
    RATE_LIMIT_PER_IP_PER_MINUTE: '1000000',
    RATE_LIMIT_PER_USER_PER_MINUTE: '1000000',
  });
  const orm = await MikroORM.init(createOrmConfig({ clientUrl: databaseUrl, db: config.db }));
  const recorder = new SqlRecorder();
  recorder.attach();
  const problems: string[] = [];
  const logger = pino(
    { level: 'info' },
    pino.multistream([
      { level: 'info', stream: pino.destination({ dest: '/dev/null', sync: false }) },
      { level: 'warn', stream: { write: (line: string) => void (problems.length < 1000 && problems.push(line)) } },
    ]),
  );
  const app = await createApp(config, logger, databaseOf(orm, databaseUrl));
  await app.server.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    app,
    recorder,
    problems,
    poolMax: config.db.poolMax,
    async stop() {
      await app.server.close();
      await orm.close(true);
      recorder.detach();
    },
  };
}

/** A token for a generated user (`userN@bench.test`), as the identity provider would issue it. */
export function tokenFor(email: string): Promise<string> {
  return signLocalToken({ secret: BENCH_JWT_SECRET, email, expiresIn: '24h' });
}
