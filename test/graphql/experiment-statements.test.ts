import { dataOf, useApi } from '../support/api';
import { insertExperiments, insertTemplates, type TestUser } from '../support/factories';

const PAGE = `
  query Page($first: Int!) {
    experiments(first: $first) {
      edges { node { id template { id name } owner { id } hasNewerTemplateVersion templateVersionSnapshot { version } } }
      totalCount
    }
  }`;

const NESTED = `
  query Nested($first: Int!) {
    experiments(first: $first) {
      edges { node { id template { id experiments(first: 2) { totalCount edges { node { id } } } } } }
    }
  }`;

describe('SQL statements per experiments page', () => {
  const api = useApi();
  let ada: TestUser;
  let hiddenTemplates: Set<string>;

  beforeAll(async () => {
    ada = await api.user('ada');
    const other = await api.user('other');
    // 100 experiments, each from its own template: hidden ones, ones that moved on (version 2), current ones (newest).
    const current = await insertTemplates(
      api,
      Array.from({ length: 40 }, () => ({ ownerId: ada.id })),
    );
    const movedOn = await insertTemplates(
      api,
      Array.from({ length: 40 }, () => ({ ownerId: other.id, isPublic: true, version: 2 })),
    );
    const hidden = await insertTemplates(
      api,
      Array.from({ length: 20 }, () => ({ ownerId: other.id })),
    );
    hiddenTemplates = new Set(hidden);
    await insertExperiments(
      api,
      [...hidden, ...movedOn, ...current].map((templateId, n) => ({
        ownerId: ada.id,
        templateId,
        templateVersion: 1,
        createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, n)).toISOString(),
      })),
    );
  });

  async function statementsFor(query: string, first: number) {
    const { result, statements } = await api.countStatements(() => api.graphql(query, { variables: { first }, as: ada }));
    return { data: dataOf(result), statements };
  }

  it('is the same for 1, 20 and 100 experiments with template, owner, snapshot and newer-version flag', async () => {
    const counts: number[] = [];
    for (const first of [1, 20, 100]) {
      const { data, statements } = await statementsFor(PAGE, first);
      expect(data.experiments.edges).toHaveLength(first);
      counts.push(statements.length);
    }
    expect(counts[1]).toBe(counts[0]);
    expect(counts[2]).toBe(counts[0]);
    // Caller, page, count, templates, owners, snapshots.
    expect(counts[0]).toBeLessThanOrEqual(6);

    const { data } = await statementsFor(PAGE, 100);
    const nodes = data.experiments.edges.map((edge: { node: any }) => edge.node);
    expect(data.experiments.totalCount).toBe(100);
    expect(nodes.filter((node: any) => node.template === null)).toHaveLength(20);
    expect(nodes.filter((node: any) => node.hasNewerTemplateVersion)).toHaveLength(40);
    expect(nodes.filter((node: any) => node.templateVersionSnapshot?.version === 1)).toHaveLength(80);
    expect(nodes.every((node: any) => node.owner.id === ada.id)).toBe(true);
    for (const node of nodes.filter((n: any) => n.template)) expect(hiddenTemplates.has(node.template.id)).toBe(false);
  });

  it("is the same for 1, 10 and 40 experiments with each template's own experiments", async () => {
    const counts: number[] = [];
    for (const first of [1, 10, 40]) {
      const { data, statements } = await statementsFor(NESTED, first);
      expect(data.experiments.edges).toHaveLength(first);
      for (const { node } of data.experiments.edges) {
        if (node.template) expect(node.template.experiments).toEqual({ totalCount: 1, edges: [{ node: { id: node.id } }] });
      }
      counts.push(statements.length);
    }
    expect(new Set(counts).size).toBe(1);
  });
});
