import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { dataOf, errorOf, useApi } from '../support/api';

describe('tokens verified against an identity provider JWKS', () => {
  const env: Record<string, string> = { JWT_SECRET: '', JWT_ISSUER: 'https://idp.example.test/' };
  let jwksServer: http.Server;
  let signingKey: CryptoKey;
  let strangerKey: CryptoKey;

  beforeAll(async () => {
    const signing = await generateKeyPair('ES256');
    signingKey = signing.privateKey;
    ({ privateKey: strangerKey } = await generateKeyPair('ES256'));
    const { publicKey: otherPublicKey } = await generateKeyPair('ES256');
    const published = { ...(await exportJWK(signing.publicKey)), kid: 'idp-1', alg: 'ES256' };
    const other = { ...(await exportJWK(otherPublicKey)), kid: 'idp-0', alg: 'ES256' };
    jwksServer = http.createServer((_request, response) => {
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: [other, published] }));
    });
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    env.JWT_JWKS_URL = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => jwksServer.close(() => resolve())));

  const api = useApi({ env });

  const token = (key: CryptoKey, kid: string) =>
    new SignJWT({ email: 'kay@example.test' })
      .setProtectedHeader({ alg: 'ES256', kid })
      .setSubject('idp|kay')
      .setIssuer('https://idp.example.test/')
      .setIssuedAt()
      .setExpirationTime('5m')
      .sign(key);

  it('accepts a token signed by a published key', async () => {
    const response = await api.graphql('{ me { email } }', { headers: { authorization: `Bearer ${await token(signingKey, 'idp-1')}` } });
    expect(dataOf(response)).toEqual({ me: { email: 'kay@example.test' } });
  });

  it('refuses a token signed by a key the provider does not publish', async () => {
    const response = await api.graphql('{ me { email } }', { headers: { authorization: `Bearer ${await token(strangerKey, 'idp-1')}` } });
    expect(response.status).toBe(401);
    expect(errorOf(response).code).toBe('UNAUTHENTICATED');
  });

  it('refuses an HS256 token even when signed with something the server knows', async () => {
    const hs = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('idp|kay')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('x'.repeat(40)));
    const response = await api.graphql('{ me { email } }', { headers: { authorization: `Bearer ${hs}` } });
    expect(response.status).toBe(401);
  });
});
