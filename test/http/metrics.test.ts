import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { signLocalToken } from '../../src/auth/local-secret';
import { withTransactionRetry } from '../../src/db/transaction-retry';
import { QUERY_LIMITS } from '../../src/graphql/limits';
import { MAX_OPERATION_NAMES } from '../../src/metrics/metrics';
import { dataOf, errorOf, TEST_JWT_SECRET, useApi } from '../support/api';
import { scrape, type Scrape } from '../support/metrics';

const PUBLIC_TEMPLATES = 'query PublicTemplates { templates(first: 5) { totalCount edges { node { id } } } }';
const PAGE_OF = 'query PageOf($first: Int!) { templates(first: $first) { totalCount } }';
const COSTLY = `query Costly { experiments(first: 100) { edges { node { id template { id
  experiments(first: 100) { edges { node { id template { id } } } } } } } } }`;
const ME = 'query Me { me { id } }';

const REQUESTS = 'tessera_graphql_requests_total';
const SECONDS = 'tessera_graphql_request_duration_seconds';
const ERRORS = 'tessera_graphql_errors_total';
const STATEMENTS = 'tessera_db_statement_duration_seconds';

/** How much each series moved between two scrapes. */
function deltas(before: Scrape, after: Scrape) {
  return (name: string, labels: Record<string, string> = {}) => after.count(name, labels) - before.count(name, labels);
}

