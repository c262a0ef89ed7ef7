import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { MikroORM } from '@mikro-orm/postgresql';
import pino from 'pino';
import { createApp, type App } from '../../src/app';
import { Role, SERVICE_ROLE_VALUE } from '../../src/auth/actor';
import { signLocalToken } from '../../src/auth/local-secret';
import { loadConfig, type AppConfig } from '../../src/config';
import { sessionTimeouts } from '../../mikro-orm.config';
import { databaseOf, openDatabase, type Database } from '../../src/db/database';
import { StatementRecorder, type StatementStart } from '../../src/db/sql';
import type { TestUser } from './factories';
import { startPgBouncer, type PgBouncer } from './pgbouncer';
import { createTestDatabase, openTestOrm, serverUrl, type TestDatabase } from './test-database';
import { TEST_DB_CONFIG } from './test-database-config';

export const TEST_JWT_SECRET = 'tessera-test-secret-0123456789-abcdefghij';

export interface GraphqlResponse<T = any> {
  status: number;
  body: { data?: T; errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, any> }> };
}

export interface GraphqlOptions {
  variables?: Record<string, unknown>;
  /** The caller; omitted or null: anonymous. */
  as?: Pick<TestUser, 'token'> | null;
  headers?: Record<string, string>;
}

export interface Api {
  url: string;
  /** Where the server serves `/metrics` (its own port, or METRICS_PORT); undefined when it serves none. */
  metricsUrl?: string;
  db: TestDatabase;
  orm: MikroORM;
  app: App;
  /** Set with `pooler: 'pgbouncer'`: the PgBouncer the server reaches its database through. */
  pgbouncer?: PgBouncer;
  /** Log lines the server wrote (JSON), for asserting what was logged instead of shown. */
  logs: string[];
  /**
   * A new user, known to the server through its first authenticated request: the one way tests make users. `roles` are
   * the token's values, under the server's `ROLES_CLAIM` (`admin`: staff, unless `STAFF_ROLE` says otherwise).
   */
  user(name?: string, roles?: string[]): Promise<TestUser>;
  graphql<T = any>(query: string, options?: GraphqlOptions): Promise<GraphqlResponse<T>>;
  /**
   * Runs `work` and reports the SQL statements the server sent meanwhile (requests must not overlap), and in how many
   * round trips: a statement sent before any earlier one was answered travels with it, one sent after starts the next.
   */
  countStatements<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[]; sent: StatementStart[]; roundTrips: number }>;
}

export interface ApiOptions {
  /** Extra environment for the server's configuration (issuer, audience, NODE_ENV...). */
  env?: Record<string, string>;
  /** Database settings of the server's pool (timeouts, size), over the test defaults. */
  db?: Partial<AppConfig['db']>;
  /**
   * 'pgbouncer': the server reaches its database through a PgBouncer of the file's own, in transaction mode, started
   * the way `DATABASE_POOLER=pgbouncer` is deployed: the timeouts are the role's defaults in the database, and the
   * server boots through `openDatabase`, which checks them.
   */
  pooler?: 'pgbouncer';
}

