import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { REPEATED_SIGNAL_WINDOW_MS } from '../../src/shutdown-signals';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import {
  heldRequest,
  isCompleteOk,
  logLines,
  sleep,
  startServer,
  tokenFor,
  waitFor,
  within,
  type HttpOutcome,
  type ServerProcess,
  type StartCommand,
} from './harness';

const IN_FLIGHT = 10;

/**
 * A stop signal delivered twice: by the process group and again by npm forwarding it (within milliseconds), or by
 * someone insisting (later). The first kind must not cut the drain short; the second does, deliberately.
 */
describe('a stop signal delivered twice', () => {
  let database: TestDatabase;
  let dir: string;
  const servers: ServerProcess[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
    dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-fault-signals-'));
  });
  afterAll(async () => {
    for (const server of servers) server.kill();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  }, 30_000);

  async function serving(command: StartCommand, env: Record<string, string> = {}) {
    const server = await startServer(database.url, dir, env, command);
    servers.push(server);
    // Requests the server has accepted and is still reading when the signals come.
    const token = await tokenFor('signals@example.com');
    const held = Array.from({ length: IN_FLIGHT }, () => heldRequest(server.graphqlUrl, token));
    await Promise.all(held.map((request) => request.accepted));
    return { server, held };
  }

  const REPEAT = 'signal repeated while draining: still draining';
  const repeatsLogged = (server: ServerProcess) => logLines(server).filter((line) => line.msg === REPEAT);

  async function finishDraining(server: ServerProcess, held: ReturnType<typeof heldRequest>[]) {
    await sleep(300);
    const aliveWhileDraining = server.child.exitCode === null;
    for (const request of held) request.send();
    const outcomes = await Promise.all(held.map((request) => request.result));
    return { aliveWhileDraining, notOk: outcomes.filter((outcome) => !isCompleteOk(outcome)), exit: await within(server.exited, 15_000) };
  }

  it.each([
    ['WORKERS=1', {}],
    ['WORKERS=2', { WORKERS: '2' }],
  ])(
    '`npm start` (%s) stopped by its process group drains every request in flight, then exits 0',
    async (workers, env) => {
      const { server, held } = await serving('npm start', env);
      process.kill(-server.child.pid!, 'SIGTERM');
      const { aliveWhileDraining, notOk, exit } = await finishDraining(server, held);
      // npm forwards the SIGTERM it got to the server, which got one already; the kernel merges the two when both are
      // pending at once, so the repeat is seen in most runs, not all (the next test repeats it deterministically).
      console.log(`[faults] npm start, ${workers}, stopped by its process group: ${repeatsLogged(server).length} repeated signal(s) seen`);
      expect(aliveWhileDraining).toBe(true);
      expect(notOk).toEqual([]);
      expect(exit).toEqual({ code: 0, signal: null });
    },
    120_000,
  );

  it('the same signal again as the drain begins, and SIGINT after it, change nothing: every request in flight is answered', async () => {
    const { server, held } = await serving('node');
    const pid = server.child.pid!;
    const logged = (message: string, count = 1) =>
      waitFor(async () => logLines(server).filter((line) => line.msg === message).length >= count, REPEATED_SIGNAL_WINDOW_MS / 2, 2);
    // Each signal once the previous one was handled, milliseconds later: two pending at once would be merged into one.
    process.kill(pid, 'SIGTERM');
    await logged('shutting down: /readyz answers 503, serving on through the grace period');
    process.kill(pid, 'SIGTERM');
    await logged(REPEAT);
    process.kill(pid, 'SIGINT');
    await logged(REPEAT, 2);
    const { aliveWhileDraining, notOk, exit } = await finishDraining(server, held);
    expect(aliveWhileDraining).toBe(true);
    expect(notOk).toEqual([]);
    expect(exit).toEqual({ code: 0, signal: null });
    expect(repeatsLogged(server)).toEqual([
      expect.objectContaining({ signal: 'SIGTERM', msSinceDrain: expect.any(Number) }),
      expect.objectContaining({ signal: 'SIGINT', msSinceDrain: expect.any(Number) }),
    ]);
  }, 60_000);

  it(`a second signal more than ${REPEATED_SIGNAL_WINDOW_MS} ms after the first exits at once with code 1, cutting the drain short`, async () => {
    const { server, held } = await serving('node');
    process.kill(server.child.pid!, 'SIGTERM');
    await sleep(REPEATED_SIGNAL_WINDOW_MS + 300);
    expect(server.child.exitCode).toBe(null);
    const secondAt = Date.now();
    process.kill(server.child.pid!, 'SIGINT');
    const exit = await within(server.exited, 5_000);
    const exitedAfterMs = Date.now() - secondAt;
    for (const request of held) request.send();
    const outcomes: HttpOutcome[] = await Promise.all(held.map((request) => request.result));
    expect(exit).toEqual({ code: 1, signal: null });
    expect(exitedAfterMs).toBeLessThan(2_000);
    expect(outcomes.filter(isCompleteOk)).toEqual([]);
    expect(logLines(server)).toContainEqual(expect.objectContaining({ msg: 'second signal: exiting now', signal: 'SIGINT' }));
  }, 60_000);
});
