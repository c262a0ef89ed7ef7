import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { FAULT_JWT_SECRET, logLines, signal, startServer, waitFor, within, type ServerProcess } from '../faults/harness';
import { dataOf, newUser, postGraphql, type Api, type GraphqlResponse } from '../support/api';
import { createTemplateViaApi, type TestUser } from '../support/factories';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { TEST_DB_CONFIG } from '../support/test-database-config';

/**
 * Two server instances on one database behind one address: one with WORKERS=2 (a primary and two worker processes
 * sharing its port), one alone. Usage counts and version numbers stay exact across every process, because the rules
 * that make them exact live in PostgreSQL's row locks, not in any process.
 */

const CREATIONS = 200;
const EDITORS = 50;

const FROM_TEMPLATE = `mutation($input: CreateExperimentFromTemplateInput!) {
  createExperimentFromTemplate(input: $input) { id templateVersion } }`;
const UPDATE = `mutation($id: ID!, $input: UpdateTemplateInput!) { updateTemplate(id: $id, input: $input) { id version } }`;
const SET_PUBLIC = `mutation($id: ID!, $isPublic: Boolean!) { setTemplatePublic(id: $id, isPublic: $isPublic) { id } }`;

const SERVING = 'Tessera is serving GraphQL';
const ANSWERED = 'request completed';

