import { Client } from 'pg';
import { ConfigError, loadConfig } from '../../src/config';
import { openDatabase } from '../../src/db/database';
import { dataOf, errorOf, useApi, type Api, type GraphqlResponse } from '../support/api';
import { createTemplateViaApi, validConfiguration, type TestUser } from '../support/factories';
import { createTestDatabase } from '../support/test-database';
import { TEST_DB_CONFIG } from '../support/test-database-config';

/**
 * The server behind a real PgBouncer in transaction mode (DATABASE_POOLER=pgbouncer): a client's statements run on
 * whichever of PgBouncer's few server connections is free, so access, versions and usage must hold without any
 * session state, the timeouts must still fire, and nothing a client leaves on a server connection may reach another.
 */

const TEMPLATE = 'query($id: ID!) { template(id: $id) { id isPublic sharedWith { id } } }';
const TEMPLATES = '{ templates(first: 100) { edges { node { id } } totalCount } }';
const UPDATE = `mutation($id: ID!, $input: UpdateTemplateInput!) { updateTemplate(id: $id, input: $input) { id version } }`;
const SHARE = `mutation($id: ID!, $userIds: [ID!]!) { shareTemplate(id: $id, userIds: $userIds) { id } }`;
const UNSHARE = `mutation($id: ID!, $userIds: [ID!]!) { unshareTemplate(id: $id, userIds: $userIds) { id } }`;
const SET_PUBLIC = `mutation($id: ID!, $isPublic: Boolean!) { setTemplatePublic(id: $id, isPublic: $isPublic) { id } }`;
const FROM_TEMPLATE = `mutation($input: CreateExperimentFromTemplateInput!) {
  createExperimentFromTemplate(input: $input) { id templateVersion } }`;

/** Every response of a burst, or the errors of those that failed (for the assertion message). */
function errorsOf(responses: GraphqlResponse[]): string[] {
  return responses.flatMap((r) => (r.status === 200 && !r.body.errors?.length ? [] : [JSON.stringify(r.body).slice(0, 300)]));
}

/** A client of PgBouncer's, as another instance of the server would be. */
async function throughPgBouncer(api: Api): Promise<Client> {
  const client = new Client({ connectionString: api.pgbouncer!.url(api.db.name) });
  await client.connect();
  return client;
}

interface ServerSession {
  pid: number;
  statement_timeout: string;
  lock_timeout: string;
  idle_in_transaction_session_timeout: string;
  prepared: number;
}

/**
 * What every server connection PgBouncer holds for the database carries: as many clients as the pool has server
 * connections each hold a transaction open at once, so each is given a different one.
 */
async function serverSessions(api: Api): Promise<ServerSession[]> {
  const clients = await Promise.all(Array.from({ length: api.pgbouncer!.poolSize }, () => throughPgBouncer(api)));
  try {
    await Promise.all(clients.map((client) => client.query('begin')));
    const sessions = await Promise.all(
      clients.map(async (client) => {
        const { rows } = await client.query<ServerSession>(
          `select pg_backend_pid() as pid, current_setting('statement_timeout') as statement_timeout,
                  current_setting('lock_timeout') as lock_timeout,
                  current_setting('idle_in_transaction_session_timeout') as idle_in_transaction_session_timeout,
                  (select count(*)::int from pg_prepared_statements) as prepared`,
        );
        return rows[0];
      }),
    );
    await Promise.all(clients.map((client) => client.query('rollback')));
    return sessions.sort((a, b) => a.pid - b.pid);
  } finally {
    await Promise.all(clients.map((client) => client.end()));
  }
}

/** PgBouncer's own account of the database's pool: clients waiting, server connections busy. */
async function poolOf(api: Api): Promise<{ cl_waiting: number; sv_active: number }> {
  const admin = new Client({ connectionString: api.pgbouncer!.adminUrl });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ database: string; cl_waiting: string; sv_active: string }>('show pools');
    const pool = rows.find((row) => row.database === api.db.name)!;
    return { cl_waiting: Number(pool.cl_waiting), sv_active: Number(pool.sv_active) };
  } finally {
    await admin.end();
  }
}

