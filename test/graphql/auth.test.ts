import { randomUUID } from 'node:crypto';
import { SignJWT } from 'jose';
import { MAX_CLOCK_SKEW_SECONDS } from '../../src/auth/token-verifier';
import { dataOf, errorOf, postRaw, TEST_JWT_SECRET, useApi } from '../support/api';

const ISSUER = 'https://idp.example.test/';
const AUDIENCE = 'tessera-api';
const key = new TextEncoder().encode(TEST_JWT_SECRET);

function claims() {
  return new SignJWT({ email: 'grace@example.test', name: 'Grace' }).setSubject('idp|grace').setIssuedAt();
}

describe('JWT authentication over HTTP', () => {
  const api = useApi({ env: { JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE } });

  const send = (token: string) => api.graphql('{ me { id email } }', { headers: { authorization: `Bearer ${token}` } });

  it('accepts a well-formed token and creates the user from its claims', async () => {
    const token = await claims()
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(key);
    const response = await send(token);
    expect(response.status).toBe(200);
    expect(dataOf(response).me.email).toBe('grace@example.test');
  });

  it.each([
    [
      'a wrong signature',
      () =>
        claims()
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode('x'.repeat(40))),
    ],
    [
      'a wrong algorithm',
      () => claims().setProtectedHeader({ alg: 'HS384' }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('5m').sign(key),
    ],
    [
      'an expired token',
      () => claims().setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('-10s').sign(key),
    ],
    ['a token without exp', () => claims().setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience(AUDIENCE).sign(key)],
    [
      'a wrong issuer',
      () =>
        claims()
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer('https://other.test/')
          .setAudience(AUDIENCE)
          .setExpirationTime('5m')
          .sign(key),
    ],
    [
      'a wrong audience',
      () => claims().setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience('someone-else').setExpirationTime('5m').sign(key),
    ],
    [
      'an unsigned token',
      async () =>
        `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"x","exp":9999999999}').toString('base64url')}.`,
    ],
  ])('refuses %s with 401 UNAUTHENTICATED and creates no user', async (_case, makeToken) => {
    const [{ count: before }] = await api.db.query('select count(*)::int as count from users');
    const response = await send(await makeToken());
    expect(response.status).toBe(401);
    expect(errorOf(response).code).toBe('UNAUTHENTICATED');
    expect(response.body.data).toBeUndefined();
    const [{ count: after }] = await api.db.query('select count(*)::int as count from users');
    expect(after).toBe(before);
  });

  const nowSeconds = () => Math.floor(Date.now() / 1000);
  const signedWith = (payload: Record<string, unknown>) =>
    new SignJWT({ sub: `idp|${randomUUID()}`, email: 'grace@example.test', name: 'Grace', ...payload })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime('5m')
      .sign(key);

  it.each([
    ['issued in the future, past the clock skew', { iat: nowSeconds() + MAX_CLOCK_SKEW_SECONDS + 60 }, 'iat'],
    ['an email holding a NUL character', { email: 'grace\u0000@example.test' }, 'email'],
    ['a name holding a lone surrogate', { name: 'Grace \ud800' }, 'name'],
    ['a subject holding a NUL character', { sub: 'idp|gr\u0000ce' }, 'sub'],
  ])('refuses a token %s with 401 UNAUTHENTICATED naming the claim, and creates no user', async (_case, payload, claim) => {
    const [{ count: before }] = await api.db.query('select count(*)::int as count from users');
    const response = await send(await signedWith(payload));
    expect(response.status).toBe(401);
    expect(errorOf(response)).toMatchObject({ code: 'UNAUTHENTICATED', message: `Token claim "${claim}" is invalid` });
    const [{ count: after }] = await api.db.query('select count(*)::int as count from users');
    expect(after).toBe(before);
  });

  it('accepts a token issued within the clock skew ahead of ours', async () => {
    const response = await send(await signedWith({ iat: nowSeconds() + MAX_CLOCK_SKEW_SECONDS - 10 }));
    expect(dataOf(response).me.email).toBe('grace@example.test');
  });

  it('refuses a malformed Authorization header', async () => {
    const response = await api.graphql('{ me { id } }', { headers: { authorization: 'Basic abc' } });
    expect(response.status).toBe(401);
    expect(errorOf(response).code).toBe('UNAUTHENTICATED');
  });

  describe('anything but one Authorization header holding one bearer token', () => {
    const ME = JSON.stringify({ query: '{ me { email } }' });
    const json = ['content-type', 'application/json'] as const;
    const validToken = () =>
      claims().setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience(AUDIENCE).setExpirationTime('5m').sign(key);

    it('one header with a valid token is the caller', async () => {
      const response = await postRaw(api.url, ME, [json, ['authorization', `Bearer ${await validToken()}`]]);
      expect(response.body).toEqual({ data: { me: { email: 'grace@example.test' } } });
    });

    it.each([
      ['a valid token, then another header', async () => [`Bearer ${await validToken()}`, 'Bearer x.y.z']],
      ['another header, then a valid token', async () => ['Bearer x.y.z', `Bearer ${await validToken()}`]],
      ['the same valid token twice', async () => [`Bearer ${await validToken()}`, `Bearer ${await validToken()}`]],
      ['an empty header', async () => ['']],
      ['a scheme without a token', async () => ['Bearer']],
      ['two tokens in one header', async () => [`Bearer ${await validToken()} ${await validToken()}`]],
    ])('%s is refused with 401 UNAUTHENTICATED', async (_case, headerValues) => {
      const response = await postRaw(api.url, ME, [json, ...(await headerValues()).map((value) => ['authorization', value] as const)]);
      expect(response.status).toBe(401);
      expect(response.body.data).toBeUndefined();
      expect(errorOf(response).code).toBe('UNAUTHENTICATED');
    });
  });
});
