import { dataOf, useApi } from '../support/api';
import { insertTemplates, uniqueTag, validConfiguration } from '../support/factories';

const pageStatement = (statements: string[]) => {
  const page = statements.filter((sql) => /from experiment_templates t\b/.test(sql) && /cursor_value/.test(sql));
  expect(page).toHaveLength(1);
  return page[0];
};

describe('templates page: configuration only when selected', () => {
  const api = useApi();

  it('leaves the configuration column out of the page unless a node selects it, through aliases and fragments', async () => {
    const owner = await api.user('owner');
    const tag = uniqueTag();
    const ids = await insertTemplates(api, [
      { ownerId: owner.id, tags: [tag] },
      { ownerId: owner.id, tags: [tag] },
    ]);
    const variables = { filter: { tags: { allOf: [tag] } } };

    const without = await api.countStatements(() =>
      api.graphql(
        `query($filter: TemplateFilter) { templates(first: 10, filter: $filter) { edges { node { id name version owner { id } } } } }`,
        {
          as: owner,
          variables,
        },
      ),
    );
    expect(pageStatement(without.statements)).not.toMatch(/\bt\.configuration\b|t\.\*/);
    const plain = dataOf(without.result).templates.edges.map(({ node }: { node: { id: string } }) => node.id);
    expect(plain.sort()).toEqual([...ids].sort());

    const selections = [
      `query($filter: TemplateFilter) { templates(first: 10, filter: $filter) { edges { node { id configuration } } } }`,
      `query($filter: TemplateFilter) { templates(first: 10, filter: $filter) { e: edges { n: node { id c: configuration } } } }`,
      `query($filter: TemplateFilter) { templates(first: 10, filter: $filter) { ...Page } }
       fragment Page on TemplateConnection { edges { node { ... on Template { id ...Config } } } }
       fragment Config on Template { configuration }`,
    ];
    for (const query of selections) {
      const { result, statements } = await api.countStatements(() => api.graphql(query, { as: owner, variables }));
      expect(pageStatement(statements)).toMatch(/\bt\.configuration\b/);
      const { templates } = dataOf(result);
      const edges = templates.edges ?? templates.e;
      expect(edges).toHaveLength(2);
      for (const edge of edges) {
        const node = edge.node ?? edge.n;
        expect(node.configuration ?? node.c).toEqual(validConfiguration());
      }
    }
  });

  it('serves a template listed and loaded in the same request the same way, and mutations after listing still work', async () => {
    const owner = await api.user('owner2');
    const tag = uniqueTag();
    const [id] = await insertTemplates(api, [{ ownerId: owner.id, tags: [tag] }]);
    const both = dataOf(
      await api.graphql(
        `query($id: ID!, $filter: TemplateFilter) {
           one: template(id: $id) { id configuration version }
           page: templates(first: 5, filter: $filter) { edges { node { id name version } } }
           again: template(id: $id) { id configuration }
         }`,
        { as: owner, variables: { id, filter: { tags: { allOf: [tag] } } } },
      ),
    );
    expect(both.one).toEqual({ id, configuration: validConfiguration(), version: 1 });
    expect(both.again).toEqual({ id, configuration: validConfiguration() });
    expect(both.page.edges).toEqual([{ node: { id, name: 'Template 1', version: 1 } }]);

    const updated = dataOf(
      await api.graphql(`mutation($id: ID!) { updateTemplate(id: $id, input: { name: "Renamed" }) { id name version } }`, {
        as: owner,
        variables: { id },
      }),
    );
    expect(updated.updateTemplate).toEqual({ id, name: 'Renamed', version: 2 });
  });
});
