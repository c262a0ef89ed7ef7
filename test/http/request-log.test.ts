import { dataOf, useApi } from '../support/api';

describe('request log', () => {
  const api = useApi();

  it('writes one line per request when it is answered, with its id, method, status and duration', async () => {
    const before = api.logs.length;
    dataOf(await api.graphql('{ __typename }'));
    // The line is written once the answer has left, which may be just after the client has read it.
    const requestLines = () =>
      api.logs
        .slice(before)
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line.reqId !== undefined);
    for (let waited = 0; requestLines().length === 0 && waited < 2_000; waited += 10)
      await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const lines = requestLines();
    expect(lines).toEqual([
      expect.objectContaining({
        msg: 'request completed',
        method: 'POST',
        url: '/graphql',
        statusCode: 200,
        reqId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        responseTimeMs: expect.any(Number),
      }),
    ]);
  });
});
