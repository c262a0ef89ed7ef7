import { CLIENT_QUERY_DEADLINE_SLACK_MS } from '../../mikro-orm.config';
import {
  FAULT_DB_TIMEOUTS,
  graphql,
  isMaskedFailure,
  isOk,
  readyz,
  signal,
  sleep,
  startLoad,
  summarize,
  tokenFor,
  useFaultServer,
  waitFor,
} from './harness';

/**
 * A frozen database accepts TCP connections (the kernel does) but never answers, so no server-side timeout can fire.
 * A request then waits for a pooled connection (at most the acquire timeout, which also covers opening one: the
 * connect timeout fails it sooner), then for its statement's answer, which the client gives up on after the
 * statement timeout plus the client-side deadline's slack. Both, plus 1.5 s of slack for a loaded machine.
 */
const FAILURE_BOUND_MS = FAULT_DB_TIMEOUTS.acquireMs + FAULT_DB_TIMEOUTS.statementMs + CLIENT_QUERY_DEADLINE_SLACK_MS + 1_500;
/** /readyz gives the database 2 s to answer. */
const READINESS_BOUND_MS = 2_000 + 1_000;
const FROZEN_MS = 7_000;

describe('PostgreSQL hung (SIGSTOP)', () => {
  const fault = useFaultServer({ name: 'hung', database: 'own cluster' });
  let frozen: number[] = [];

  const thaw = () => {
    for (const pid of frozen) signal(pid, 'SIGCONT');
    frozen = [];
  };

  it('answers every request with a masked error within the configured timeouts, reports not-ready, and recovers', async () => {
    const { graphqlUrl, origin } = fault.server;
    const token = await tokenFor('hung@example.com');
    expect(isOk(await graphql(graphqlUrl, token))).toBe(true);

    // Warm: the pool holds open connections, which the freeze will leave waiting for answers that never come.
    const load = startLoad(graphqlUrl, token, 8);
    await sleep(1_000);

    let frozenCount: number;
    let frozenAt = 0;
    let thawedAt = 0;
    let firstReadyz: Awaited<ReturnType<typeof readyz>>;
    let lastReadyz: Awaited<ReturnType<typeof readyz>>;
    try {
      // The postmaster first, so that it forks nothing new, then everything it forked.
      const [postmaster] = fault.cluster.pids();
      expect(postmaster).toBeGreaterThan(0);
      signal(postmaster, 'SIGSTOP');
      frozen.push(postmaster);
      for (const pid of fault.cluster.pids().slice(1)) if (signal(pid, 'SIGSTOP')) frozen.push(pid);
      frozenAt = Date.now();
      frozenCount = frozen.length;
      expect(frozenCount).toBeGreaterThan(3);

      firstReadyz = await readyz(origin);
      await sleep(FROZEN_MS - (Date.now() - frozenAt) - 1_000);
      lastReadyz = await readyz(origin);
      await sleep(Math.max(0, FROZEN_MS - (Date.now() - frozenAt)));
    } finally {
      thaw();
      thawedAt = Date.now();
    }

    const readyAgainMs = await waitFor(async () => (await readyz(origin)).status === 200, 15_000);
    const queryOkMs = await waitFor(async () => isOk(await graphql(graphqlUrl, token)), 15_000);
    const recoveredAt = Date.now();
    await sleep(1_000);
    const outcomes = await load.stop();

    // Started and answered while frozen: each must have failed, masked, within the bound.
    const duringFreeze = outcomes.filter((o) => o.startedAt >= frozenAt && o.startedAt + o.ms < thawedAt);
    const afterRecovery = outcomes.filter((o) => o.startedAt >= recoveredAt);
    const all = summarize(outcomes);
    const frozenSummary = summarize(duringFreeze);
    const failed = outcomes.filter((o) => !isOk(o));
    console.log(
      `[faults] db hung ${FROZEN_MS} ms (${frozenCount} processes stopped): sent ${all.sent}, ok ${all.ok}, ` +
        `failed ${all.sent - all.ok} (masked ${all.masked}, other ${all.other}); started and answered while frozen: ${frozenSummary.sent}, ` +
        `max latency ${frozenSummary.maxMs} ms (bound ${FAILURE_BOUND_MS} ms), max latency overall ${all.maxMs} ms; ` +
        `failure HTTP status ${[...new Set(failed.map((o) => o.status))].join('/')}; ` +
        `/readyz while frozen: ${firstReadyz!.status} in ${firstReadyz!.ms} ms, later ${lastReadyz!.status} in ${lastReadyz!.ms} ms; ` +
        `after SIGCONT: /readyz 200 in ${readyAgainMs} ms, first ok query ${readyAgainMs + queryOkMs} ms; ` +
        `statuses ${JSON.stringify(all.statuses)}`,
    );

    expect(duringFreeze.length).toBeGreaterThan(12);
    expect(duringFreeze.filter((o) => !isMaskedFailure(o))).toEqual([]);
    expect(frozenSummary.maxMs).toBeLessThan(FAILURE_BOUND_MS);
    // Nothing hung past the bound at any time, and every failure was masked.
    expect(failed.filter((o) => !isMaskedFailure(o))).toEqual([]);
    expect(all.maxMs).toBeLessThan(FAILURE_BOUND_MS);
    expect(firstReadyz!.status).toBe(503);
    expect(firstReadyz!.ms).toBeLessThan(READINESS_BOUND_MS);
    expect(lastReadyz!.status).toBe(503);
    expect(lastReadyz!.ms).toBeLessThan(READINESS_BOUND_MS);
    // Recovery once the database answers again.
    expect(readyAgainMs + queryOkMs).toBeLessThan(5_000);
    expect(afterRecovery.length).toBeGreaterThan(0);
    expect(afterRecovery.every(isOk)).toBe(true);
    expect(fault.server.child.exitCode).toBeNull();
  }, 60_000);
});