/** The real server over real HTTP, on a migrated database of the test file's own. */
export function useApi(options: ApiOptions = {}): Api {
  const api = { logs: [] as string[] } as Api;
  const recorder = new StatementRecorder();

  beforeAll(async () => {
    api.db = await createTestDatabase();
    let config = loadConfig({
      NODE_ENV: 'test',
      JWT_SECRET: TEST_JWT_SECRET,
      PORT: '0',
      LOG_LEVEL: 'info',
      DATABASE_URL: api.db.url,
      // Tests send bursts from one address; test/graphql/rate-limit.test.ts turns the limits on.
      RATE_LIMIT_PER_IP_PER_MINUTE: '0',
      RATE_LIMIT_PER_USER_PER_MINUTE: '0',
      ...options.env,
    });
    const logger = pino({ level: 'info' }, { write: (line: string) => void api.logs.push(line) });
    let database: Database;
    if (options.pooler === 'pgbouncer') {
      const db = { ...TEST_DB_CONFIG, ...options.db, pooler: options.pooler };
      // The deploy step README.md describes: the timeouts become the role's defaults in the database.
      for (const [name, ms] of Object.entries(sessionTimeouts(db))) {
        await api.db.query(`alter role current_user in database ${api.db.name} set ${name} = ${ms}`);
      }
      api.pgbouncer = await startPgBouncer(serverUrl());
      config = { ...config, databaseUrl: api.pgbouncer.url(api.db.name), db };
      database = await openDatabase(config, (message) => logger.info(message));
      api.orm = database.orm;
    } else {
      api.orm = await openTestOrm(api.db, options.db);
      database = databaseOf(api.orm, api.db.url);
    }
    recorder.attach();
    api.app = await createApp(config, logger, { database });
    const { graphqlUrl, metricsUrl } = await api.app.listen();
    api.url = graphqlUrl;
    api.metricsUrl = metricsUrl;
  });

  afterAll(async () => {
    recorder.detach();
    await api.app?.server.close();
    await api.orm?.close(true);
    await api.pgbouncer?.stop();
    await api.db?.drop();
  });

  api.graphql = (query, options) => postGraphql(api.url, query, options);
  api.user = (name, roles) =>
    newUser(
      (query, graphqlOptions) => postGraphql(api.url, query, graphqlOptions),
      {
        secret: TEST_JWT_SECRET,
        issuer: options.env?.JWT_ISSUER,
        audience: options.env?.JWT_AUDIENCE,
        rolesClaim: options.env?.ROLES_CLAIM,
        staffRole: options.env?.STAFF_ROLE,
      },
      name,
      roles,
    );

  api.countStatements = async (work) => {
    const { result, trips } = await recorder.capture(work);
    const sent = trips.flat();
    return { result, statements: sent.map(({ sql }) => sql), sent, roundTrips: trips.length };
  };

  return api;
}

/** One GraphQL POST over real HTTP. */
export async function postGraphql<T = any>(url: string, query: string, options: GraphqlOptions = {}): Promise<GraphqlResponse<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
  if (options.as) headers.authorization = `Bearer ${options.as.token}`;
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables: options.variables ?? {} }),
  });
  return { status: response.status, body: (await response.json()) as GraphqlResponse<T>['body'] };
}

/**
 * A POST of any body with any header lines, repeated ones included (fetch would join them into one): for requests no
 * well-behaved client sends.
 */
export function postRaw(url: string, body: string, headerLines: ReadonlyArray<readonly [string, string]>): Promise<GraphqlResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST' });
    const byName = new Map<string, string[]>();
    for (const [name, value] of headerLines) byName.set(name, [...(byName.get(name) ?? []), value]);
    for (const [name, values] of byName) request.setHeader(name, values);
    request.on('error', reject);
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        try {
          resolve({ status: response.statusCode!, body: JSON.parse(text) as GraphqlResponse['body'] });
        } catch {
          reject(new Error(`HTTP ${response.statusCode} answered with a body that is not JSON: ${text}`));
        }
      });
    });
    request.end(body);
  });
}

/** A new user, with a token signed as `signing` says, known to the server through its first authenticated request. */
export async function newUser(
  graphql: (query: string, options?: GraphqlOptions) => Promise<GraphqlResponse>,
  signing: { secret: string; issuer?: string; audience?: string; rolesClaim?: string; staffRole?: string },
  name = 'user',
  roles: string[] = [],
): Promise<TestUser> {
  const email = `${name}-${randomUUID().slice(0, 8)}@example.test`;
  // Named as an identity provider would name them: after their address.
  const { staffRole = 'admin', ...signWith } = signing;
  const token = await signLocalToken({ ...signWith, email, name: email.split('@')[0], roles });
  const response = await graphql('{ me { id } }', { as: { token } });
  const id = response.body.data?.me?.id;
  if (!id) throw new Error(`could not create user: ${JSON.stringify(response.body)}`);
  const roleOf = new Map([
    [SERVICE_ROLE_VALUE, Role.SERVICE],
    [staffRole, Role.STAFF],
  ]);
  return { id, userId: id, roles: roles.flatMap((role) => roleOf.get(role) ?? []), email, token };
}

/** The data of a response that must have succeeded; fails the test with the errors otherwise. */
export function dataOf<T = any>(response: GraphqlResponse<T>): T {
  if (response.body.errors?.length || !response.body.data) {
    throw new Error(`GraphQL errors: ${JSON.stringify(response.body.errors ?? response.body)}`);
  }
  return response.body.data;
}

/** The single error of a response that must have failed. */
export function errorOf(response: GraphqlResponse): { message: string; code: string; extensions: Record<string, any> } {
  const error = response.body.errors?.[0];
  if (!error) throw new Error(`expected an error, got ${JSON.stringify(response.body)}`);
  return { message: error.message, code: error.extensions?.code, extensions: error.extensions ?? {} };
}
