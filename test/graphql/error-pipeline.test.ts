import { createHash, randomUUID } from 'node:crypto';
import { generateKeyPair, SignJWT } from 'jose';
import { signLocalToken } from '../../src/auth/local-secret';
import { DomainError, ErrorCode } from '../../src/errors/domain-error';
import { graphqlErrorOf, isClientError } from '../../src/graphql/errors';
import { errorOf, postRaw, TEST_JWT_SECRET, useApi, type Api } from '../support/api';

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

  describe("a client's mistake", () => {
    const api = useApi();
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
    const persisted = (sha256Hash: string, version = 1) => ({ persistedQuery: { version, sha256Hash } });

    /** The request's answer, and the log lines written while it was served. */
    async function sent(body: Record<string, unknown>, as?: { token: string }) {
      const before = api.logs.length;
      const headers: Array<[string, string]> = [['content-type', 'application/json']];
      if (as) headers.push(['authorization', `Bearer ${as.token}`]);
      const response = await postRaw(api.url, JSON.stringify(body), headers);
      const lines = api.logs.slice(before).map((line) => JSON.parse(line) as Record<string, any>);
      return { response, lines: lines.filter((line) => line.reqId === undefined) };
    }

    it.each([
      [
        'an automatic persisted query sent by hash alone (the protocol asking for its text)',
        () => ({ extensions: persisted(sha256('{ __typename }')) }),
        200,
        'PERSISTED_QUERY_NOT_FOUND',
        'PersistedQueryNotFound',
      ],
      [
        'an automatic persisted query whose hash is not its text',
        () => ({ query: '{ __typename }', extensions: persisted(sha256('{ me { id } }')) }),
        400,
        'PERSISTED_QUERY_HASH_MISMATCH',
        'provided sha does not match query',
      ],
      [
        'an automatic persisted query of an unknown protocol version',
        () => ({ query: '{ __typename }', extensions: persisted(sha256('{ __typename }'), 2) }),
        400,
        'BAD_REQUEST',
        'Unsupported persisted query version',
      ],
      [
        'a mistyped variable',
        () => ({ query: 'query($first: Int) { templates(first: $first) { totalCount } }', variables: { first: 'ten' } }),
        400,
        'BAD_USER_INPUT',
        'Variable "$first" got invalid value "ten"; Int cannot represent non-integer value: "ten"',
      ],
      [
        'an unknown operation name',
        () => ({ query: 'query Known { __typename }', operationName: 'Unknown' }),
        400,
        'OPERATION_RESOLUTION_FAILURE',
        'Unknown operation named "Unknown".',
      ],
      [
        'a subscription (the schema has none)',
        () => ({ query: 'subscription Changes { __typename }' }),
        400,
        'GRAPHQL_VALIDATION_FAILED',
        'The subscription operation is not supported by the schema.',
      ],
      [
        'an unknown id to change',
        () => ({ query: `mutation { deactivateTemplate(id: "${randomUUID()}") { id } }` }),
        200,
        'NOT_FOUND',
        'Template not found',
      ],
    ])('%s is answered with its own code and logged at info, without a stack', async (_case, body, status, code, message) => {
      const { response, lines } = await sent(body(), await api.user('client'));
      expect(response.status).toBe(status);
      expect(response.body.errors).toEqual([expect.objectContaining({ message, extensions: expect.objectContaining({ code }) })]);
      expect(lines).toEqual([expect.objectContaining({ level: 30, msg: 'client error', code, message })]);
      expect(lines[0].requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(JSON.stringify(lines)).not.toMatch(/"err"|stack|\bat \w+ \(/);
    });

    it('a bad token is answered 401 and logged at info, without a stack', async () => {
      const { response, lines } = await sent({ query: '{ __typename }' }, { token: 'not.a.token' });
      expect(response.status).toBe(401);
      expect(errorOf(response).code).toBe('UNAUTHENTICATED');
      expect(lines).toEqual([expect.objectContaining({ level: 30, msg: 'client error', code: 'UNAUTHENTICATED' })]);
      expect(JSON.stringify(lines)).not.toMatch(/"err"|stack/);
    });

    it('tells client errors from server faults in the answers clients get, for anything that counts them', () => {
      expect(isClientError({ message: 'Template not found', extensions: { code: 'NOT_FOUND' } })).toBe(true);
      expect(isClientError({ message: 'Too many requests', extensions: { code: 'RATE_LIMITED' } })).toBe(true);
      expect(isClientError({ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } })).toBe(false);
      expect(isClientError(new Error('connection terminated'))).toBe(false);
    });
  });
});