describe('through PgBouncer in transaction mode', () => {
  const api = useApi({ pooler: 'pgbouncer' });
  let owner: TestUser;
  let stranger: TestUser;
  let users: TestUser[];

  beforeAll(async () => {
    owner = await api.user('owner');
    stranger = await api.user('stranger');
    users = await Promise.all(Array.from({ length: 5 }, (_, i) => api.user(`caller${i}`)));
  });

  it('reads send unnamed statements: a named one would be looked for on another server connection', async () => {
    await createTemplateViaApi(api, owner, { name: 'Listed' });
    const { result, sent } = await api.countStatements(() => api.graphql(TEMPLATES, { as: owner }));
    expect(dataOf(result).templates.totalCount).toBe(1);
    expect(sent.length).toBeGreaterThan(0);
    expect(sent.filter((statement) => statement.prepared)).toEqual([]);
  });

  it('access: a private template is hidden from others until shared, and again once unshared or made private', async () => {
    const { id } = await createTemplateViaApi(api, owner, { name: 'Private' });
    const seenBy = async (user: TestUser) => dataOf(await api.graphql(TEMPLATE, { as: user, variables: { id } })).template;
    const listedFor = async (user: TestUser) =>
      dataOf(await api.graphql(TEMPLATES, { as: user })).templates.edges.map((edge: { node: { id: string } }) => edge.node.id);

    expect(await seenBy(owner)).toEqual({ id, isPublic: false, sharedWith: [] });
    expect(await seenBy(stranger)).toBeNull();
    expect(await listedFor(stranger)).not.toContain(id);

    dataOf(await api.graphql(SHARE, { as: owner, variables: { id, userIds: [stranger.id] } }));
    expect(await seenBy(stranger)).toEqual({ id, isPublic: false, sharedWith: [] });
    expect(await listedFor(stranger)).toContain(id);
    expect(await seenBy(owner)).toEqual({ id, isPublic: false, sharedWith: [{ id: stranger.id }] });

    dataOf(await api.graphql(UNSHARE, { as: owner, variables: { id, userIds: [stranger.id] } }));
    expect(await seenBy(stranger)).toBeNull();

    dataOf(await api.graphql(SET_PUBLIC, { as: owner, variables: { id, isPublic: true } }));
    expect(await seenBy(stranger)).toEqual({ id, isPublic: true, sharedWith: [] });
    dataOf(await api.graphql(SET_PUBLIC, { as: owner, variables: { id, isPublic: false } }));
    expect(await seenBy(stranger)).toBeNull();
    expect(await listedFor(stranger)).not.toContain(id);
  });

  it('versions: 30 concurrent content changes give versions 2..31, each once', async () => {
    const { id } = await createTemplateViaApi(api, owner, { name: 'Busy' });
    const responses = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        api.graphql(UPDATE, {
          as: owner,
          variables: { id, input: { description: `change ${i}`, configuration: validConfiguration({ parameters: { seed: i } }) } },
        }),
      ),
    );
    expect(errorsOf(responses)).toEqual([]);
    const returned = responses.map((r) => r.body.data!.updateTemplate.version as number).sort((a, b) => a - b);
    expect(returned).toEqual(Array.from({ length: 30 }, (_, i) => i + 2));
    const rows = await api.db.query<{ version: number }>(
      'select version from experiment_template_versions where template_id = $1 order by version',
      [id],
    );
    expect(rows.map((row) => row.version)).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
  });

  it('usage: 40 concurrent createExperimentFromTemplate count exactly 40 uses', async () => {
    const { id } = await createTemplateViaApi(api, owner, { name: 'Popular' });
    dataOf(await api.graphql(SET_PUBLIC, { as: owner, variables: { id, isPublic: true } }));
    const [before] = await api.db.query('select usage_count from experiment_templates where id = $1', [id]);
    const responses = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        api.graphql(FROM_TEMPLATE, { as: users[i % users.length], variables: { input: { templateId: id, name: `run ${i}` } } }),
      ),
    );
    expect(errorsOf(responses)).toEqual([]);
    const [after] = await api.db.query(
      'select usage_count, (select count(*)::int from ml_experiments where template_id = $1) as experiments from experiment_templates where id = $1',
      [id],
    );
    expect(after).toEqual({ usage_count: before.usage_count + 40, experiments: 40 });
  });

  it("leaves nothing on PgBouncer's server connections: each has the role's timeouts and no prepared statement", async () => {
    // Enough traffic that every server connection served several of the server's clients.
    const responses = await Promise.all(Array.from({ length: 40 }, (_, i) => api.graphql(TEMPLATES, { as: users[i % users.length] })));
    expect(errorsOf(responses)).toEqual([]);
    const clean = {
      statement_timeout: `${TEST_DB_CONFIG.statementTimeoutMs / 1000}s`,
      lock_timeout: `${TEST_DB_CONFIG.lockTimeoutMs / 1000}s`,
      idle_in_transaction_session_timeout: '1min',
      prepared: 0,
    };
    const sessions = await serverSessions(api);
    expect(sessions).toHaveLength(api.pgbouncer!.poolSize);
    expect(sessions.map(({ pid: _, ...session }) => session)).toEqual(sessions.map(() => clean));

    // The check can tell: PgBouncer does hand a session SET on to the next client of that server connection, which
    // is why the server sends none.
    const careless = await throughPgBouncer(api);
    await careless.query(`set lock_timeout = '1ms'`);
    await careless.end();
    const after = await serverSessions(api);
    expect(after.filter((session) => session.lock_timeout === '1ms')).toHaveLength(1);
    // Out of this pool for the tests that follow.
    const admin = new Client({ connectionString: api.pgbouncer!.adminUrl });
    await admin.connect();
    await admin.query(`reconnect ${api.db.name}`);
    await admin.end();
  });

  it('refuses to start when the role lacks the configured timeouts, and says how to set them', async () => {
    const bare = await createTestDatabase();
    try {
      const config = loadConfig({ NODE_ENV: 'test', DATABASE_URL: api.pgbouncer!.url(bare.name), DATABASE_POOLER: 'pgbouncer' });
      const error = await openDatabase({ ...config, db: { ...TEST_DB_CONFIG, pooler: 'pgbouncer' } }, () => undefined).then(
        () => undefined,
        (rejection: unknown) => rejection,
      );
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual(
        [
          ['idle_in_transaction_session_timeout', '0', 60_000],
          ['lock_timeout', '0', TEST_DB_CONFIG.lockTimeoutMs],
          ['statement_timeout', '0', TEST_DB_CONFIG.statementTimeoutMs],
        ].map(
          ([name, actual, expected]) =>
            `behind DATABASE_POOLER=pgbouncer, ${name} must be the default of role tessera in database ${bare.name} ` +
            `(it is ${actual} ms, configured ${expected} ms): ALTER ROLE "tessera" IN DATABASE "${bare.name}" SET ${name} = ${expected};`,
        ),
      );
    } finally {
      await bare.drop();
    }
  });
});