/** One address in front of several servers: each new connection goes to the next port in turn. */
async function startRoundRobinProxy(ports: number[]): Promise<{ url: string; close(): Promise<void> }> {
  let next = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(ports[next++ % ports.length], '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const pidsLogging = (server: ServerProcess, message: string) =>
  new Set(logLines(server).flatMap((line) => (line.msg === message ? [line.pid as number] : [])));

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const failuresOf = (responses: GraphqlResponse[]) =>
  responses.flatMap((r) =>
    r.status === 200 && !r.body.errors?.length ? [] : [`HTTP ${r.status}: ${JSON.stringify(r.body).slice(0, 300)}`],
  );

describe('several API processes on one database, behind one address', () => {
  let db: TestDatabase;
  let dir: string;
  let workers: ServerProcess;
  let alone: ServerProcess;
  let proxy: Awaited<ReturnType<typeof startRoundRobinProxy>>;
  const api: Pick<Api, 'graphql'> = { graphql: (query, options) => postGraphql(proxy.url, query, options) };
  const user = (name: string) => newUser((query, options) => postGraphql(proxy.url, query, options), { secret: FAULT_JWT_SECRET }, name);

  beforeAll(async () => {
    db = await createTestDatabase();
    dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-processes-'));
    // The test's generous waits: 200 callers queue for 30 connections on two shared cores.
    const env = {
      DB_ACQUIRE_TIMEOUT_MS: String(TEST_DB_CONFIG.acquireTimeoutMs),
      DB_STATEMENT_TIMEOUT_MS: String(TEST_DB_CONFIG.statementTimeoutMs),
      DB_LOCK_TIMEOUT_MS: String(TEST_DB_CONFIG.lockTimeoutMs),
    };
    [workers, alone] = await Promise.all([
      startServer(db.url, dir, { ...env, WORKERS: '2', DB_POOL_MAX: '20' }),
      startServer(db.url, dir, { ...env, DB_POOL_MAX: '10' }),
    ]);
    proxy = await startRoundRobinProxy([workers, alone].map((server) => Number(new URL(server.graphqlUrl).port)));
  }, 60_000);

  afterAll(async () => {
    await proxy?.close();
    workers?.kill();
    alone?.kill();
    await db?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  let owner: TestUser;
  let callers: TestUser[];
  beforeAll(async () => {
    owner = await user('owner');
    callers = await Promise.all(Array.from({ length: 10 }, (_, i) => user(`caller${i}`)));
  });

  it(`keeps usage and versions exact across processes: ${CREATIONS} creations give +${CREATIONS} uses, ${EDITORS} editors give versions 1..${EDITORS + 1}`, async () => {
    const popular = await createTemplateViaApi(api, owner, { name: 'Popular across processes' });
    dataOf(await api.graphql(SET_PUBLIC, { as: owner, variables: { id: popular.id, isPublic: true } }));
    const [before] = await db.query('select usage_count from experiment_templates where id = $1', [popular.id]);

    const created = await Promise.all(
      Array.from({ length: CREATIONS }, (_, i) =>
        api.graphql(FROM_TEMPLATE, { as: callers[i % callers.length], variables: { input: { templateId: popular.id, name: `run ${i}` } } }),
      ),
    );
    expect(failuresOf(created)).toEqual([]);
    const [after] = await db.query(
      `select t.usage_count, (select count(*)::int from ml_experiments e where e.template_id = t.id) as experiments
       from experiment_templates t where t.id = $1`,
      [popular.id],
    );
    expect(after.usage_count - before.usage_count).toBe(CREATIONS);
    expect(after.experiments).toBe(CREATIONS);

    const edited = await createTemplateViaApi(api, owner, { name: 'Edited across processes' });
    const edits = await Promise.all(
      Array.from({ length: EDITORS }, (_, i) =>
        api.graphql(UPDATE, { as: owner, variables: { id: edited.id, input: { description: `editor ${i}` } } }),
      ),
    );
    expect(failuresOf(edits)).toEqual([]);
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
    expect(edits.map((response) => response.body.data.updateTemplate.version as number).sort((a, b) => a - b)).toEqual(
      range(2, EDITORS + 1),
    );
    const versions = await db.query<{ version: number }>(
      'select version from experiment_template_versions where template_id = $1 order by version',
      [edited.id],
    );
    expect(versions.map((row) => row.version)).toEqual(range(1, EDITORS + 1));
    const [template] = await db.query('select version from experiment_templates where id = $1', [edited.id]);
    expect(template.version).toBe(EDITORS + 1);

    // Every process answered some of them: each worker and the lone instance logged requests under its own pid.
    const workerPids = pidsLogging(workers, SERVING);
    expect(workerPids.size).toBe(2);
    expect(workerPids.has(workers.child.pid!)).toBe(false);
    const answering = [...pidsLogging(workers, ANSWERED), ...pidsLogging(alone, ANSWERED)];
    expect(new Set(answering)).toEqual(new Set([...workerPids, alone.child.pid!]));
    // Two pools of 10 and one of 10: DB_POOL_MAX divided among the workers.
    const [connections] = await db.query(
      `select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'tessera'`,
    );
    expect(connections.n).toBeLessThanOrEqual(30);
    console.log(
      `[processes] ${CREATIONS} creations and ${EDITORS} edits through one address, answered by worker pids ` +
        `${[...workerPids].join(', ')} (primary ${workers.child.pid}) and pid ${alone.child.pid}; ` +
        `${connections.n} server connections to the database`,
    );
  }, 60_000);

  it('replaces a worker that dies, then drains every worker on SIGTERM to the primary and exits 0', async () => {
    const [victim, survivor] = [...pidsLogging(workers, SERVING)];
    signal(victim, 'SIGKILL');
    await waitFor(async () => pidsLogging(workers, SERVING).size === 3, 20_000);
    const replacement = [...pidsLogging(workers, SERVING)].find((pid) => pid !== victim && pid !== survivor)!;
    expect(logLines(workers).filter((line) => line.msg === 'worker exited unexpectedly')).toEqual([
      expect.objectContaining({ pid: workers.child.pid, workerPid: victim, code: null, signal: 'SIGKILL' }),
    ]);
    const me = await postGraphql(workers.graphqlUrl, '{ me { id } }', { as: owner });
    expect(dataOf(me).me.id).toBe(owner.id);

    process.kill(workers.child.pid!, 'SIGTERM');
    expect(await within(workers.exited, 15_000)).toEqual({ code: 0, signal: null });
    const stopped = logLines(workers).flatMap((line) => (line.msg === 'stopped' ? [line.pid as number] : []));
    expect(new Set(stopped)).toEqual(new Set([survivor, replacement, workers.child.pid!]));
    for (const pid of [survivor, replacement]) expect(isRunning(pid)).toBe(false);
  }, 60_000);
});
