import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { startServer, waitFor, type ServerProcess } from '../faults/harness';
import { Scrape } from '../support/metrics';
import { createTestDatabase, type TestDatabase } from '../support/test-database';

const WORKERS = 2;
const DB_POOL_MAX = 6;
const PINGS = 10;

/** One request on a connection of its own: node:cluster hands each new connection to the next worker. */
function request(url: string, body?: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'application/json' };
    const outgoing = http.request(url, { method: body === undefined ? 'GET' : 'POST', headers, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode!, text }));
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

/** The pids that logged an answer to `url`. */
function pidsAnswering(server: ServerProcess, url: string): Set<number> {
  const lines = server.output
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { pid: number; msg: string; url?: string });
  return new Set(lines.filter((line) => line.msg === 'request completed' && line.url === url).map((line) => line.pid));
}

describe(`metrics with WORKERS=${WORKERS}, in production on METRICS_PORT`, () => {
  let db: TestDatabase;
  let dir: string;
  let server: ServerProcess;
  let metricsUrl: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-metrics-workers-'));
    server = await startServer(db.url, dir, {
      WORKERS: String(WORKERS),
      NODE_ENV: 'production',
      METRICS_PORT: '0',
      DB_POOL_MAX: String(DB_POOL_MAX),
    });
    const serving = server.output
      .join('')
      .split('\n')
      .filter((line) => line.includes('Tessera is serving GraphQL'))
      .map((line) => (JSON.parse(line) as { metricsUrl: string }).metricsUrl);
    expect(serving).toHaveLength(WORKERS);
    // node:cluster gives every worker's METRICS_PORT=0 the same port, as it does for PORT.
    expect(new Set(serving).size).toBe(1);
    metricsUrl = serving[0];
  }, 60_000);

  afterAll(async () => {
    server?.kill();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  it("answers any scrape, whichever worker takes it, with the sum of every worker's metrics", async () => {
    expect((await request(`${server.origin}/metrics`)).status).toBe(404);
    for (let i = 0; i < PINGS; i++) {
      const response = await request(server.graphqlUrl, JSON.stringify({ query: 'query Ping { __typename }' }));
      expect(response).toEqual({ status: 200, text: '{"data":{"__typename":"Query"}}\n' });
    }
    // Both workers answered some of them.
    await waitFor(async () => pidsAnswering(server, '/graphql').size === WORKERS, 5_000);

    // Scrapes until two different workers have answered one; every answer is the whole server's.
    for (let scrapes = 0; pidsAnswering(server, '/metrics').size < WORKERS; scrapes++) {
      expect(scrapes).toBeLessThan(10);
      const response = await request(metricsUrl);
      expect(response.status).toBe(200);
      const metrics = new Scrape(response.text);
      expect(metrics.value('tessera_graphql_requests_total', { operation: 'Ping', outcome: 'ok' })).toBe(PINGS);
      expect(metrics.value('tessera_graphql_request_duration_seconds_count', { operation: 'Ping', outcome: 'ok' })).toBe(PINGS);
      // Each worker's pool is DB_POOL_MAX / WORKERS; the gauges add up to the server's.
      expect(metrics.value('tessera_db_pool_max_connections')).toBe(DB_POOL_MAX);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }, 30_000);
});
