import { getIntrospectionQuery, Lexer, parse, Source, TokenKind } from 'graphql';
import { QUERY_LIMITS, queryCost } from '../../src/graphql/limits';
import { buildAppSchema } from '../../src/graphql/schema';
import { errorOf, useApi } from '../support/api';
import type { TestUser } from '../support/factories';

/** `experiments { edges { node { template { experiments ...` cut to `depth` levels of fields. */
function nestedQuery(depth: number): string {
  const cycle = ['experiments', 'edges', 'node', 'template'];
  const fields = Array.from({ length: depth - 1 }, (_, i) => cycle[i % cycle.length]);
  return `{ ${fields.map((f) => `${f} {`).join(' ')} __typename ${'}'.repeat(fields.length)} }`;
}

function pagedQuery(first: number): string {
  return `{ experiments(first: ${first}) { edges { node { id template { id experiments(first: 100) { edges { node { id template { id } } } } } } } } }`;
}

/** `pagedQuery` with its page size, and whether the costly part is there at all, as variables. */
const VARIABLE_PAGED_QUERY = `query Paged($first: Int!, $deep: Boolean = true) {
  experiments(first: $first) { edges { node { id template @include(if: $deep) { id experiments(first: 100) { edges { node { id template { id } } } } } } } }
}`;

function tokenCount(query: string): number {
  const lexer = new Lexer(new Source(query));
  let count = 0;
  while (lexer.advance().kind !== TokenKind.EOF) count += 1;
  return count;
}

/** A valid query of exactly `tokens` tokens: one JSON list literal long enough. */
function queryOfTokens(tokens: number): string {
  const shell = (items: number) => `{ validateConfiguration(configuration: { a: [${Array(items).fill('1').join(' ')}] }) { valid } }`;
  const items = tokens - tokenCount(shell(0));
  const query = shell(items);
  expect(tokenCount(query)).toBe(tokens);
  return query;
}

describe('query limits', () => {
  const api = useApi();
  let user: TestUser;
  beforeAll(async () => {
    user = await api.user('limits');
  });

  /** Sends the query as an authenticated user and returns the response with the SQL it cost. */
  async function send(query: string, variables?: Record<string, unknown>) {
    const { result, statements } = await api.countStatements(() => api.graphql(query, { as: user, variables }));
    return { response: result, statements };
  }

  async function expectRejectedWithoutSql(query: string, code: string, variables?: Record<string, unknown>) {
    const { response, statements } = await send(query, variables);
    expect(response.status).toBe(400);
    expect(errorOf(response).code).toBe(code);
    expect(statements).toEqual([]);
    return response;
  }

  async function expectAccepted(query: string, variables?: Record<string, unknown>) {
    const { response } = await send(query, variables);
    expect(response.body.errors).toBeUndefined();
    expect(response.status).toBe(200);
  }

  it(`depth: ${QUERY_LIMITS.maxDepth} passes, one more is rejected before any SQL`, async () => {
    await expectAccepted(nestedQuery(QUERY_LIMITS.maxDepth));
    await expectRejectedWithoutSql(nestedQuery(QUERY_LIMITS.maxDepth + 1), 'GRAPHQL_VALIDATION_FAILED');
  });

  it(`aliases: ${QUERY_LIMITS.maxAliases} pass, one more is rejected before any SQL`, async () => {
    const aliased = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: me { id }`).join(' ')} }`;
    await expectAccepted(aliased(QUERY_LIMITS.maxAliases));
    await expectRejectedWithoutSql(aliased(QUERY_LIMITS.maxAliases + 1), 'GRAPHQL_VALIDATION_FAILED');
  });

  it(`tokens: ${QUERY_LIMITS.maxTokens} pass, one more is rejected before any SQL`, async () => {
    await expectAccepted(queryOfTokens(QUERY_LIMITS.maxTokens));
    await expectRejectedWithoutSql(queryOfTokens(QUERY_LIMITS.maxTokens + 1), 'GRAPHQL_PARSE_FAILED');
  });

  it(`directives: ${QUERY_LIMITS.maxDirectives} pass, one more is rejected before any SQL`, async () => {
    const directives = (n: number) => `{ ${Array(n).fill('__typename @include(if: true)').join(' ')} }`;
    await expectAccepted(directives(QUERY_LIMITS.maxDirectives));
    await expectRejectedWithoutSql(directives(QUERY_LIMITS.maxDirectives + 1), 'GRAPHQL_VALIDATION_FAILED');
  });

  it(`cost: the largest page within ${QUERY_LIMITS.maxCost} passes, the next size is rejected before any SQL`, async () => {
    const schema = await buildAppSchema();
    const cost = (first: number) => queryCost(schema, parse(pagedQuery(first)));
    let largest = 1;
    while (cost(largest + 1) <= QUERY_LIMITS.maxCost) largest += 1;
    expect(largest).toBeLessThan(100); // the shape is costly enough for the limit to bite within the page-size cap

    await expectAccepted(pagedQuery(largest));
    const rejected = await expectRejectedWithoutSql(pagedQuery(largest + 1), 'QUERY_TOO_COMPLEX');
    expect(errorOf(rejected).extensions).toMatchObject({ cost: cost(largest + 1), maxCost: QUERY_LIMITS.maxCost });
  });

  it('lets the introspection query Sandbox sends through, whose cost prices the schema as pages of data', async () => {
    const schema = await buildAppSchema();
    const introspection = getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
    });
    expect(queryCost(schema, parse(introspection))).toBeGreaterThan(QUERY_LIMITS.maxCost);
    const response = await api.graphql(introspection);
    expect(response.body.errors).toBeUndefined();
    const types: Array<{ name: string }> = response.body.data.__schema.types;
    expect(types.map((type) => type.name)).toEqual(expect.arrayContaining(['Template', 'Experiment', 'TemplateFilter']));
    // Asked for beside data, the schema is priced with it like any other field.
    const mixed = await api.graphql(introspection.replace('query IntrospectionQuery {', 'query IntrospectionQuery { me { id }'));
    expect(errorOf(mixed).code).toBe('QUERY_TOO_COMPLEX');
  });

  it('prices the same query text by its variables, however often it was priced before', async () => {
    const schema = await buildAppSchema();
    const cost = (variables: Record<string, unknown>) => queryCost(schema, parse(VARIABLE_PAGED_QUERY), variables);
    let largest = 1;
    while (cost({ first: largest + 1 }) <= QUERY_LIMITS.maxCost) largest += 1;

    for (let round = 0; round < 2; round += 1) {
      await expectAccepted(VARIABLE_PAGED_QUERY, { first: largest });
      await expectRejectedWithoutSql(VARIABLE_PAGED_QUERY, 'QUERY_TOO_COMPLEX', { first: largest + 1 });
      await expectAccepted(VARIABLE_PAGED_QUERY, { first: largest + 1, deep: false });
    }
  });

  it('refuses a page size that is not a number, however deeply nested, as BAD_USER_INPUT before any SQL', async () => {
    for (const first of [{ size: 20 }, [20]]) await expectRejectedWithoutSql(VARIABLE_PAGED_QUERY, 'BAD_USER_INPUT', { first });
    // Deeper than JSON.stringify can write, so the body is written by hand.
    const nested = `${'['.repeat(100_000)}20${']'.repeat(100_000)}`;
    const { result, statements } = await api.countStatements(() =>
      fetch(api.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
        body: `{"query":${JSON.stringify(VARIABLE_PAGED_QUERY)},"variables":{"first":${nested}}}`,
      }),
    );
    expect(result.status).toBe(400);
    expect(((await result.json()) as { errors: Array<{ extensions: { code: string } }> }).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(statements).toEqual([]);
  });

  it('caps the page size', async () => {
    const response = await api.graphql('{ experiments(first: 101) { totalCount } }', { as: user });
    expect(errorOf(response)).toMatchObject({ code: 'BAD_USER_INPUT' });
    expect(errorOf(response).extensions.validationErrors).toEqual([{ path: '/first', message: expect.any(String) }]);
  });
});
