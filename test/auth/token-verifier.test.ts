import { SignJWT, generateKeyPair } from 'jose';
import { MAX_TOKEN_HOLD_MS, TokenVerifier } from '../../src/auth/token-verifier';
import { ErrorCode } from '../../src/errors/domain-error';

const SECRET = 'a-test-secret-that-is-long-enough-for-hs256';
const key = new TextEncoder().encode(SECRET);

function token(claims: Record<string, unknown> = {}, options: { expiresIn?: string | null; alg?: string } = {}) {
  const jwt = new SignJWT({ email: 'Ada@Example.com', name: 'Ada', ...claims })
    .setProtectedHeader({ alg: options.alg ?? 'HS256' })
    .setSubject('user-ada')
    .setIssuedAt();
  if (options.expiresIn !== null) jwt.setExpirationTime(options.expiresIn ?? '5m');
  return jwt;
}

describe('TokenVerifier', () => {
  const verifier = new TokenVerifier({ secret: SECRET, issuer: 'https://issuer.test', audience: 'tessera' });

  it('verifies a real HS256 token and reads its claims', async () => {
    const jwt = await token({ roles: ['service'] })
      .setIssuer('https://issuer.test')
      .setAudience('tessera')
      .sign(key);
    await expect(verifier.verify(jwt)).resolves.toEqual({
      externalId: 'user-ada',
      email: 'ada@example.com',
      displayName: 'Ada',
      roles: ['service'],
    });
  });

  it.each([
    [
      'a wrong signature',
      () =>
        token()
          .setIssuer('https://issuer.test')
          .setAudience('tessera')
          .sign(new TextEncoder().encode('another-secret-that-is-also-long-enough')),
    ],
    ['an expired token', () => token({}, { expiresIn: '-1m' }).setIssuer('https://issuer.test').setAudience('tessera').sign(key)],
    ['a token without exp', () => token({}, { expiresIn: null }).setIssuer('https://issuer.test').setAudience('tessera').sign(key)],
    ['a wrong issuer', () => token().setIssuer('https://evil.test').setAudience('tessera').sign(key)],
    ['a wrong audience', () => token().setIssuer('https://issuer.test').setAudience('other').sign(key)],
    ['a wrong algorithm', () => token({}, { alg: 'HS512' }).setIssuer('https://issuer.test').setAudience('tessera').sign(key)],
    ['garbage', async () => 'not.a.token'],
  ])('rejects %s as UNAUTHENTICATED', async (_case, makeToken) => {
    await expect(verifier.verify(await makeToken())).rejects.toMatchObject({ code: ErrorCode.Unauthenticated });
  });

  it('rejects an asymmetric token signed by a key it does not trust', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const jwt = await token({}, { alg: 'ES256' }).setIssuer('https://issuer.test').setAudience('tessera').sign(privateKey);
    await expect(verifier.verify(jwt)).rejects.toMatchObject({ code: ErrorCode.Unauthenticated });
  });

  describe('cache of verified tokens', () => {
    const issued = (claims: Record<string, unknown> = {}, expiresIn?: string) =>
      token(claims, { expiresIn }).setIssuer('https://issuer.test').setAudience('tessera').sign(key);
    const startedAt = new Date('2030-01-01T00:00:00Z');
    /** Only the clock is faked: jose's work and the test's promises run as usual. */
    const clockOnly = [
      'hrtime',
      'nextTick',
      'performance',
      'queueMicrotask',
      'setImmediate',
      'clearImmediate',
      'setInterval',
      'clearInterval',
      'setTimeout',
      'clearTimeout',
    ] as const;

    beforeEach(() => jest.useFakeTimers({ now: startedAt, doNotFake: [...clockOnly] }));
    afterEach(() => jest.useRealTimers());

    it('verifies a token once and answers it from the cache after', async () => {
      const cached = new TokenVerifier({ secret: SECRET, issuer: 'https://issuer.test', audience: 'tessera' });
      const jwt = await issued();
      const first = await cached.verify(jwt);
      await expect(cached.verify(jwt)).resolves.toBe(first);
      expect(cached.cacheHits).toBe(1);
    });

    it('refuses a cached token from its exp on', async () => {
      const cached = new TokenVerifier({ secret: SECRET, issuer: 'https://issuer.test', audience: 'tessera' });
      const jwt = await issued({}, '1m');
      await cached.verify(jwt);
      jest.setSystemTime(startedAt.getTime() + 60_000);
      await expect(cached.verify(jwt)).rejects.toMatchObject({ code: ErrorCode.Unauthenticated, message: 'Token has expired' });
      expect(cached.cacheHits).toBe(0);
    });

    it(`verifies a long-lived token again after ${MAX_TOKEN_HOLD_MS / 60_000} minutes`, async () => {
      const cached = new TokenVerifier({ secret: SECRET, issuer: 'https://issuer.test', audience: 'tessera' });
      const jwt = await issued({}, '1h');
      await cached.verify(jwt);
      jest.setSystemTime(startedAt.getTime() + MAX_TOKEN_HOLD_MS - 1);
      await cached.verify(jwt);
      expect(cached.cacheHits).toBe(1);
      jest.setSystemTime(startedAt.getTime() + MAX_TOKEN_HOLD_MS);
      await cached.verify(jwt);
      expect(cached.cacheHits).toBe(1);
    });

    it('refuses a tampered copy of a cached token, every time', async () => {
      const cached = new TokenVerifier({ secret: SECRET, issuer: 'https://issuer.test', audience: 'tessera' });
      const jwt = await issued();
      await cached.verify(jwt);
      const [header, , signature] = jwt.split('.');
      const [, otherPayload] = (await issued({ roles: ['service'] })).split('.');
      const tampered = [header, otherPayload, signature].join('.');
      for (let attempt = 0; attempt < 2; attempt += 1) {
        await expect(cached.verify(tampered)).rejects.toMatchObject({
          code: ErrorCode.Unauthenticated,
          message: 'Token signature is invalid',
        });
      }
      expect(cached.cacheHits).toBe(0);
    });
  });
});
