import { Client } from 'pg';
import { CLIENT_QUERY_DEADLINE_SLACK_MS } from '../../mikro-orm.config';
import { newUser, postGraphql, type GraphqlResponse } from '../support/api';
import { createTemplateViaApi, type TestUser } from '../support/factories';
import { FAULT_DB_TIMEOUTS, FAULT_JWT_SECRET, signal, sleep, useFaultServer, waitFor } from './harness';

/**
 * A statement whose answer the client gives up on (the client-side deadline: statement timeout + slack) leaves its
 * connection out of step: the statement may still run and answer, a transaction may stay open on it. Here one backend
 * is frozen (SIGSTOP) while it waits for a lock, so that nothing but the client's deadline can end the statement; with
 * one pooled connection, whatever the server does next runs on that connection or on a fresh one.
 */
const DEADLINE_MS = FAULT_DB_TIMEOUTS.statementMs + CLIENT_QUERY_DEADLINE_SLACK_MS;

const UPDATE = `mutation($id: ID!, $name: String!) { updateTemplate(id: $id, input: { name: $name }) { id name } }`;
const READ = `query($id: ID!) { template(id: $id) { id name } }`;

interface Backend {
  pid: number;
  state: string | null;
}

describe('a statement past its client-side deadline', () => {
  const fault = useFaultServer({ name: 'deadline', database: 'own cluster', env: { DB_POOL_MAX: '1' } });
  let admin: Client;
  let owner: TestUser;
  let frozen: number | undefined;
  const graphql = (query: string, variables: Record<string, unknown>, as = owner) =>
    postGraphql(fault.server.graphqlUrl, query, { as, variables });
  const api = {
    graphql: (query: string, options?: Parameters<typeof postGraphql>[2]) => postGraphql(fault.server.graphqlUrl, query, options),
  };

  beforeAll(async () => {
    admin = new Client({ connectionString: fault.cluster.url, application_name: 'test-admin' });
    // The cluster is stopped under it at the end.
    admin.on('error', () => undefined);
    await admin.connect();
    owner = await newUser(api.graphql, { secret: FAULT_JWT_SECRET }, 'deadline');
  });
  afterEach(async () => {
    if (frozen !== undefined) signal(frozen, 'SIGCONT');
    frozen = undefined;
    await admin.query('rollback');
  });
  afterAll(async () => {
    await admin?.end();
  });

  const serverBackends = async (): Promise<Backend[]> =>
    (await admin.query<Backend>(`select pid, state from pg_stat_activity where application_name = 'tessera'`)).rows;
  const waitingForLock = async (): Promise<number[]> =>
    (
      await admin.query<{ pid: number }>(`select pid from pg_stat_activity where application_name = 'tessera' and wait_event_type = 'Lock'`)
    ).rows.map((row) => row.pid);

  /** Sends `request`, freezes the server's backend once it waits for the lock the test holds, and times the answer. */
  async function frozenWhileLocked(request: () => Promise<GraphqlResponse>) {
    const sentAt = Date.now();
    const answer = request().then((response) => ({ response, ms: Date.now() - sentAt }));
    await waitFor(async () => (await waitingForLock()).length === 1, 5_000, 20);
    const [pid] = await waitingForLock();
    signal(pid, 'SIGSTOP');
    frozen = pid;
    const { response, ms } = await answer;
    // The lock goes, the backend runs again: whatever it still had to say would come now.
    await admin.query('rollback');
    signal(pid, 'SIGCONT');
    frozen = undefined;
    return { pid, response, ms };
  }

  /** After the freeze: the old backend is gone, and the requests that follow run on a fresh connection. */
  async function afterwards(pid: number, id: string) {
    const goneMs = await waitFor(async () => !(await serverBackends()).some((backend) => backend.pid === pid), 5_000, 50).catch(
      () => 'never',
    );
    const next: GraphqlResponse[] = [];
    for (let i = 0; i < 3; i++) {
      next.push(await graphql(UPDATE, { id, name: `After the freeze ${i}` }));
      next.push(await graphql(READ, { id }));
    }
    await sleep(100);
    return { goneMs, next, backends: await serverBackends() };
  }

  const failures = (responses: GraphqlResponse[]) => responses.filter((r) => r.status !== 200 || r.body.errors?.length);

  it.each([
    ['a write in a transaction (the ORM)', UPDATE, 'row'],
    ['a read (the read path)', READ, 'table'],
  ])(
    '%s fails at the deadline, and its connection is closed at once, never handed out again',
    async (_, query, lock) => {
      const template = await createTemplateViaApi(api, owner, { name: 'Locked' });
      await admin.query('begin');
      if (lock === 'row') await admin.query('select 1 from experiment_templates where id = $1 for update', [template.id]);
      else await admin.query('lock table experiment_templates in access exclusive mode');

      const { pid, response, ms } = await frozenWhileLocked(() => graphql(query, { id: template.id, name: 'Frozen' }));
      const { goneMs, next, backends } = await afterwards(pid, template.id);
      console.log(
        `[faults] ${query === UPDATE ? 'write' : 'read'} frozen on backend ${pid}: answered ${response.status} ` +
          `${JSON.stringify(response.body.errors?.map((error: any) => error.extensions?.code))} in ${ms} ms (deadline ${DEADLINE_MS} ms); ` +
          `old backend gone ${goneMs === 'never' ? 'never' : `${goneMs} ms after the thaw`}; ` +
          `next 6 requests: ${next.length - failures(next).length} ok; server backends now ${JSON.stringify(backends)}`,
      );

      expect(response.body.errors?.map((error: any) => error.extensions?.code)).toEqual(['INTERNAL_SERVER_ERROR']);
      // Once, not again for a ROLLBACK queued behind the frozen statement on the same connection.
      expect(ms).toBeGreaterThanOrEqual(DEADLINE_MS - 100);
      expect(ms).toBeLessThan(DEADLINE_MS + 1_500);
      expect(goneMs).not.toBe('never');
      expect(failures(next)).toEqual([]);
      // The pool's one connection, fresh and out of any transaction.
      expect(backends).toEqual([{ pid: expect.any(Number), state: 'idle' }]);
      expect(backends[0].pid).not.toBe(pid);
    },
    60_000,
  );
});
