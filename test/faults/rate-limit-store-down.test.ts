import { Client } from 'pg';
import { REPORT_DEADLINE_MS } from '../../src/http/rate-limit';
import { waitForRateLimitWindow } from '../support/rate-limit-window';
import { useFaultServer, waitFor } from './harness';

const LIMIT = 20;
const UNREACHABLE = 'rate limit store unreachable: each process counts the limits on its own until it answers';
const ANSWERS_AGAIN = 'rate limit store answers again: limits are shared by every process';

interface Answer {
  status: number;
  body: any;
  ms: number;
}

/** An anonymous `{ __typename }`: limited by address, and answered without the database. */
async function typename(url: string): Promise<Answer> {
  const startedAt = Date.now();
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ __typename }' }),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, body: await response.json(), ms: Date.now() - startedAt };
}

describe('rate limit store unreachable (PostgreSQL stopped)', () => {
  const fault = useFaultServer({
    name: 'limits',
    database: 'own cluster',
    env: { RATE_LIMIT_PER_IP_PER_MINUTE: String(LIMIT), RATE_LIMIT_PER_USER_PER_MINUTE: '0', RATE_LIMIT_STORE: 'postgres' },
  });

  const logged = (message: string) =>
    fault.server.output
      .join('')
      .split('\n')
      .filter((line) => line.includes(`"msg":"${message}"`));

  async function clusterQuery(sql: string): Promise<Array<Record<string, any>>> {
    const client = new Client({ connectionString: fault.cluster.url });
    await client.connect();
    try {
      return (await client.query(sql)).rows;
    } finally {
      await client.end();
    }
  }
  const storeRows = () => clusterQuery('select used from rate_limit_windows order by window_start');

  it('limits each process on its own from the last count while the store is down, logs that once, and reports it all once it is back', async () => {
    const { graphqlUrl } = fault.server;
    // One window for the whole test: the store's count goes on from where it was before the fault.
    await waitForRateLimitWindow({ query: clusterQuery }, 30_000);
    for (let i = 0; i < 5; i++) expect((await typename(graphqlUrl)).status).toBe(200);
    // Limits of 20 report at every request (blocks of 1).
    await waitFor(async () => JSON.stringify(await storeRows()) === JSON.stringify([{ used: 5 }]), 5_000);

    await fault.cluster.stop();
    const whileDown: Answer[] = [];
    for (let i = 0; i < LIMIT + 5; i++) whileDown.push(await typename(graphqlUrl));
    // Counted on from the store's 5: the rest of the limit, then refusals in the usual shape.
    expect(whileDown.map((answer) => answer.status)).toEqual([...Array<number>(LIMIT - 5).fill(200), ...Array<number>(10).fill(429)]);
    for (const refused of whileDown.slice(LIMIT - 5)) {
      expect(refused.body.errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', scope: 'ip', retryAfterSeconds: expect.any(Number) });
    }
    // A request waits for the store only at its block, and no longer than a report may take.
    expect(Math.max(...whileDown.map((answer) => answer.ms))).toBeLessThan(REPORT_DEADLINE_MS + 1_000);
    expect(logged(UNREACHABLE)).toHaveLength(1);
    expect(logged(ANSWERS_AGAIN)).toEqual([]);

    await fault.cluster.start();
    // The pool reconnects on its own; the requests admitted meanwhile are reported on the next try.
    await waitFor(async () => logged(ANSWERS_AGAIN).length === 1, 15_000);
    expect(logged(UNREACHABLE)).toHaveLength(1);
    expect(await storeRows()).toEqual([{ used: LIMIT }]);
    expect(fault.server.child.exitCode).toBeNull();
  }, 60_000);
});
