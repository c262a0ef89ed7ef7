import Fastify from 'fastify';
import { isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import pino from 'pino';
import type { Context } from '../../src/graphql/context';
import { buildAppSchema } from '../../src/graphql/schema';
import { createGraphqlServer } from '../../src/http/server';
import { Metrics } from '../../src/metrics/metrics';

function fieldResolvers(schema: GraphQLSchema): Map<string, GraphQLFieldResolver<unknown, unknown> | undefined> {
  const resolvers = new Map<string, GraphQLFieldResolver<unknown, unknown> | undefined>();
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) resolvers.set(`${type.name}.${field.name}`, field.resolve);
  }
  return resolvers;
}

describe('the GraphQL server', () => {
  it('leaves every resolver as the schema made it: no plugin hooks into each field', async () => {
    const schema = await buildAppSchema();
    const before = fieldResolvers(schema);
    const metrics = new Metrics();
    const apollo = createGraphqlServer(Fastify(), schema, { production: false, signsOwnTokens: false }, pino({ level: 'silent' }), metrics);
    await apollo.start();
    try {
      // Apollo wraps the schema's resolvers on the first execution that has a per-field hook to call.
      const response = await apollo.executeOperation({ query: '{ __typename }' }, { contextValue: {} as Context });
      expect(response.body).toMatchObject({ kind: 'single', singleResult: { data: { __typename: 'Query' } } });
      const after = fieldResolvers(schema);
      expect([...before.keys()].filter((field) => after.get(field) !== before.get(field))).toEqual([]);
    } finally {
      await apollo.stop();
    }
  });
});
