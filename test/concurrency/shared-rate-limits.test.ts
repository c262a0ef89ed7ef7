import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPORT_EVERY_MS } from '../../src/http/rate-limit';
import { sleep, startServer, tokenFor, type ServerProcess } from '../faults/harness';
import { errorOf, postGraphql, type GraphqlResponse } from '../support/api';
import { waitForRateLimitWindow } from '../support/rate-limit-window';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

/**
 * Two server processes on one database share one limit: counted per process, each would admit the whole limit, and
 * together twice as much. Each reports its requests to PostgreSQL at least every twentieth of the limit, so the other
 * one admits at most that many before it hears that the limit is spent.
 */

const LIMIT = 200;
const REQUESTS = 300;
const CALLERS = 10;

describe('rate limits shared by two server processes', () => {
  let db: TestDatabase;
  let dir: string;
  let servers: ServerProcess[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-shared-limits-'));
    const env = { RATE_LIMIT_PER_USER_PER_MINUTE: String(LIMIT), RATE_LIMIT_PER_IP_PER_MINUTE: '0', RATE_LIMIT_STORE: 'postgres' };
    servers = await Promise.all([startServer(db.url, dir, env), startServer(db.url, dir, env)]);
  }, 60_000);

  afterAll(async () => {
    for (const server of servers) server.kill();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it(`admit one user's ${LIMIT} requests a minute between them, within 10%, and refuse the rest as RATE_LIMITED`, async () => {
    const token = await tokenFor('limited@example.test');
    await waitForRateLimitWindow(db);
    const answers: Array<{ server: number; response: GraphqlResponse }> = [];
    // Callers at once, each sending its requests to the two processes in turn.
    await Promise.all(
      Array.from({ length: CALLERS }, async (_, caller) => {
        for (let i = caller; i < REQUESTS; i += CALLERS) {
          const server = i % 2;
          answers.push({ server, response: await postGraphql(servers[server].graphqlUrl, '{ __typename }', { as: { token } }) });
        }
      }),
    );

    const admitted = answers.filter(({ response }) => response.status === 200);
    const refused = answers.filter(({ response }) => response.status !== 200);
    console.log(
      `[rate limits] ${REQUESTS} requests of one user through 2 processes, limit ${LIMIT}/min: admitted ${admitted.length} ` +
        `(${admitted.filter((a) => a.server === 0).length} + ${admitted.filter((a) => a.server === 1).length}), refused ${refused.length}`,
    );
    expect(admitted.length).toBeGreaterThanOrEqual(LIMIT);
    expect(admitted.length).toBeLessThanOrEqual(LIMIT * 1.1);
    for (const server of [0, 1]) expect(admitted.filter((answer) => answer.server === server).length).toBeGreaterThan(0);
    for (const { response } of refused) {
      expect(response.status).toBe(429);
      expect(errorOf(response)).toMatchObject({
        code: 'RATE_LIMITED',
        extensions: { scope: 'user', retryAfterSeconds: expect.any(Number) },
      });
    }
    // Every admitted request reaches the store, once, within REPORT_EVERY_MS.
    await sleep(REPORT_EVERY_MS + 500);
    expect(await db.query(`select used from rate_limit_windows`)).toEqual([{ used: admitted.length }]);
  }, 60_000);
});
