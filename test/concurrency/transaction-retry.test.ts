import { Client } from 'pg';
import {
  isRetryableTransactionError,
  transactionRetried,
  withTransactionRetry,
  type TransactionRetried,
} from '../../src/db/transaction-retry';
import { ValidationError } from '../../src/errors/domain-error';
import { dataOf, useApi } from '../support/api';
import { auditEventsOf, createTemplateViaApi, services, type TestUser } from '../support/factories';
import { openTestOrm } from '../support/test-database';

/**
 * Deadlocks (40P01) and serialization failures (40001) are retried inside the services: forced here with raw SQL on
 * connections of their own, racing a real service call, which must succeed as if nothing had happened.
 */

const SHARE = 'mutation($id: ID!, $userIds: [ID!]!) { shareTemplate(id: $id, userIds: $userIds) { id sharedWith { id } } }';

function sqlError(code: string): Error {
  return Object.assign(new Error(`simulated ${code}`), { code });
}

describe('transaction retry', () => {
  const api = useApi();
  let owner: TestUser;
  const raw: Client[] = [];

  beforeAll(async () => {
    owner = await api.user('owner');
  });

  afterEach(async () => {
    await Promise.all(raw.splice(0).map((client) => client.end().catch(() => undefined)));
  });

  /** A connection outside the server's pool, for holding locks the way another transaction would. */
  async function rawConnection(name: string): Promise<Client> {
    const client = new Client({ connectionString: api.db.url, application_name: name });
    await client.connect();
    raw.push(client);
    return client;
  }

  /** Waits until one of the server's connections (application_name tessera) waits on a lock in this database. */
  async function serverWaitingOnLock(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const [row] = await api.db.query(
        `select count(*)::int as n from pg_stat_activity
         where datname = current_database() and application_name = 'tessera' and wait_event_type = 'Lock'`,
      );
      if (row.n > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error('the server never waited on the lock');
  }

  async function deadlocksDetected(): Promise<number> {
    const [row] = await api.db.query('select deadlocks::int as n from pg_stat_database where datname = current_database()');
    return row.n;
  }

  describe('withTransactionRetry', () => {
    it('runs the work again after 40001 and 40P01, and returns its result', async () => {
      const failures = [sqlError('40001'), sqlError('40P01')];
      const retried: unknown[] = [];
      let calls = 0;
      const result = await withTransactionRetry(
        api.orm.em.fork(),
        async (em) => {
          calls += 1;
          await em.execute('select 1');
          const failure = failures.shift();
          if (failure) throw failure;
          return 'done';
        },
        { baseDelayMs: 1, onRetry: (error) => retried.push((error as { code: string }).code) },
      );
      expect(result).toBe('done');
      expect(calls).toBe(3);
      expect(retried).toEqual(['40001', '40P01']);
    });

    it('gives up after the attempts allowed, with the last error', async () => {
      let calls = 0;
      const error = await withTransactionRetry(
        api.orm.em.fork(),
        async () => {
          calls += 1;
          throw sqlError('40P01');
        },
        { attempts: 4, baseDelayMs: 1 },
      ).catch((e: unknown) => e);
      expect(calls).toBe(4);
      expect(isRetryableTransactionError(error)).toBe(true);
    });

    it.each([
      ['a domain error', () => ValidationError.at('/name', 'must not be empty')],
      ['a unique violation', () => sqlError('23505')],
      ['a lock timeout', () => sqlError('55P03')],
      ['a statement timeout', () => sqlError('57014')],
    ])('does not retry %s', async (_what, makeError) => {
      let calls = 0;
      const thrown = makeError();
      await expect(
        withTransactionRetry(api.orm.em.fork(), async () => {
          calls += 1;
          throw thrown;
        }),
      ).rejects.toBe(thrown);
      expect(calls).toBe(1);
    });

    it('inside a transaction already, leaves the retry to the outermost call', async () => {
      let inner = 0;
      let outer = 0;
      const result = await withTransactionRetry(
        api.orm.em.fork(),
        async (em) => {
          outer += 1;
          return withTransactionRetry(em, async () => {
            inner += 1;
            if (outer === 1) throw sqlError('40001');
            return 'done';
          });
        },
        { baseDelayMs: 1 },
      );
      expect(result).toBe('done');
      expect({ outer, inner }).toEqual({ outer: 2, inner: 2 });
    });

    it('rolls back a failed attempt whole: only the last attempt is written', async () => {
      const template = await createTemplateViaApi(api, owner);
      let calls = 0;
      await withTransactionRetry(
        api.orm.em.fork(),
        async (em) => {
          calls += 1;
          await em.execute('update experiment_templates set usage_count = usage_count + 1 where id = ?', [template.id]);
          if (calls < 3) throw sqlError('40P01');
        },
        { baseDelayMs: 1 },
      );
      const [row] = await api.db.query('select usage_count from experiment_templates where id = $1', [template.id]);
      expect(row.usage_count).toBe(1);
    });
  });

  it('a deadlock between a share over HTTP and another transaction: PostgreSQL aborts the share, which is retried and succeeds', async () => {
    const template = await createTemplateViaApi(api, owner);
    const recipient = await api.user('recipient');
    const before = await deadlocksDetected();

    // The other transaction takes the recipient's user row first...
    const other = await rawConnection('deadlock-test');
    await other.query('begin');
    await other.query(`set local deadlock_timeout = '10s'`).catch(() => undefined); // superuser only: then the default
    await other.query('select 1 from users where id = $1 for update', [recipient.id]);
    // ...the share locks the template row, then its foreign key check waits for the recipient's row...
    const share = api.graphql(SHARE, { as: owner, variables: { id: template.id, userIds: [recipient.id] } });
    await serverWaitingOnLock();
    // ...and the other transaction now wants the template row: a cycle. The share waited first, so its deadlock check
    // (deadlock_timeout, 1 s) finds the cycle and aborts it; the other transaction gets the template row.
    const started = performance.now();
    await other.query('select 1 from experiment_templates where id = $1 for update', [template.id]);
    await other.query('commit');
    const response = await share;
    console.log(`deadlock: share answered ${(performance.now() - started).toFixed(0)} ms after the cycle closed`);

    // The other transaction was not the victim (its lock came through), so the share was: and its caller saw nothing.
    expect(dataOf(response).shareTemplate.sharedWith.map((u: { id: string }) => u.id)).toEqual([recipient.id]);
    const shares = await api.db.query('select user_id from experiment_template_shares where template_id = $1', [template.id]);
    expect(shares).toEqual([{ user_id: recipient.id }]);
    // Statistics reach pg_stat_database a moment later.
    let after = await deadlocksDetected();
    for (let i = 0; i < 50 && after === before; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      after = await deadlocksDetected();
    }
    expect(after).toBe(before + 1);
  });

  // Last: it changes the database's default isolation, which new pooled connections pick up.
  it('a serialization failure (REPEATABLE READ by default, as a pooler or a DBA may set) is retried through the service', async () => {
    const template = await createTemplateViaApi(api, owner);
    await api.db.query(`alter database ${api.db.name} set default_transaction_isolation to 'repeatable read'`);
    const orm = await openTestOrm(api.db);
    try {
      const [isolation] = await orm.em.fork().execute('show transaction_isolation');
      expect(isolation.transaction_isolation).toBe('repeatable read');

      // Another transaction (a usage count, say) holds the template row...
      const other = await rawConnection('serialization-test');
      await other.query('begin');
      await other.query('update experiment_templates set usage_count = usage_count + 1 where id = $1', [template.id]);
      // ...while the update reads (its snapshot is taken) and then waits for the row lock...
      const em = orm.em.fork();
      const retries: TransactionRetried[] = [];
      const onRetry = (message: unknown) => void retries.push(message as TransactionRetried);
      transactionRetried.subscribe(onRetry);
      let updated;
      try {
        // The update is one statement, its own transaction.
        const update = services(api, em).templates.update(owner, template.id, { name: 'Renamed' });
        await serverWaitingOnLock();
        // ...which it gets once the other commits: too late for its snapshot, so PostgreSQL refuses with 40001.
        await other.query('commit');
        updated = await update;
      } finally {
        transactionRetried.unsubscribe(onRetry);
      }

      expect(retries).toEqual([{ reason: 'serialization_failure' }]);
      expect(updated.version).toBe(2);
      const [row] = await api.db.query('select name, version, usage_count from experiment_templates where id = $1', [template.id]);
      // Both writes are there: the other's count and the retried update, made on top of it.
      expect(row).toEqual({ name: 'Renamed', version: 2, usage_count: 1 });
      // The attempt that failed left no event: the update has one, from the attempt that committed.
      expect((await auditEventsOf(api, template.id)).map((event) => event.action)).toEqual(['template.created', 'template.updated']);
      const versions = await api.db.query('select version from experiment_template_versions where template_id = $1 order by version', [
        template.id,
      ]);
      expect(versions.map((v) => v.version)).toEqual([1, 2]);
    } finally {
      await api.db.query(`alter database ${api.db.name} reset default_transaction_isolation`);
      await orm.close(true);
    }
  });
});