describe('metrics in development, on the server’s own port', () => {
  // Three requests per user and minute, so one user can be refused; anonymous traffic is not limited.
  const api = useApi({ env: { NODE_ENV: 'development', RATE_LIMIT_PER_USER_PER_MINUTE: '3' } });

  it('serves /metrics beside /graphql without a token', () => {
    expect(new URL(api.metricsUrl!).origin).toBe(new URL(api.url).origin);
  });

  it('counts known traffic exactly: requests by operation and outcome, latencies, errors by code, refusals, rejections', async () => {
    const limited = await api.user('limited'); // its first request of three
    const before = await scrape(api.metricsUrl!);

    const { statements } = await api.countStatements(async () => {
      for (let i = 0; i < 3; i++) expect(dataOf(await api.graphql(PUBLIC_TEMPLATES)).templates.totalCount).toBeGreaterThanOrEqual(0);
    });
    expect(errorOf(await api.graphql(PAGE_OF, { variables: { first: 'ten' } })).code).toBe('BAD_USER_INPUT');
    expect(errorOf(await api.graphql(COSTLY)).code).toBe('QUERY_TOO_COMPLEX');
    for (let i = 0; i < 2; i++) dataOf(await api.graphql(ME, { as: limited }));
    const refused = await api.graphql(ME, { as: limited });
    expect(refused.status).toBe(429);
    const badToken = await api.graphql('{ __typename }', { headers: { authorization: 'Bearer not-a-token' } });
    expect(badToken.status).toBe(401);

    const after = await scrape(api.metricsUrl!);
    const delta = deltas(before, after);
    const requests = (operation: string, outcome: string) => delta(REQUESTS, { operation, outcome });
    expect(requests('PublicTemplates', 'ok')).toBe(3);
    expect(requests('PageOf', 'client_error')).toBe(1);
    expect(requests('Costly', 'client_error')).toBe(1);
    expect(requests('Me', 'ok')).toBe(2);
    // Refused before any operation was resolved: the rate limit and the bad token.
    expect(requests('(unresolved)', 'client_error')).toBe(2);
    // Every request sent is counted once, and nothing else.
    const total = (scrape: Scrape) => scrape.series(REQUESTS).reduce((sum, { value }) => sum + value, 0);
    expect(total(after) - total(before)).toBe(9);

    // Latency of each request that reached GraphQL, under its operation and outcome.
    const observed = (operation: string, outcome: string) => delta(`${SECONDS}_count`, { operation, outcome });
    expect([
      observed('PublicTemplates', 'ok'),
      observed('PageOf', 'client_error'),
      observed('Costly', 'client_error'),
      observed('Me', 'ok'),
    ]).toEqual([3, 1, 1, 2]);
    expect(delta(`${SECONDS}_bucket`, { operation: 'PublicTemplates', outcome: 'ok', le: '+Inf' })).toBe(3);
    expect(delta(`${SECONDS}_sum`, { operation: 'PublicTemplates', outcome: 'ok' })).toBeGreaterThan(0);

    expect(delta(ERRORS, { code: 'BAD_USER_INPUT' })).toBe(1);
    expect(delta(ERRORS, { code: 'QUERY_TOO_COMPLEX' })).toBe(1);
    expect(delta(ERRORS, { code: 'RATE_LIMITED' })).toBe(1);
    expect(delta(ERRORS, { code: 'UNAUTHENTICATED' })).toBe(1);
    expect(delta(ERRORS, { code: 'INTERNAL_SERVER_ERROR' })).toBe(0);
    expect(delta('tessera_rate_limit_refusals_total', { scope: 'user' })).toBe(1);
    expect(delta('tessera_rate_limit_refusals_total', { scope: 'ip' })).toBe(0);
    expect(delta('tessera_graphql_query_limit_rejections_total', { limit: 'cost' })).toBe(1);

    expect(delta(`${STATEMENTS}_count`, { outcome: 'ok' })).toBeGreaterThanOrEqual(statements.length);
    expect(delta(`${STATEMENTS}_count`, { outcome: 'error' })).toBe(0);
  });

  it('counts a request Apollo refuses before its pipeline (CSRF prevention) under its code', async () => {
    const before = await scrape(api.metricsUrl!);
    const simpleGet = await fetch(`${api.url}?query=${encodeURIComponent('query Ping { __typename }')}`);
    expect(simpleGet.status).toBe(400);
    const delta = deltas(before, await scrape(api.metricsUrl!));
    expect(delta(ERRORS, { code: 'BAD_REQUEST' })).toBe(1);
    expect(delta(REQUESTS, { operation: '(unresolved)', outcome: 'client_error' })).toBe(1);
    expect(delta(REQUESTS, { operation: 'Ping', outcome: 'ok' })).toBe(0);
  });

  it('times exactly the statements a request sent', async () => {
    const before = await scrape(api.metricsUrl!);
    const { statements } = await api.countStatements(() => api.graphql(PUBLIC_TEMPLATES));
    const after = await scrape(api.metricsUrl!);
    expect(statements.length).toBeGreaterThan(0);
    expect(deltas(before, after)(`${STATEMENTS}_count`, { outcome: 'ok' })).toBe(statements.length);
  });

  it('counts each query limit by name', async () => {
    const before = await scrape(api.metricsUrl!);
    const deep = `{ ${'experiments { edges { node { template { '.repeat(3)} __typename ${'} } } } '.repeat(3)}}`;
    const aliased = `{ ${Array.from({ length: QUERY_LIMITS.maxAliases + 1 }, (_, i) => `a${i}: me { id }`).join(' ')} }`;
    const long = `{ validateConfiguration(configuration: { a: [${Array(QUERY_LIMITS.maxTokens).fill('1').join(' ')}] }) { valid } }`;
    expect(errorOf(await api.graphql(deep)).code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(errorOf(await api.graphql(aliased)).code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(errorOf(await api.graphql(long)).code).toBe('GRAPHQL_PARSE_FAILED');
    const delta = deltas(before, await scrape(api.metricsUrl!));
    const rejected = (limit: string) => delta('tessera_graphql_query_limit_rejections_total', { limit });
    expect({ depth: rejected('depth'), aliases: rejected('aliases'), tokens: rejected('tokens'), cost: rejected('cost') }).toEqual({
      depth: 1,
      aliases: 1,
      tokens: 1,
      cost: 0,
    });
    // A document that never parsed or validated has no operation to name.
    expect(delta(REQUESTS, { operation: '(unresolved)', outcome: 'client_error' })).toBe(3);
  });

  it('counts a fault of the server as a server error, and its failed statement', async () => {
    // A caller the server has not met yet, so identifying it needs the users table.
    const stranger = { token: await signLocalToken({ secret: TEST_JWT_SECRET, email: `stranger-${randomUUID()}@example.test` }) };
    const before = await scrape(api.metricsUrl!);
    await api.db.query('alter table users rename to users_away');
    try {
      expect(errorOf(await api.graphql(ME, { as: stranger })).code).toBe('INTERNAL_SERVER_ERROR');
    } finally {
      await api.db.query('alter table users_away rename to users');
    }
    const delta = deltas(before, await scrape(api.metricsUrl!));
    expect(delta(REQUESTS, { operation: 'Me', outcome: 'server_error' })).toBe(1);
    expect(delta(ERRORS, { code: 'INTERNAL_SERVER_ERROR' })).toBe(1);
    expect(delta(`${STATEMENTS}_count`, { outcome: 'error' })).toBe(1);
  });

  it('counts the retries of serialization failures and deadlocks by reason', async () => {
    const before = await scrape(api.metricsUrl!);
    const failures = ['40001', '40P01', '40001'].map((code) => Object.assign(new Error(`simulated ${code}`), { code }));
    await withTransactionRetry(
      api.orm.em.fork(),
      async (em) => {
        await em.execute('select 1');
        const failure = failures.shift();
        if (failure) throw failure;
      },
      { baseDelayMs: 1 },
    );
    const delta = deltas(before, await scrape(api.metricsUrl!));
    expect(delta('tessera_db_transaction_retries_total', { reason: 'serialization_failure' })).toBe(2);
    expect(delta('tessera_db_transaction_retries_total', { reason: 'deadlock' })).toBe(1);
  });

  it('names anonymous operations as such, and folds names past the bound into one label', async () => {
    const before = await scrape(api.metricsUrl!);
    const namesOf = (metrics: Scrape) =>
      new Set(metrics.series(REQUESTS).flatMap(({ labels }) => (labels.operation.startsWith('(') ? [] : [labels.operation])));
    const named = namesOf(before);
    const sent = MAX_OPERATION_NAMES + 5;
    dataOf(await api.graphql('{ __typename }'));
    for (let i = 0; i < sent; i += 20) {
      const batch = Array.from({ length: Math.min(20, sent - i) }, (_, j) => api.graphql(`query Client${i + j} { __typename }`));
      for (const response of await Promise.all(batch)) dataOf(response);
    }
    const after = await scrape(api.metricsUrl!);
    const delta = deltas(before, after);
    expect(delta(REQUESTS, { operation: '(anonymous)', outcome: 'ok' })).toBe(1);
    const folded = named.size + sent - MAX_OPERATION_NAMES;
    expect(folded).toBeGreaterThanOrEqual(5);
    expect(delta(REQUESTS, { operation: '(other)', outcome: 'ok' })).toBe(folded);
    expect(namesOf(after).size).toBe(MAX_OPERATION_NAMES);
    expect(after.value(REQUESTS, { operation: `Client${sent - 1}`, outcome: 'ok' })).toBeUndefined();
    expect(after.value(REQUESTS, { operation: 'Client0', outcome: 'ok' })).toBe(1);
  });

  it('has the process metrics', async () => {
    const metrics = await scrape(api.metricsUrl!);
    expect(metrics.value('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    expect(metrics.value('process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(metrics.value('nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
  });
});

describe('pool gauges', () => {
  const POOL_MAX = 2;
  const api = useApi({ db: { poolMax: POOL_MAX } });
  const pool = (metrics: Scrape) => ({
    inUse: metrics.value('tessera_db_pool_connections', { state: 'in_use' }),
    idle: metrics.value('tessera_db_pool_connections', { state: 'idle' }),
    waiting: metrics.value('tessera_db_pool_waiting_requests'),
    max: metrics.value('tessera_db_pool_max_connections'),
  });

  it('read the pool when scraped: connections in use, idle, and requests waiting for one', async () => {
    const resting = pool(await scrape(api.metricsUrl!));
    expect(resting).toEqual({ inUse: 0, idle: expect.any(Number), waiting: 0, max: POOL_MAX });
    expect(resting.idle).toBeLessThanOrEqual(POOL_MAX);

    // Three reads queue behind a table lock held elsewhere: two hold the pool's connections, the third waits for one.
    const locker = new Client({ connectionString: api.db.url });
    await locker.connect();
    try {
      await locker.query('begin');
      await locker.query('lock table experiment_templates in access exclusive mode');
      const reads = Array.from({ length: 3 }, () => api.graphql('query Blocked { templates(first: 1) { edges { node { id } } } }'));
      let busy = pool(await scrape(api.metricsUrl!));
      // Until both connections are open and busy: a connection still being opened is neither in use nor idle.
      for (let waited = 0; (busy.waiting !== 1 || busy.inUse !== POOL_MAX) && waited < 5_000; waited += 20) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        busy = pool(await scrape(api.metricsUrl!));
      }
      expect(busy).toEqual({ inUse: POOL_MAX, idle: 0, waiting: 1, max: POOL_MAX });
      await locker.query('rollback');
      for (const read of await Promise.all(reads)) dataOf(read);
    } finally {
      await locker.end();
    }
    expect(pool(await scrape(api.metricsUrl!))).toEqual({ inUse: 0, idle: POOL_MAX, waiting: 0, max: POOL_MAX });
  });
});

describe('metrics in production behind METRICS_TOKEN', () => {
  const TOKEN = 'metrics-token-0123456789-abcdefghijkl';
  const api = useApi({ env: { NODE_ENV: 'production', METRICS_TOKEN: TOKEN } });

  it('answers only a scrape with the token', async () => {
    expect(new URL(api.metricsUrl!).origin).toBe(new URL(api.url).origin);
    const without = await fetch(api.metricsUrl!);
    expect(without.status).toBe(401);
    expect(without.headers.get('www-authenticate')).toBe('Bearer');
    expect(await without.text()).not.toContain('tessera_');
    for (const authorization of [`Bearer ${TOKEN}x`, `Bearer ${TOKEN.slice(1)}`, TOKEN, `Basic ${TOKEN}`]) {
      expect((await fetch(api.metricsUrl!, { headers: { authorization } })).status).toBe(401);
    }
    dataOf(await api.graphql('query Ping { __typename }'));
    const metrics = await scrape(api.metricsUrl!, TOKEN);
    expect(metrics.value(REQUESTS, { operation: 'Ping', outcome: 'ok' })).toBe(1);
  });
});

describe('metrics in production on METRICS_PORT', () => {
  const api = useApi({ env: { NODE_ENV: 'production', METRICS_PORT: '0' } });

  it('serves /metrics on its own port only', async () => {
    const metricsUrl = new URL(api.metricsUrl!);
    expect(metricsUrl.port).not.toBe(new URL(api.url).port);
    expect((await fetch(new URL('/metrics', api.url))).status).toBe(404);
    expect((await fetch(new URL('/graphql', metricsUrl))).status).toBe(404);
    dataOf(await api.graphql('query Ping { __typename }'));
    expect((await scrape(api.metricsUrl!)).value(REQUESTS, { operation: 'Ping', outcome: 'ok' })).toBe(1);
  });
});

describe('metrics in production with neither METRICS_PORT nor METRICS_TOKEN', () => {
  const api = useApi({ env: { NODE_ENV: 'production' } });

  it('are not served', async () => {
    expect(api.metricsUrl).toBeUndefined();
    expect((await fetch(new URL('/metrics', api.url))).status).toBe(404);
  });
});
