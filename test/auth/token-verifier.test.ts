import { SignJWT, generateKeyPair } from 'jose';
import { TokenVerifier } from '../../src/auth/token-verifier';
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
});
