import http from 'node:http';
import net from 'node:net';
import {
  countAnswers,
  heldRequest,
  isCompleteOk,
  logLines,
  outcomeOf,
  sleep,
  startKeepAliveLoad,
  tokenFor,
  useFaultServer,
  within,
  type HttpOutcome,
  type LoadRequest,
} from './harness';

const GRACE_MS = 400;
const CLIENTS = 20;
const HELD = 5;

/** `/readyz` every few milliseconds on a keep-alive connection of its own, until a connection is refused. */
function pollReadiness(origin: string, intervalMs = 10) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const answers: Array<HttpOutcome & { sentAt: number }> = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const sentAt = Date.now();
      const request = http.request(`${origin}/readyz`, { agent });
      const result = outcomeOf(request);
      request.end();
      const outcome = await result;
      answers.push({ ...outcome, sentAt });
      if (outcome.error === 'ECONNREFUSED') break;
      await sleep(intervalMs);
    }
    agent.destroy();
  })();
  return {
    answers,
    async stop() {
      running = false;
      await done;
      return answers;
    },
  };
}

/**
 * A keep-alive connection that asks one thing and then stays idle, as a load balancer's spare pooled connection does:
 * resolves with how it ended, `end` being the server's orderly close (FIN) and anything else an error.
 */
async function idleConnection(origin: string) {
  const { hostname, port } = new URL(origin);
  const socket = net.connect(Number(port), hostname);
  let received = '';
  const answered = new Promise<void>((resolve) =>
    socket.on('data', (chunk: Buffer) => {
      received += chunk.toString();
      if (received.includes('\r\n\r\n') && received.endsWith('}')) resolve();
    }),
  );
  const ended = new Promise<{ how: string; at: number }>((resolve) => {
    socket.once('end', () => resolve({ how: 'end', at: Date.now() }));
    socket.once('error', (error: NodeJS.ErrnoException) => resolve({ how: error.code ?? error.message, at: Date.now() }));
  });
  socket.write(`GET /healthz HTTP/1.1\r\nHost: ${hostname}\r\n\r\n`);
  await answered;
  return { ended, dispose: () => socket.destroy() };
}

