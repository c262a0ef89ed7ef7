import { MAX_BODY_BYTES } from '../../src/http/server';
import { useApi } from '../support/api';

describe('HTTP protections', () => {
  const api = useApi();

  it('refuses a body over the cap with 413 and runs nothing', async () => {
    const padding = 'x'.repeat(MAX_BODY_BYTES);
    const { statements } = await api.countStatements(() =>
      fetch(api.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }', variables: { padding } }),
      }).then((response) => expect(response.status).toBe(413)),
    );
    expect(statements).toEqual([]);
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
