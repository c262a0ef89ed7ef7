import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createApp, type App } from '../../src/app';
import { loadConfig } from '../../src/config';
import { openDatabase } from '../../src/db/database';
import { READ_AFTER_HEADER } from '../../src/db/replicas';
import { newUser, TEST_JWT_SECRET, type GraphqlOptions } from '../support/api';
import { CREATE_TEMPLATE, templateInput, type TestUser } from '../support/factories';
import { startPrimaryWithReplica, type StreamingReplica } from '../support/streaming-replica';

/**
 * The server with a real streaming replica (DATABASE_REPLICA_URLS) that applies each commit APPLY_DELAY_MS late.
 * Queries read from the replica; a client that wrote sends back the WAL position its write answered with
 * (READ_AFTER_HEADER) and reads what it wrote at once. Without the header, the same read right after the write is served
 * by the replica and misses the write: the mechanism is what makes the writer's read correct, not luck.
 */

const APPLY_DELAY_MS = 2_500;
const TEMPLATE = 'query($id: ID!) { template(id: $id) { id name owner { id } } }';
// Anonymous: the public templates.
const PUBLIC_PAGE = '{ templates(first: 100) { edges { node { id } } } }';

interface Server {
  app: App;
  origin: string;
  logs: string[];
  graphql(query: string, options?: GraphqlOptions): Promise<{ status: number; body: any; readAfter: string | null }>;
  readyz(): Promise<{ status: number; body: any }>;
  user(name: string): Promise<TestUser>;
}

async function startServer(cluster: StreamingReplica, maxLagMs: number): Promise<Server> {
  const config = loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: TEST_JWT_SECRET,
    PORT: '0',
    DATABASE_URL: cluster.primaryUrl,
    DATABASE_REPLICA_URLS: cluster.replicaUrl,
    DB_REPLICA_MAX_LAG_MS: String(maxLagMs),
    DB_CONNECT_TIMEOUT_MS: '1000',
    RATE_LIMIT_PER_IP_PER_MINUTE: '0',
    RATE_LIMIT_PER_USER_PER_MINUTE: '0',
  });
  const logs: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
  const app = await createApp(config, logger, { database: await openDatabase(config, (message) => logger.info(message)) });
  await app.server.listen({ host: '127.0.0.1', port: 0 });
  const origin = `http://127.0.0.1:${(app.server.server.address() as AddressInfo).port}`;
  const graphql: Server['graphql'] = async (query, options = {}) => {
    const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers };
    if (options.as) headers.authorization = `Bearer ${options.as.token}`;
    const response = await fetch(`${origin}/graphql`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query, variables: options.variables ?? {} }),
    });
    return { status: response.status, body: await response.json(), readAfter: response.headers.get(READ_AFTER_HEADER) };
  };
  return {
    app,
    origin,
    logs,
    graphql,
    async readyz() {
      const response = await fetch(`${origin}/readyz`);
      return { status: response.status, body: await response.json() };
    },
    user: (name) => newUser(graphql, { secret: TEST_JWT_SECRET }, name),
  };
}

