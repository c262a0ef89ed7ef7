import { buildSchema, graphqlSync, type GraphQLResolveInfo } from 'graphql';
import { selectsField, selectsPath } from '../../src/graphql/selection';

const schema = buildSchema(`
  type Query {
    templates(first: Int): TemplateConnection!
  }
  type TemplateConnection {
    edges: [TemplateEdge!]!
    pageInfo: PageInfo!
    totalCount: Int!
  }
  type PageInfo {
    hasNextPage: Boolean!
    endCursor: String
  }
  type TemplateEdge {
    cursor: String!
    node: Template!
  }
  type Template {
    id: ID!
    name: String!
    configuration: String
    owner: User!
  }
  type User {
    id: ID!
    name: String!
  }
`);

/** The resolve info of the `templates` field, as graphql-js hands it to the resolver when executing `query`. */
function infoFor(query: string): GraphQLResolveInfo {
  let captured: GraphQLResolveInfo | undefined;
  const rootValue = {
    templates: (_args: unknown, _context: unknown, info: GraphQLResolveInfo) => {
      captured = info;
      return { edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: 0 };
    },
  };
  const result = graphqlSync({ schema, source: query, rootValue });
  expect(result.errors).toBeUndefined();
  if (!captured) throw new Error('the templates resolver did not run');
  return captured;
}

describe('selectsField', () => {
  it('sees a field selected directly, and not one that is absent', () => {
    const info = infoFor('{ templates { totalCount } }');
    expect(selectsField(info, 'totalCount')).toBe(true);
    expect(selectsField(info, 'edges')).toBe(false);
    expect(selectsField(info, 'pageInfo')).toBe(false);
  });

  it('looks at the field being resolved only, not at its nested selections', () => {
    const info = infoFor('{ templates { edges { node { id } } } }');
    expect(selectsField(info, 'edges')).toBe(true);
    expect(selectsField(info, 'node')).toBe(false);
    expect(selectsField(info, 'id')).toBe(false);
  });

  it('goes by the field name, not the alias', () => {
    const info = infoFor('{ list: templates { count: totalCount } }');
    expect(selectsField(info, 'totalCount')).toBe(true);
    expect(selectsField(info, 'count')).toBe(false);
  });

  it('sees through inline fragments, with and without a type condition', () => {
    expect(selectsField(infoFor('{ templates { ... on TemplateConnection { totalCount } } }'), 'totalCount')).toBe(true);
    expect(selectsField(infoFor('{ templates { ... { totalCount } } }'), 'totalCount')).toBe(true);
    expect(selectsField(infoFor('{ templates { ... { pageInfo { hasNextPage } } } }'), 'totalCount')).toBe(false);
  });

  it('sees through named fragment spreads, also nested ones', () => {
    const direct = infoFor(`
      query { templates { ...Counted } }
      fragment Counted on TemplateConnection { totalCount }`);
    expect(selectsField(direct, 'totalCount')).toBe(true);
    expect(selectsField(direct, 'edges')).toBe(false);

    const nested = infoFor(`
      query { templates { ...Outer } }
      fragment Outer on TemplateConnection { ... on TemplateConnection { ...Inner } }
      fragment Inner on TemplateConnection { pageInfo { hasNextPage } }`);
    expect(selectsField(nested, 'pageInfo')).toBe(true);
    expect(selectsField(nested, 'totalCount')).toBe(false);
  });

  it('sees a field selected in any of the merged field nodes', () => {
    const info = infoFor('{ templates { edges { cursor } } templates { totalCount } }');
    expect(info.fieldNodes).toHaveLength(2);
    expect(selectsField(info, 'totalCount')).toBe(true);
    expect(selectsField(info, 'edges')).toBe(true);
    expect(selectsField(info, 'pageInfo')).toBe(false);
  });

  it('counts a conditional selection, whichever way @skip / @include would go', () => {
    expect(selectsField(infoFor('{ templates { totalCount @skip(if: true) edges { cursor } } }'), 'totalCount')).toBe(true);
    expect(selectsField(infoFor('{ templates { totalCount @include(if: false) edges { cursor } } }'), 'totalCount')).toBe(true);
  });
});

