import { dataOf, useApi } from '../support/api';
import { insertTemplates, uniqueTag } from '../support/factories';

const PAGE = /* GraphQL */ `
  query Page($first: Int!, $filter: TemplateFilter) {
    templates(first: $first, filter: $filter) {
      edges {
        node {
          id
          owner {
            id
          }
          sharedWith {
            id
          }
          versions {
            version
            createdBy {
              id
            }
          }
          versionSnapshot(version: 1) {
            version
          }
        }
      }
      totalCount
    }
  }
`;

describe('templates page SQL statements', () => {
  const api = useApi();

  it('costs the same number of statements for 1, 20 and 100 templates with owners, shares and versions', async () => {
    const [owner, ...readers] = await Promise.all(['owner', 'reader1', 'reader2', 'reader3'].map((name) => api.user(name)));
    const tag = uniqueTag();
    const ids = await insertTemplates(
      api,
      Array.from({ length: 120 }, (_, i) => ({
        ownerId: owner.id,
        tags: [tag],
        sharedWith: [readers[i % 3].id, readers[(i + 1) % 3].id],
      })),
    );
    // A second version of each, by a reader (as if they had owned it then): `createdBy` needs users beyond the owner.
    await api.db.query(
      `insert into experiment_template_versions (template_id, version, name, category, configuration, created_by)
       select id, 2, name, category, configuration, $2 from experiment_templates where id = any($1::uuid[])`,
      [ids, readers[0].id],
    );

    const counts: Record<number, { statements: number; roundTrips: number }> = {};
    for (const first of [1, 20, 100]) {
      const { result, statements, roundTrips } = await api.countStatements(() =>
        api.graphql(PAGE, { as: owner, variables: { first, filter: { tags: { allOf: [tag] } } } }),
      );
      const { templates } = dataOf(result);
      expect(templates.edges).toHaveLength(first);
      expect(templates.totalCount).toBe(120);
      for (const { node } of templates.edges) {
        expect(node.owner).toEqual({ id: owner.id });
        expect(node.sharedWith).toHaveLength(2);
        expect(node.versions).toEqual([
          { version: 2, createdBy: { id: readers[0].id } },
          { version: 1, createdBy: { id: owner.id } },
        ]);
        expect(node.versionSnapshot).toEqual({ version: 1 });
      }
      counts[first] = { statements: statements.length, roundTrips };
    }
    expect(counts[20]).toEqual(counts[1]);
    expect(counts[100]).toEqual(counts[1]);
    // The page with its owners and shares beside its count, then the versions with their authors beside the
    // snapshots: nothing per row.
    expect(counts[1]).toEqual({ statements: 4, roundTrips: 2 });
  });

  it('skips the COUNT when totalCount is not selected, and runs it when selected through a fragment', async () => {
    const owner = await api.user('owner');
    const tag = uniqueTag();
    await insertTemplates(api, [
      { ownerId: owner.id, tags: [tag] },
      { ownerId: owner.id, tags: [tag] },
    ]);
    const variables = { filter: { tags: { allOf: [tag] } } };
    const counting = (statements: string[]) => statements.filter((sql) => /select count\(\*\)/i.test(sql)).length;

    const without = await api.countStatements(() =>
      api.graphql('query($filter: TemplateFilter) { templates(filter: $filter) { edges { node { id } } } }', { as: owner, variables }),
    );
    expect(dataOf(without.result).templates.edges).toHaveLength(2);
    expect(counting(without.statements)).toBe(0);

    const withFragment = await api.countStatements(() =>
      api.graphql(
        `query($filter: TemplateFilter) { templates(filter: $filter) { ...Total } }
         fragment Total on TemplateConnection { ... on TemplateConnection { totalCount } }`,
        { as: owner, variables },
      ),
    );
    expect(dataOf(withFragment.result).templates.totalCount).toBe(2);
    expect(counting(withFragment.statements)).toBe(1);
  });
});

describe('a template change SQL statements', () => {
  const api = useApi();
  const UPDATE = /* GraphQL */ `
    mutation Update($id: ID!, $input: UpdateTemplateInput!) {
      updateTemplate(id: $id, input: $input) {
        id
        version
        name
      }
    }
  `;

  it('writes a change, its version and its event in one statement, which locks the row only where the caller may change it', async () => {
    const owner = await api.user('owner');
    const [id] = await insertTemplates(api, [{ ownerId: owner.id }]);
    const { result, sent, roundTrips } = await api.countStatements(() =>
      api.graphql(UPDATE, { as: owner, variables: { id, input: { name: 'Renamed in one statement' } } }),
    );
    expect(dataOf(result).updateTemplate).toEqual({ id, version: 2, name: 'Renamed in one statement' });
    expect(roundTrips).toBe(1);
    expect(sent).toHaveLength(1);
    const [write] = sent;
    expect(write.sql).toMatch(/where t\.id = \$\d+::uuid and t\.created_by = \$\d+::uuid for update/);
    expect(write.sql).toMatch(/update experiment_templates/);
    expect(write.sql).toMatch(/insert into experiment_template_versions/);
    expect(write.sql).toMatch(/insert into audit_events/);
    expect(write.values).toContain(owner.id);
    expect(
      await api.db.query('select version, name from experiment_template_versions where template_id = $1 order by version', [id]),
    ).toEqual([
      { version: 1, name: 'Template 1' },
      { version: 2, name: 'Renamed in one statement' },
    ]);
  });

  it('locks nothing for a caller who sees the template but may not change it, nor for a hidden one, and answers each as before', async () => {
    const [owner, stranger] = await Promise.all([api.user('owner2'), api.user('stranger')]);
    const [publicId, privateId] = await insertTemplates(api, [
      { ownerId: owner.id, isPublic: true },
      { ownerId: owner.id, isPublic: false },
    ]);
    for (const [id, code] of [
      [publicId, 'FORBIDDEN'],
      [privateId, 'NOT_FOUND'],
    ]) {
      const { result, sent } = await api.countStatements(() =>
        api.graphql(UPDATE, { as: stranger, variables: { id, input: { name: 'Not theirs' } } }),
      );
      expect(result.body.errors?.map((error) => error.extensions?.code)).toEqual([code]);
      // The one locking statement is of the caller's own templates: it finds and locks nothing here; only then is
      // visibility asked, to tell the two apart.
      const locks = sent.filter(({ sql }) => /\bfor update\b/i.test(sql));
      expect(locks).toHaveLength(1);
      expect(locks[0].sql).toMatch(/t\.created_by = \$\d+::uuid for update/);
      expect(locks[0].values).toContain(stranger.id);
      expect(sent.indexOf(locks[0])).toBe(0);
    }
    const [unchanged] = await api.db.query('select version, name from experiment_templates where id = $1', [publicId]);
    expect(unchanged).toEqual({ version: 1, name: 'Template 1' });
  });
});
