import { errorOf, useApi } from '../support/api';
import { waitForRateLimitWindow } from '../support/rate-limit-window';

describe.each(['postgres', 'memory'])('rate limiting, counted in %s', (store) => {
  const api = useApi({ env: { RATE_LIMIT_PER_IP_PER_MINUTE: '12', RATE_LIMIT_PER_USER_PER_MINUTE: '5', RATE_LIMIT_STORE: store } });
  beforeAll(() => waitForRateLimitWindow(api.db));

  it('limits each user, with a retry hint, without touching other users or the data', async () => {
    const ada = await api.user('ada'); // 1 request
    const grace = await api.user('grace'); // 1 request
    for (let i = 1; i < 5; i++) expect((await api.graphql('{ me { id } }', { as: ada })).status).toBe(200);

    const { result: limited, statements } = await api.countStatements(() => api.graphql('{ me { id } }', { as: ada }));
    expect(limited.status).toBe(429);
    const error = errorOf(limited);
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.extensions.scope).toBe('user');
    expect(error.extensions.retryAfterSeconds).toBeGreaterThan(0);
    // Nothing but the shared store's reports, sent beside requests, never for them (limits of 12 and 5 report each one).
    expect(store === 'postgres' ? statements.filter((sql) => !sql.includes('insert into rate_limit_windows')) : statements).toEqual([]);

    expect((await api.graphql('{ me { id } }', { as: grace })).status).toBe(200);
  });

  it('limits each client address, anonymous or not, and says when to retry', async () => {
    // 8 requests so far from this address; the limit is 12.
    for (let i = 0; i < 4; i++) expect((await api.graphql('{ __typename }')).status).toBe(200);
    const response = await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(((await response.json()) as { errors: Array<{ extensions: unknown }> }).errors[0].extensions).toMatchObject({
      code: 'RATE_LIMITED',
      scope: 'ip',
    });
  });

  it('does not limit health checks', async () => {
    const base = new URL(api.url).origin;
    for (let i = 0; i < 20; i++) expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
