import { randomUUID } from 'node:crypto';
import { signLocalToken } from '../../src/auth/local-secret';
import { dataOf, errorOf, TEST_JWT_SECRET, useApi } from '../support/api';
import { waitForRateLimitWindow } from '../support/rate-limit-window';

/**
 * `userByEmail`: one exact address (after lower-casing), callers with a token only, never a list, and a limit per
 * caller of its own, counted in the shared rate-limit store like the request limits.
 */

const LOOKUP = 'query($email: String!) { userByEmail(email: $email) { id displayName email } }';
const LOOKUP_LIMIT = 4;

describe.each(['postgres', 'memory'])('userByEmail, limits counted in %s', (store) => {
  const api = useApi({ env: { RATE_LIMIT_USER_BY_EMAIL_PER_MINUTE: String(LOOKUP_LIMIT), RATE_LIMIT_STORE: store } });

  it('answers one exact address with its user, the email shown by the privacy rule only; null for nobody', async () => {
    const ada = await api.user('ada');
    const grace = await api.user('grace');
    const staff = await api.user('staff', ['admin']);
    const found = dataOf(await api.graphql(LOOKUP, { as: grace, variables: { email: ` ${ada.email.toUpperCase()}` } })).userByEmail;
    expect(found).toEqual({ id: ada.id, displayName: ada.email.split('@')[0], email: null });
    expect(dataOf(await api.graphql(LOOKUP, { as: ada, variables: { email: ada.email } })).userByEmail.email).toBe(ada.email);
    expect(dataOf(await api.graphql(LOOKUP, { as: staff, variables: { email: ada.email } })).userByEmail.email).toBe(ada.email);
    // Exact: a prefix or a domain names nobody.
    for (const email of [`${ada.email}x`, `x${ada.email}`, `nobody-${randomUUID()}@example.test`]) {
      expect(dataOf(await api.graphql(LOOKUP, { as: staff, variables: { email } }))).toEqual({ userByEmail: null });
    }
  });

  it('refuses anonymous callers and what is not an address', async () => {
    const ada = await api.user('ada');
    const anonymous = await api.graphql(LOOKUP, { variables: { email: ada.email } });
    expect(errorOf(anonymous).code).toBe('UNAUTHENTICATED');
    expect(anonymous.body.data).toEqual({ userByEmail: null });
    const invalid = errorOf(await api.graphql(LOOKUP, { as: ada, variables: { email: 'not an address' } }));
    expect(invalid.code).toBe('BAD_USER_INPUT');
    expect(invalid.extensions.validationErrors).toEqual([{ path: '/email', message: 'must be an email address' }]);
  });

  it('passes over an address its provider said is unverified', async () => {
    const ada = await api.user('ada');
    const email = `unverified-${randomUUID().slice(0, 8)}@example.test`;
    const token = await signLocalToken({ secret: TEST_JWT_SECRET, email, emailVerified: false });
    dataOf(await api.graphql('{ me { id } }', { as: { token } }));
    expect(dataOf(await api.graphql(LOOKUP, { as: ada, variables: { email } }))).toEqual({ userByEmail: null });
  });

  it(`limits each caller to ${LOOKUP_LIMIT} lookups a minute, each field counting, with a retry hint`, async () => {
    await waitForRateLimitWindow(api.db);
    const ada = await api.user('ada');
    const grace = await api.user('grace');
    const twice = `query($email: String!) { a: userByEmail(email: $email) { id } b: userByEmail(email: $email) { id } }`;
    dataOf(await api.graphql(twice, { as: ada, variables: { email: grace.email } }));
    for (let i = 2; i < LOOKUP_LIMIT; i++) dataOf(await api.graphql(LOOKUP, { as: ada, variables: { email: grace.email } }));

    const limited = await api.graphql(`query($email: String!) { me { id } userByEmail(email: $email) { id } }`, {
      as: ada,
      variables: { email: grace.email },
    });
    expect(limited.status).toBe(200);
    expect(limited.body.data).toEqual({ me: { id: ada.id }, userByEmail: null });
    const error = errorOf(limited);
    expect(error.code).toBe('RATE_LIMITED');
    expect(error.extensions).toMatchObject({ scope: 'user_by_email', retryAfterSeconds: expect.any(Number) });
    expect(error.extensions.retryAfterSeconds).toBeGreaterThan(0);

    // Another caller has a count of its own.
    expect(dataOf(await api.graphql(LOOKUP, { as: grace, variables: { email: ada.email } })).userByEmail.id).toBe(ada.id);
  });
});