describe('through PgBouncer, with a short statement timeout', () => {
  const api = useApi({ pooler: 'pgbouncer', db: { statementTimeoutMs: 500, lockTimeoutMs: 10_000 } });
  let owner: TestUser;
  let template: { id: string };

  beforeAll(async () => {
    owner = await api.user('owner');
    template = await createTemplateViaApi(api, owner, { name: 'Contended' });
  });

  /** The client sees a masked error; the log holds PostgreSQL's cause under its request id. */
  function expectTimedOut(response: GraphqlResponse) {
    const error = errorOf(response);
    expect(error).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' });
    const logged = api.logs.filter((line) => line.includes(error.extensions.requestId)).join('\n');
    expect(logged).toMatch(/canceling statement due to statement timeout/);
  }

  /** Runs `work` while a direct connection holds `lock` in a transaction of its own. */
  async function whileLocked<T>(lock: string, values: unknown[], work: () => Promise<T>): Promise<T> {
    const other = new Client({ connectionString: api.db.url });
    await other.connect();
    try {
      await other.query('begin');
      await other.query(lock, values);
      return await work();
    } finally {
      await other.query('rollback');
      await other.end();
    }
  }

  it('fires on a write waiting for a row lock: masked, nothing written', async () => {
    const response = await whileLocked('select 1 from experiment_templates where id = $1 for update', [template.id], () =>
      api.graphql(UPDATE, { as: owner, variables: { id: template.id, input: { name: 'Renamed' } } }),
    );
    expectTimedOut(response);
    const [row] = await api.db.query('select name, version from experiment_templates where id = $1', [template.id]);
    expect(row).toEqual({ name: 'Contended', version: 1 });
  });

  it('fires on a read outside any transaction, waiting behind a table lock', async () => {
    const response = await whileLocked('lock table experiment_templates in access exclusive mode', [], () =>
      api.graphql(TEMPLATES, { as: owner }),
    );
    // PostgreSQL's own timeout (the logged cause), not the client's deadline a second later.
    expectTimedOut(response);
  });

  it('leaves no connection stuck: PgBouncer has none busy nor waiting, and every one serves again', async () => {
    const busy = () =>
      api.db.query(`select state from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and state <> 'idle'`);
    // A statement cancelled a moment ago may still be winding down on a loaded machine: stuck means still busy after 2 s.
    for (let waited = 0; waited < 2_000; waited += 50) {
      const pool = await poolOf(api);
      if (pool.cl_waiting === 0 && pool.sv_active === 0 && (await busy()).length === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await poolOf(api)).toEqual({ cl_waiting: 0, sv_active: 0 });
    expect(await busy()).toEqual([]);
    const responses = await Promise.all(Array.from({ length: 3 * api.pgbouncer!.poolSize }, () => api.graphql(TEMPLATES, { as: owner })));
    expect(errorsOf(responses)).toEqual([]);
    expect(responses.map((r) => r.body.data!.templates.totalCount)).toEqual(responses.map(() => 1));
  });
});
