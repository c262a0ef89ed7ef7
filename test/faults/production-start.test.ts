import { graphql, isOk, tokenFor, useFaultServer } from './harness';

describe('Server process in production', () => {
  const fault = useFaultServer({ name: 'production', database: 'shared', env: { NODE_ENV: 'production' } });

  it('is found at the URL of its structured log line, the only place production names it', async () => {
    const { graphqlUrl, output } = fault.server;
    expect(graphqlUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/graphql$/);
    expect(isOk(await graphql(graphqlUrl, await tokenFor('production@example.com')))).toBe(true);
    // Outside production the banner follows the log line, so it would have arrived before this answer.
    expect(output.join('')).not.toContain('Tessera GraphQL API');
  });
});