async function createPublicTemplate(server: Server, owner: TestUser) {
  const defaults = templateInput();
  const response = await server.graphql(CREATE_TEMPLATE, {
    as: owner,
    variables: { input: { ...defaults, category: String(defaults.category).toUpperCase(), isPublic: true } },
  });
  expect(response.body.errors).toBeUndefined();
  return {
    id: response.body.data.createTemplate.id as string,
    readAfter: response.readAfter,
    owner: response.body.data.createTemplate.owner,
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function idsOf(response: { body: any }): string[] {
  return response.body.data.templates.edges.map((edge: { node: { id: string } }) => edge.node.id);
}

let cluster: StreamingReplica;
const servers: Server[] = [];

beforeAll(async () => {
  cluster = await startPrimaryWithReplica(APPLY_DELAY_MS);
}, 60_000);

afterAll(async () => {
  for (const server of servers) await server.app.stop();
  await cluster?.stop();
});

describe('with a replica within its lag limit', () => {
  let server: Server;

  beforeAll(async () => {
    // The limit is above the replica's apply delay: it keeps serving while it holds back the latest commits.
    server = await startServer(cluster, 60_000);
    servers.push(server);
  });

  it('reports the replica in /readyz, by host and port only', async () => {
    // Just started, the replica may still be streaming what the primary wrote when it restarted: its lag is 0 once it
    // has replayed that (tens of milliseconds to a few hundred on a busy machine).
    const { status, body } = await until('the replica to replay the primary’s restart', async () => {
      const answer = await server.readyz();
      return answer.body.replicas?.[0]?.lagMs === 0 ? answer : undefined;
    });
    expect(status).toBe(200);
    expect(body).toEqual({
      status: 'ready',
      replicas: [{ name: `127.0.0.1:${new URL(cluster.replicaUrl).port}`, state: 'serving', lagMs: 0 }],
    });
    expect(JSON.stringify(body)).not.toContain(new URL(cluster.replicaUrl).password);
  });

  it('answers a mutation with the WAL position of its write, and reads its answer from the primary', async () => {
    // The user's row is a write of its first request: on the replica only APPLY_DELAY_MS later.
    const owner = await server.user('fresh-writer');
    const created = await createPublicTemplate(server, owner);
    expect(created.readAfter).toMatch(/^[0-9A-F]+\/[0-9A-F]+$/);
    expect(created.owner).toEqual({ id: owner.id });
  });

  it('lets the writer read its write at once with the position; the same read without it misses the write', async () => {
    const owner = await server.user('writer');
    const created = await createPublicTemplate(server, owner);

    const withoutPosition = await server.graphql(TEMPLATE, { as: owner, variables: { id: created.id } });
    const withPosition = await server.graphql(TEMPLATE, {
      as: owner,
      variables: { id: created.id },
      headers: { [READ_AFTER_HEADER]: created.readAfter! },
    });

    // Served by the replica, which has not applied the commit yet: this is what a writer would see without the mechanism.
    expect(withoutPosition.body).toEqual({ data: { template: null } });
    expect(withPosition.body).toEqual({ data: { template: { id: created.id, name: expect.any(String), owner: { id: owner.id } } } });
  });

  it('serves queries from the replica, and a position from the replica once it has replayed that far', async () => {
    const first = await createPublicTemplate(server, await server.user('first'));
    await until('the replica to apply the first template', async () => {
      const page = await server.graphql(PUBLIC_PAGE);
      return idsOf(page).includes(first.id) ? true : undefined;
    });
    // Wait for the replica's next check to see it replayed, then write again: the replica holds back the second.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const second = await createPublicTemplate(server, await server.user('second'));

    const pastFirst = idsOf(await server.graphql(PUBLIC_PAGE, { headers: { [READ_AFTER_HEADER]: first.readAfter! } }));
    const pastSecond = idsOf(await server.graphql(PUBLIC_PAGE, { headers: { [READ_AFTER_HEADER]: second.readAfter! } }));

    // The first position is replayed: the replica serves, without the second template. The second needs the primary.
    expect(pastFirst).toContain(first.id);
    expect(pastFirst).not.toContain(second.id);
    expect(pastSecond).toEqual(expect.arrayContaining([first.id, second.id]));
  });

  it('refuses a position that is not one, with a stable code and the header named', async () => {
    for (const value of ['yesterday', '0/', '1/2/3', 'FFFFFFFFF/0']) {
      const response = await server.graphql(PUBLIC_PAGE, { headers: { [READ_AFTER_HEADER]: value } });
      expect(response.status).toBe(400);
      expect(response.body).toEqual({
        errors: [{ message: expect.stringContaining(READ_AFTER_HEADER), extensions: { code: 'BAD_REQUEST', header: READ_AFTER_HEADER } }],
      });
    }
  });

  it('reads from the primary while the replica is down, says so in /readyz, and returns to it when it is back', async () => {
    const owner = await server.user('through-outage');
    const created = await createPublicTemplate(server, owner);
    await cluster.stopReplica();
    try {
      // The first read after the stop may find the replica gone mid-request: it is repeated on the primary.
      const page = await server.graphql(PUBLIC_PAGE);
      expect(page.status).toBe(200);
      expect(idsOf(page)).toContain(created.id);
      const { status, body } = await server.readyz();
      expect(status).toBe(200);
      expect(body.replicas).toEqual([expect.objectContaining({ state: 'down', lagMs: null })]);
    } finally {
      await cluster.startReplica();
    }
    await until('the replica to serve again', async () => {
      const { body } = await server.readyz();
      return body.replicas[0].state === 'serving' ? true : undefined;
    });
  });
});

describe('with a replica past its lag limit', () => {
  let server: Server;

  beforeAll(async () => {
    server = await startServer(cluster, 500);
    servers.push(server);
  });

  it('reads from the primary while the replica holds back a commit longer than the limit, and says so in /readyz', async () => {
    const created = await createPublicTemplate(server, await server.user('impatient'));
    const behind = await until('the replica to be reported behind', async () => {
      const { body } = await server.readyz();
      return body.replicas[0].state === 'behind' ? body.replicas[0] : undefined;
    });
    expect(behind.lagMs).toBeGreaterThan(500);

    const page = await server.graphql(PUBLIC_PAGE);
    expect(idsOf(page)).toContain(created.id);

    await until('the replica to catch up', async () => {
      const { body } = await server.readyz();
      return body.replicas[0].state === 'serving' ? true : undefined;
    });
  });
});
