import { errorOf, useApi } from '../support/api';

describe('production mode', () => {
  const api = useApi({ env: { NODE_ENV: 'production' } });

  it('turns introspection off', async () => {
    const response = await api.graphql('{ __schema { types { name } } }');
    expect(response.status).toBe(400);
    expect(errorOf(response).code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('gives no field suggestions', async () => {
    const response = await api.graphql('{ templats { totalCount } }');
    expect(errorOf(response).code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(JSON.stringify(response.body)).not.toMatch(/did you mean|templates/i);
  });

  it('gives no enum value suggestions, for literals and for variables', async () => {
    const user = await api.user('enum');
    const literal = await api.graphql('{ templates(filter: { scope: MIN }) { totalCount } }', { as: user });
    expect(errorOf(literal)).toEqual({
      code: 'GRAPHQL_VALIDATION_FAILED',
      message: 'Value "MIN" does not exist in "TemplateScope" enum.',
      extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
    });
    const variable = await api.graphql('query($scope: TemplateScope) { templates(filter: { scope: $scope }) { totalCount } }', {
      as: user,
      variables: { scope: 'MIN' },
    });
    expect(errorOf(variable)).toEqual({
      code: 'BAD_USER_INPUT',
      message: 'Variable "$scope" got invalid value "MIN"; Value "MIN" does not exist in "TemplateScope" enum.',
      extensions: { code: 'BAD_USER_INPUT' },
    });
  });

  it('gives no argument or type suggestions', async () => {
    const response = await api.graphql('query($f: TemplateFiltr) { templates(frst: 1) { totalCount } }');
    expect(response.body.errors?.length).toBeGreaterThan(1);
    expect(JSON.stringify(response.body)).not.toMatch(/did you mean|TemplateFilter|"first"/i);
  });

  it('serves no landing page', async () => {
    const response = await fetch(api.url, { headers: { accept: 'text/html' } });
    expect(response.headers.get('content-type') ?? '').not.toContain('text/html');
  });

  it('still answers queries', async () => {
    expect((await api.graphql('{ __typename }')).body).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('development mode', () => {
  const api = useApi({ env: { NODE_ENV: 'development' } });

  it('serves the Sandbox landing page at the GraphQL path', async () => {
    const response = await fetch(api.url, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(await response.text()).toMatch(/apollo/i);
  });

  it("sets Sandbox up with the Authorization header to fill in, and without Apollo's telemetry", async () => {
    const page = await (await fetch(api.url, { headers: { accept: 'text/html' } })).text();
    const config = /var embeddedSandboxConfig = (\{.*\});/.exec(page)?.[1];
    expect(JSON.parse(config ?? 'null')).toMatchObject({
      runTelemetry: false,
      initialState: { headers: { Authorization: 'Bearer <a token from the identity provider>' } },
    });
  });

  it('suggests fields and enum values to developers', async () => {
    const response = await api.graphql('{ templats { totalCount } }');
    expect(errorOf(response).message).toMatch(/Did you mean .*"templates"/);
    const variable = await api.graphql('query($scope: TemplateScope) { templates(filter: { scope: $scope }) { totalCount } }', {
      variables: { scope: 'MIN' },
    });
    expect(errorOf(variable).message).toMatch(/Did you mean the enum value "MINE"\?$/);
  });

  it('allows introspection for Sandbox', async () => {
    const response = await api.graphql('{ __schema { queryType { name } } }');
    expect(response.body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
  });
});
