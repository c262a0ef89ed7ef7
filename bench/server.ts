import type { AddressInfo } from 'node:net';
import { MikroORM } from '@mikro-orm/postgresql';
import pino from 'pino';
import { createOrmConfig } from '../mikro-orm.config';
import { createApp, type App } from '../src/app';
import { signLocalToken } from '../src/auth/local-secret';
import { loadConfig } from '../src/config';
import { databaseOf } from '../src/db/database';
import { StatementRecorder, type StatementStart } from '../src/db/sql';

export const BENCH_JWT_SECRET = 'tessera-bench-secret-0123456789-abcdefghij';

/** The server's environment in every phase: production, request logging at info, the bench's JWT secret. */
export const BENCH_SERVER_ENV = {
  NODE_ENV: 'production',
  JWT_SECRET: BENCH_JWT_SECRET,
  LOG_LEVEL: 'info',
  // The load comes from one address and a few dozen users: limits as high as allowed, so the limiter still runs on
  // every request but never refuses one.
  RATE_LIMIT_PER_IP_PER_MINUTE: '1000000',
  RATE_LIMIT_PER_USER_PER_MINUTE: '1000000',
  // Counted in the process, so the read figures stay those of the read path: the shared store's report (a statement and
  // its commit record every second) would land in them. The limits phase measures it (bench/rate-limits.ts).
  RATE_LIMIT_STORE: 'memory',
};

/**
 * Statements in the order the server sent them, grouped into stages (round trips): a statement sent before any
 * earlier one was answered runs alongside it, one sent after an answer starts the next stage.
 */
export type Stages = StatementStart[][];

export interface BenchServer {
  url: string;
  app: App;
  recorder: StatementRecorder;
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
  const config = loadConfig({ ...BENCH_SERVER_ENV, PORT: '0', DATABASE_URL: databaseUrl });
  const orm = await MikroORM.init(createOrmConfig({ clientUrl: databaseUrl, db: config.db }));
  const recorder = new StatementRecorder().attach();
  const problems: string[] = [];
  const logger = pino(
    { level: 'info' },
    pino.multistream([
      { level: 'info', stream: pino.destination({ dest: '/dev/null', sync: false }) },
      { level: 'warn', stream: { write: (line: string) => void (problems.length < 1000 && problems.push(line)) } },
    ]),
  );
  const app = await createApp(config, logger, { database: databaseOf(orm, databaseUrl) });
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

/** A token for a generated user (`userN@bench.test`), or with `roles` a service's, as the identity provider would issue it. */
export function tokenFor(email: string, roles: string[] = []): Promise<string> {
  return signLocalToken({ secret: BENCH_JWT_SECRET, email, roles, expiresIn: '24h' });
}