describe('selectsPath', () => {
  const CONFIGURATION = ['edges', 'node', 'configuration'];

  it('sees a nested path selected directly', () => {
    const info = infoFor('{ templates { edges { node { id configuration } } } }');
    expect(selectsPath(info, CONFIGURATION)).toBe(true);
    expect(selectsPath(info, ['edges', 'node', 'id'])).toBe(true);
    expect(selectsPath(info, ['edges', 'node'])).toBe(true);
    expect(selectsPath(info, ['edges'])).toBe(true);
  });

  it('is false when the last field of the path is not selected', () => {
    const info = infoFor('{ templates { edges { cursor node { id name } } totalCount } }');
    expect(selectsPath(info, CONFIGURATION)).toBe(false);
    expect(selectsPath(info, ['edges', 'node', 'owner'])).toBe(false);
  });

  it('is false when a field on the way is not selected', () => {
    const info = infoFor('{ templates { pageInfo { hasNextPage } totalCount } }');
    expect(selectsPath(info, CONFIGURATION)).toBe(false);
    expect(selectsPath(info, ['edges', 'cursor'])).toBe(false);
  });

  it('does not find a field at another level of nesting', () => {
    // `configuration` is selected, but not under edges.node; `id` is under node.owner, not node.
    const info = infoFor('{ templates { edges { node { owner { id } } } } }');
    expect(selectsPath(info, ['configuration'])).toBe(false);
    expect(selectsPath(info, ['edges', 'configuration'])).toBe(false);
    expect(selectsPath(info, ['edges', 'node', 'id'])).toBe(false);
    expect(selectsPath(info, ['edges', 'node', 'owner', 'id'])).toBe(true);
  });

  it('is false for a path going below a leaf field', () => {
    const info = infoFor('{ templates { totalCount edges { cursor } } }');
    expect(selectsPath(info, ['totalCount', 'anything'])).toBe(false);
    expect(selectsPath(info, ['edges', 'cursor', 'anything'])).toBe(false);
  });

  it('goes by field names through aliases at every level', () => {
    const info = infoFor('{ page: templates { rows: edges { item: node { config: configuration } } } }');
    expect(selectsPath(info, CONFIGURATION)).toBe(true);
    expect(selectsPath(info, ['rows', 'item', 'config'])).toBe(false);
  });

  it('sees through inline fragments at every level', () => {
    const info = infoFor(`{
      templates {
        ... on TemplateConnection { edges { ... { node { ... on Template { configuration } } } } }
      }
    }`);
    expect(selectsPath(info, CONFIGURATION)).toBe(true);
    expect(selectsPath(info, ['edges', 'node', 'name'])).toBe(false);
  });

  it('sees through named fragment spreads at every level', () => {
    const info = infoFor(`
      query { templates { ...Page } }
      fragment Page on TemplateConnection { edges { ...Edge } }
      fragment Edge on TemplateEdge { node { ...Details } }
      fragment Details on Template { id configuration }`);
    expect(selectsPath(info, CONFIGURATION)).toBe(true);
    expect(selectsPath(info, ['edges', 'node', 'id'])).toBe(true);
    expect(selectsPath(info, ['edges', 'node', 'name'])).toBe(false);
  });

  it('looks in every selection of a field selected more than once on the way', () => {
    // The first `edges` and the first `node` do not lead to configuration; the later ones do.
    const info = infoFor(`{
      templates {
        edges { cursor }
        more: edges { node { id } node { configuration } }
      }
    }`);
    expect(selectsPath(info, CONFIGURATION)).toBe(true);
    expect(selectsPath(info, ['edges', 'node', 'name'])).toBe(false);
  });

  it('combines the merged field nodes of the field being resolved', () => {
    const info = infoFor('{ templates { totalCount } templates { edges { node { configuration } } } }');
    expect(selectsPath(info, CONFIGURATION)).toBe(true);
  });

  it('takes the empty path as the field being resolved itself', () => {
    expect(selectsPath(infoFor('{ templates { totalCount } }'), [])).toBe(true);
  });

  it('agrees with selectsField on one-name paths', () => {
    const info = infoFor('{ templates { ...on TemplateConnection { totalCount } } }');
    expect(selectsPath(info, ['totalCount'])).toBe(selectsField(info, 'totalCount'));
    expect(selectsPath(info, ['edges'])).toBe(selectsField(info, 'edges'));
    expect(selectsPath(info, ['totalCount'])).toBe(true);
    expect(selectsPath(info, ['edges'])).toBe(false);
  });
});