describe.each([
  ['1 worker', 1],
  ['2 workers', 2],
])(`SIGTERM under the load of ${CLIENTS} keep-alive clients, ${GRACE_MS} ms of grace (%s)`, (workers, workerCount) => {
  const fault = useFaultServer({
    name: `drain-${workers.replace(' ', '-')}`,
    database: 'shared',
    env: { SHUTDOWN_GRACE_MS: String(GRACE_MS), WORKERS: String(workerCount) },
  });

  it('turns /readyz 503 at once, serves through the grace, then answers every request it accepted, cuts no connection and exits 0', async () => {
    const { graphqlUrl, origin, child } = fault.server;
    const token = await tokenFor('drain@example.com');
    const load = startKeepAliveLoad(graphqlUrl, token, CLIENTS);
    const idle = await idleConnection(origin);
    // Requests the server holds when the signal comes, their bodies sent only once it stopped accepting.
    const held = Array.from({ length: HELD }, () => heldRequest(graphqlUrl, token));
    await Promise.all(held.map((request) => request.accepted));
    const readiness = pollReadiness(origin);
    await sleep(500);

    const exitedAt = fault.server.exited.then(() => Date.now());
    const signalledAt = Date.now();
    process.kill(child.pid!, 'SIGTERM');
    await sleep(GRACE_MS + 300);
    for (const request of held) request.send();
    const heldOutcomes = await Promise.all(held.map((request) => request.result));
    const exit = await within(fault.server.exited, 20_000);
    const requests = await load.stop();
    const readinessAnswers = await readiness.stop();
    const idleEnd = await within(idle.ended, 1_000);
    idle.dispose();

    const since = (at: number) => at - signalledAt;
    // When each serving process turned unready, and stopped accepting, by its own clock (the machine's) and log.
    const loggedAt = (message: string) => logLines(fault.server).flatMap((line) => (line.msg === message ? [line.time as number] : []));
    const unready = loggedAt('shutting down: /readyz answers 503, serving on through the grace period');
    const stoppedAccepting = loggedAt('stopped accepting connections: answering those accepted');
    const allUnreadyAt = Math.max(...unready);
    const firstStoppedAcceptingAt = Math.min(...stoppedAccepting);
    const unreadyAnswers = readinessAnswers.filter((answer) => answer.sentAt >= allUnreadyAt);
    const servedInGrace = requests.filter((request) => request.sentAt >= allUnreadyAt && request.finishedAt! <= firstStoppedAcceptingAt);
    const firstRefusal = requests.find((request) => request.answer === 'refused');
    const answersBefore = (client: number, refusal: LoadRequest) =>
      requests.filter((request) => request.client === client && request.sentAt < refusal.sentAt && request.status !== undefined);
    const lastAnswers = requests
      .filter((request) => request.answer === 'refused')
      .map((refusal) => answersBefore(refusal.client, refusal).at(-1));
    console.log(
      `[faults] SIGTERM under ${CLIENTS} keep-alive clients, ${workers}, grace ${GRACE_MS} ms: ` +
        `requests ${JSON.stringify(countAnswers(requests))} of ${requests.length}` +
        ` (cut: ${JSON.stringify(requests.filter((request) => request.answer === 'cut').map((request) => request.error ?? 'incomplete'))}); ` +
        `held ${heldOutcomes.filter(isCompleteOk).length}/${HELD} answered 200; ` +
        `unready ${unready.map(since).join(', ')} ms after the signal, /readyz then ${JSON.stringify(unreadyAnswers.map((answer) => answer.status ?? answer.error))}; ` +
        `${servedInGrace.length} requests sent and answered in the grace (${countAnswers(servedInGrace).ok ?? 0} ok); ` +
        `stopped accepting ${stoppedAccepting.map(since).join(', ')} ms after the signal, first refusal ${firstRefusal ? since(firstRefusal.sentAt) : '-'} ms; ` +
        `idle connection: ${typeof idleEnd === 'string' ? idleEnd : `${idleEnd.how} ${since(idleEnd.at)} ms after the signal`}; ` +
        `exit ${typeof exit === 'string' ? exit : `code ${exit.code}`} ${since(await exitedAt)} ms after the signal`,
    );

    expect(exit).toEqual({ code: 0, signal: null });
    // Nothing cut, nothing refused with a 503: every request was answered 200 or found the port closed.
    expect(requests.filter((request) => request.answer !== 'ok' && request.answer !== 'refused')).toEqual([]);
    expect(readinessAnswers.filter((answer) => answer.status === undefined && answer.error !== 'ECONNREFUSED')).toEqual([]);
    expect(heldOutcomes.filter((outcome) => !isCompleteOk(outcome))).toEqual([]);
    // Every serving process turned unready as its stop began, and served on through the whole grace: /readyz answered
    // 503 from then on, and every other request as before, keeping its connection.
    expect(unready).toHaveLength(workerCount);
    expect(since(allUnreadyAt)).toBeLessThan(GRACE_MS);
    // The grace runs from the stop's start, the first process turning unready: a busy worker may log its own turn later.
    expect(firstStoppedAcceptingAt - Math.min(...unready)).toBeGreaterThanOrEqual(GRACE_MS - 10);
    expect(readinessAnswers.filter((answer) => answer.sentAt < signalledAt).every((answer) => answer.status === 200)).toBe(true);
    expect(unreadyAnswers.filter((answer) => answer.status !== undefined).length).toBeGreaterThan(0);
    expect(unreadyAnswers.filter((answer) => answer.status !== 503 && answer.error !== 'ECONNREFUSED')).toEqual([]);
    expect(servedInGrace.length).toBeGreaterThanOrEqual(CLIENTS / 4);
    expect(servedInGrace.filter((request) => request.answer !== 'ok' || request.closesConnection)).toEqual([]);
    // The port closed only after the grace; each client's last answer said `Connection: close`, so none sent another
    // request into a closing connection.
    expect(requests.filter((request) => request.answer === 'refused')).toHaveLength(CLIENTS);
    expect(firstRefusal!.sentAt).toBeGreaterThanOrEqual(firstStoppedAcceptingAt - 10);
    expect(lastAnswers.filter((answer) => !answer?.closesConnection)).toEqual([]);
    expect(heldOutcomes.every((outcome) => outcome.closesConnection)).toBe(true);
    // The idle connection was closed in order (FIN), once the port had closed.
    expect(idleEnd).toEqual({ how: 'end', at: expect.any(Number) });
    expect((idleEnd as { at: number }).at).toBeGreaterThanOrEqual(firstStoppedAcceptingAt);
    expect(since(await exitedAt)).toBeLessThan(GRACE_MS + 5_000);
  }, 60_000);
});

describe.each([
  ['1 worker', {}],
  ['2 workers', { WORKERS: '2' }],
])('a stop that cannot finish (%s)', (workers, env) => {
  const TIMEOUT_MS = 1_500;
  const fault = useFaultServer({
    name: `deadline-${workers.replace(' ', '-')}`,
    database: 'shared',
    env: { SHUTDOWN_TIMEOUT_MS: String(TIMEOUT_MS), ...env },
  });

  it('exits with code 1 at SHUTDOWN_TIMEOUT_MS, logging what it still waited for', async () => {
    const { graphqlUrl, child } = fault.server;
    // Accepted, and its body never sent: the stop waits for it until the deadline.
    const held = heldRequest(graphqlUrl, await tokenFor('deadline@example.com'));
    await held.accepted;
    const signalledAt = Date.now();
    process.kill(child.pid!, 'SIGTERM');
    const exit = await within(fault.server.exited, 10_000);
    const exitedAfterMs = Date.now() - signalledAt;
    const outcome = await held.result;
    expect(exit).toEqual({ code: 1, signal: null });
    expect(exitedAfterMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 10);
    expect(exitedAfterMs).toBeLessThan(TIMEOUT_MS + 2_000);
    expect(logLines(fault.server)).toContainEqual(
      expect.objectContaining({ msg: 'shutdown deadline passed: exiting', timeoutMs: TIMEOUT_MS, connections: 1, requests: 1 }),
    );
    expect(outcome.status).toBeUndefined();
  }, 30_000);
});
