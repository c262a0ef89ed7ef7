import { randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { signLocalToken } from '../../src/auth/local-secret';
import { DomainError, ErrorCode } from '../../src/errors/domain-error';
import { graphqlErrorOf } from '../../src/graphql/errors';
import { errorOf, TEST_JWT_SECRET, useApi, type Api } from '../support/api';

/** The structured log lines (pino JSON) that carry `requestId`. */
function logLinesOf(api: Api, requestId: string): Array<Record<string, any>> {
  return api.logs.map((line) => JSON.parse(line) as Record<string, any>).filter((entry) => entry.requestId === requestId);
}

describe('the error pipeline', () => {
  it('answers every domain error code with the same code for the client', () => {
    for (const code of Object.values(ErrorCode)) {
      const error = graphqlErrorOf(new DomainError(code, `a ${code} error`, { detail: 1 }));
      expect(error.message).toBe(`a ${code} error`);
      expect(error.extensions).toMatchObject({ code, detail: 1 });
    }
  });

  describe('a failure while identifying the caller', () => {
    const api = useApi();

    it('reaches the client masked with a request id, and the log as structured fields', async () => {
      // A caller the server has not met yet: one it knows is found without a statement.
      const stranger = { token: await signLocalToken({ secret: TEST_JWT_SECRET, email: `stranger-${randomUUID()}@example.test` }) };
      await api.db.query('alter table users rename to users_away');
      try {
        const response = await api.graphql('query Who { me { id } }', { as: stranger });
        const error = errorOf(response);
        expect(error).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' });
        expect(Object.keys(error.extensions).sort()).toEqual(['code', 'requestId']);
        expect(error.extensions.requestId).toMatch(/^[0-9a-f-]{36}$/);
        expect(JSON.stringify(response.body)).not.toMatch(/users|relation|select|insert|at \w+ \(/i);
        const [logged] = logLinesOf(api, error.extensions.requestId);
        expect(logged).toMatchObject({ level: 50, operation: 'Who', path: ['me'], msg: 'request failed' });
        expect(logged.err.message).toMatch(/relation "users" does not exist/);
      } finally {
        await api.db.query('alter table users_away rename to users');
      }
    });
  });

  describe('a failure while building the context', () => {
    // An identity provider whose key set cannot be fetched: the server's failure, not the caller's.
    const api = useApi({ env: { JWT_SECRET: '', JWT_JWKS_URL: 'http://127.0.0.1:9/.well-known/jwks.json' } });

    it('reaches the client masked with a request id, and the log as structured fields', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setSubject('idp|kay')
        .setExpirationTime('5m')
        .sign(privateKey);
      const response = await api.graphql('{ __typename }', { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(500);
      const error = errorOf(response);
      expect(error).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', message: 'Internal server error' });
      expect(JSON.stringify(response.body)).not.toMatch(/fetch|ECONNREFUSED|jwks/i);
      const [logged] = logLinesOf(api, error.extensions.requestId);
      expect(logged).toMatchObject({ level: 50, msg: 'request failed before execution' });
      expect(JSON.stringify(logged.err)).toMatch(/fetch failed|ECONNREFUSED/);
    });
  });
});
