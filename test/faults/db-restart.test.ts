import {
  FAULT_DB_TIMEOUTS,
  graphql,
  isMaskedFailure,
  isOk,
  readyz,
  sleep,
  startLoad,
  summarize,
  tokenFor,
  useFaultServer,
  waitFor,
} from './harness';

/** A request that fails for want of a database answers within the pool's acquire and connect timeouts, plus slack. */
const FAILURE_BOUND_MS = FAULT_DB_TIMEOUTS.acquireMs + FAULT_DB_TIMEOUTS.connectMs + 1_000;

describe('PostgreSQL restarted under load', () => {
  const fault = useFaultServer({ name: 'restart', database: 'own cluster' });

  it('answers with masked errors while the database is down, reports not-ready, never exits, and recovers', async () => {
    const { graphqlUrl, origin } = fault.server;
    const token = await tokenFor('restart@example.com');
    expect(isOk(await graphql(graphqlUrl, token))).toBe(true);
    expect((await readyz(origin)).status).toBe(200);

    const load = startLoad(graphqlUrl, token, 8);
    await sleep(1_000);

    const stoppingAt = Date.now();
    await fault.cluster.stop();
    const downAt = Date.now();
    // Readiness follows the database: 503 soon after it went away (its own check times out after 2 s).
    const notReadyMs = await waitFor(async () => (await readyz(origin)).status === 503, 5_000);
    await sleep(3_000);
    const readyzWhileDown = await readyz(origin);

    const restartingAt = Date.now();
    await fault.cluster.start();
    const upAt = Date.now();
    const readyAgainMs = await waitFor(async () => (await readyz(origin)).status === 200, 10_000);
    const queryOkMs = await waitFor(async () => isOk(await graphql(graphqlUrl, token)), 10_000);
    await sleep(1_000);
    const outcomes = await load.stop();

    const before = outcomes.filter((o) => o.startedAt + o.ms < stoppingAt);
    const down = outcomes.filter((o) => o.startedAt >= downAt && o.startedAt + o.ms < restartingAt);
    const after = outcomes.filter((o) => o.startedAt >= upAt + queryOkMs);
    const all = summarize(outcomes);
    const whileDown = summarize(down);
    const failed = outcomes.filter((o) => !isOk(o));
    const failureStatuses = [...new Set(failed.map((o) => o.status))];
    console.log(
      `[faults] db restart: sent ${all.sent}, ok ${all.ok}, failed ${all.sent - all.ok} (masked ${all.masked}, other ${all.other}); ` +
        `while down: ${whileDown.sent} sent, max latency ${whileDown.maxMs} ms (bound ${FAILURE_BOUND_MS} ms), ` +
        `failure HTTP status ${failureStatuses.join('/')}; /readyz 503 after ${notReadyMs} ms; ` +
        `after restart: /readyz 200 in ${readyAgainMs} ms, first ok query in ${upAt - restartingAt + queryOkMs} ms ` +
        `from restart command (${queryOkMs} ms after PostgreSQL was up); statuses ${JSON.stringify(all.statuses)}`,
    );

    // Healthy before the fault and after recovery.
    expect(before.length).toBeGreaterThan(0);
    expect(before.every(isOk)).toBe(true);
    expect(after.length).toBeGreaterThan(0);
    expect(after.every(isOk)).toBe(true);
    // While down: answers, all masked, none hanging; and every answer of the whole run is either ok or masked.
    expect(down.length).toBeGreaterThan(20);
    expect(down.filter((o) => !isMaskedFailure(o))).toEqual([]);
    expect(whileDown.maxMs).toBeLessThan(FAILURE_BOUND_MS);
    expect(failed.filter((o) => !isMaskedFailure(o))).toEqual([]);
    expect(failed.every((o) => o.ms < FAILURE_BOUND_MS)).toBe(true);
    expect(readyzWhileDown.status).toBe(503);
    expect(notReadyMs).toBeLessThan(3_000);
    // Back within a few seconds, and the server never exited.
    expect(readyAgainMs).toBeLessThan(5_000);
    expect(queryOkMs).toBeLessThan(5_000);
    expect(fault.server.child.exitCode).toBeNull();
    expect(fault.server.child.signalCode).toBeNull();
  }, 60_000);
});
