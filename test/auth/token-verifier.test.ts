import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { SignJWT, generateKeyPair, jwtVerify } from 'jose';
import { hs256Key, verifyHs256 } from '../../src/auth/hs256-token';
import { MAX_TOKEN_HOLD_MS, TokenVerifier } from '../../src/auth/token-verifier';
import { ErrorCode } from '../../src/errors/domain-error';
import { fakeClockOnly } from '../support/clock';

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

const inMinutes = (minutes: number) => Math.floor(Date.now() / 1000) + minutes * 60;
const validPayload = () => ({ sub: 'user-ada', iss: 'https://issuer.test', aud: 'tessera', exp: inMinutes(5) });
const base64url = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A token with any header and payload, HMAC-SHA256 signed: what SignJWT would refuse to make. */
function signed(header: unknown, payload: unknown, secret = SECRET): string {
  const input = `${base64url(header)}.${base64url(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
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

  it("maps the token's roles onto Tessera's, dropping values it gives no meaning to", async () => {
    const jwt = await token({ roles: ['admin', 'service', 'editor', 7, 'admin'] })
      .setIssuer('https://issuer.test')
      .setAudience('tessera')
      .sign(key);
    await expect(verifier.verify(jwt)).resolves.toMatchObject({ roles: ['staff', 'service'] });
  });

  it('reads the roles from the configured claim and staff value only', async () => {
    const configured = new TokenVerifier({ secret: SECRET, rolesClaim: 'groups', staffRole: 'tessera-staff' });
    const sign = (claims: Record<string, unknown>) => token(claims).sign(key);
    await expect(configured.verify(await sign({ groups: ['tessera-staff'] }))).resolves.toMatchObject({ roles: ['staff'] });
    // The default claim and value mean nothing once others are configured.
    await expect(configured.verify(await sign({ roles: ['tessera-staff'], groups: ['admin'] }))).resolves.toMatchObject({ roles: [] });
    // A claim that is not a list holds no role.
    await expect(configured.verify(await sign({ groups: 'tessera-staff' }))).resolves.toMatchObject({ roles: [] });
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
    ['a token not valid yet', () => token().setNotBefore('1m').setIssuer('https://issuer.test').setAudience('tessera').sign(key)],
    ['a token without subject', async () => signed({ alg: 'HS256' }, { iss: 'https://issuer.test', aud: 'tessera', exp: inMinutes(5) })],
    ['an unsigned token', async () => signed({ alg: 'none' }, validPayload()).replace(/[^.]+$/, '')],
    ['a critical header extension', async () => signed({ alg: 'HS256', crit: ['exp'], exp: 1 }, validPayload())],
    ['a payload that is not an object', async () => signed({ alg: 'HS256' }, ['sub', 'exp'])],
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
    beforeEach(() => fakeClockOnly(startedAt));
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

  describe('HS256 through node:crypto', () => {
    const expectations = { issuer: 'https://issuer.test', audience: 'tessera' };
    const ourKey = hs256Key(SECRET);
    type Verdict = { accepted: unknown } | 'refused';
    const joseVerdict = (jwt: string): Promise<Verdict> =>
      jwtVerify(jwt, key, { algorithms: ['HS256'], ...expectations, requiredClaims: ['exp', 'sub'] }).then(
        ({ payload }) => ({ accepted: payload }),
        () => 'refused',
      );
    const ourVerdict = (jwt: string): Verdict => {
      try {
        return { accepted: verifyHs256(jwt, ourKey, expectations) };
      } catch {
        return 'refused';
      }
    };

    /** Mostly the value a valid token has (the first), else one of the others: a fifth of the tokens pass. */
    const mostly = (valid: unknown, ...others: unknown[]) =>
      fc.oneof({ arbitrary: fc.constant(valid), weight: 8 * others.length }, ...others.map((other) => fc.constant(other)));
    const header = fc.record({
      alg: mostly('HS256', 'HS512', 'none', 'RS256', '', undefined),
      typ: mostly(undefined, 'JWT', 'at+jwt'),
      crit: mostly(undefined, ['b64'], ['exp'], [], 'b64'),
      b64: mostly(undefined, true, false),
    });
    const payload = fc.record({
      sub: mostly('user-ada', '', 42, undefined),
      iss: mostly('https://issuer.test', 'https://evil.test', ['https://issuer.test'], undefined),
      aud: mostly('tessera', 'other', ['other', 'tessera'], [], undefined),
      exp: mostly(inMinutes(5), inMinutes(-1), `${inMinutes(5)}`, null, undefined),
      nbf: mostly(undefined, inMinutes(-1), inMinutes(5), 'soon'),
      iat: mostly(inMinutes(0), 'now', undefined),
    });
    /** A token as generated, or (one time in three) with one character replaced: a tampered header, payload or signature. */
    const tampering = fc.oneof(
      { arbitrary: fc.constant(null), weight: 2 },
      { arbitrary: fc.tuple(fc.nat(), fc.constantFrom('A', 'B', 'Q', 'g', 'h', '8', '9', '_', '-', '.', '+')), weight: 1 },
    );
    const candidate = fc
      .tuple(
        header,
        payload,
        fc.oneof({ arbitrary: fc.constant(SECRET), weight: 4 }, fc.constant('another-secret-that-is-also-long-enough')),
        tampering,
      )
      .map(([h, p, secret, tamper]) => {
        const jwt = signed(h, p, secret);
        if (!tamper) return jwt;
        const at = tamper[0] % jwt.length;
        return jwt.slice(0, at) + tamper[1] + jwt.slice(at + 1);
      });

    it('accepts and refuses exactly the tokens jose accepts and refuses, with the same claims', async () => {
      await fc.assert(
        fc.asyncProperty(candidate, async (jwt) => {
          expect(ourVerdict(jwt)).toEqual(await joseVerdict(jwt));
        }),
        { numRuns: 2_000 },
      );
    });

    it('accepts a token whose audience list holds ours', async () => {
      expect(ourVerdict(signed({ alg: 'HS256', typ: 'JWT' }, { ...validPayload(), aud: ['other', 'tessera'] }))).toMatchObject({
        accepted: { sub: 'user-ada' },
      });
    });
  });
});
