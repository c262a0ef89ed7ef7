import { MAX_BODY_BYTES } from '../../src/http/server';
import { postRaw, useApi } from '../support/api';

describe('HTTP protections', () => {
  const api = useApi();

  it('refuses a body over the cap with 413 BAD_REQUEST and runs nothing', async () => {
    const padding = 'x'.repeat(MAX_BODY_BYTES);
    const { result: response, statements } = await api.countStatements(() =>
      postRaw(api.url, JSON.stringify({ query: '{ __typename }', variables: { padding } }), [['content-type', 'application/json']]),
    );
    expect(response).toEqual({
      status: 413,
      body: { errors: [{ message: 'Request body is too large', extensions: { code: 'BAD_REQUEST' } }] },
    });
    expect(statements).toEqual([]);
  });

  describe('a body GraphQL never sees is answered in its shape, with a code', () => {
    const prototypeKeys = 'Body must not hold a "__proto__" key or a "constructor" key holding "prototype"';

    it.each([
      ['not JSON', '{ query: "{ __typename }" }', 'Body is not valid JSON'],
      ['cut short', '{"query": "{ __typename }"', 'Body is not valid JSON'],
      ['a "__proto__" key', '{"query": "{ __typename }", "__proto__": {"isAdmin": true}}', prototypeKeys],
      [
        'a "__proto__" key in variables',
        '{"query": "{ __typename }", "variables": {"x": {"__proto__": {"isAdmin": true}}}}',
        prototypeKeys,
      ],
      [
        'a "constructor" key holding "prototype"',
        '{"query": "{ __typename }", "constructor": {"prototype": {"isAdmin": true}}}',
        prototypeKeys,
      ],
      ['empty', '', "Body cannot be empty when content-type is set to 'application/json'"],
    ])('%s: 400 BAD_REQUEST, logged at info', async (_case, body, message) => {
      const before = api.logs.length;
      const response = await postRaw(api.url, body, [['content-type', 'application/json']]);
      expect(response).toEqual({ status: 400, body: { errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] } });
      const logged = api.logs
        .slice(before)
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line.msg !== 'request completed');
      expect(logged).toEqual([expect.objectContaining({ level: 30, msg: 'client error', code: 'BAD_REQUEST', message })]);
    });

    it('a "constructor" key holding anything else is only data', async () => {
      const body =
        '{"query": "query($c: JSONObject!) { validateConfiguration(configuration: $c) { valid } }", "variables": {"c": {"constructor": 1}}}';
      const response = await postRaw(api.url, body, [['content-type', 'application/json']]);
      expect(response).toEqual({ status: 200, body: { data: { validateConfiguration: { valid: false } } } });
    });
  });

  it('accepts a body just under the cap', async () => {
    const envelope = JSON.stringify({ query: '{ __typename }', variables: { padding: '' } });
    const padding = 'x'.repeat(MAX_BODY_BYTES - Buffer.byteLength(envelope));
    const response = await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }', variables: { padding } }),
    });
    expect(response.status).toBe(200);
  });

  it('refuses batched requests', async () => {
    const response = await fetch(api.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(/batch/i);
  });

  it('refuses a simple cross-site GET without a preflight header (CSRF prevention)', async () => {
    const response = await fetch(`${api.url}?query=${encodeURIComponent('{ __typename }')}`);
    expect(response.status).toBe(400);
    const allowed = await fetch(`${api.url}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(await allowed.json()).toEqual({ data: { __typename: 'Query' } });
  });
});
