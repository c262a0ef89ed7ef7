import { applyPatch, deepClone, type Operation } from 'fast-json-patch';
import { dataOf, errorOf, useApi } from '../support/api';
import { createTemplateViaApi, snapshotContent, validConfiguration, type TestUser } from '../support/factories';

const UPDATE = 'mutation($id: ID!, $input: UpdateTemplateInput!) { updateTemplate(id: $id, input: $input) { version } }';
const DIFF = 'query($id: ID!, $from: Int!, $to: Int!) { template(id: $id) { diff(from: $from, to: $to) { op path from value } } }';

describe('template history over HTTP', () => {
  const api = useApi();

  const contentAt = (templateId: string, version: number) => snapshotContent(api, templateId, version);

  /** A template with three versions: created, renamed and re-modelled, retagged and re-described. */
  async function threeVersions(owner: TestUser) {
    const { id } = await createTemplateViaApi(api, owner);
    const update = async (input: Record<string, unknown>) => dataOf(await api.graphql(UPDATE, { as: owner, variables: { id, input } }));
    await update({ name: 'Churn v2', configuration: validConfiguration({ model: { type: 'xgboost', framework: 'xgboost' } }) });
    await update({ tags: ['churn', 'gradient-boosting'], description: null, category: 'ANOMALY_DETECTION' });
    return id;
  }

  /** `Template.diff` as RFC 6902 operations: `from` only on move and copy, `value` only on add, replace and test. */
  async function diff(as: TestUser, id: string, from: number, to: number): Promise<Operation[]> {
    const { template } = dataOf(await api.graphql(DIFF, { as, variables: { id, from, to } }));
    return template.diff.map((op: { op: string; path: string; from: string | null; value: unknown }) => ({
      op: op.op,
      path: op.path,
      ...(op.op === 'move' || op.op === 'copy' ? { from: op.from } : {}),
      ...(op.op === 'add' || op.op === 'replace' || op.op === 'test' ? { value: op.value } : {}),
    }));
  }

  describe('diff', () => {
    it('is an RFC 6902 JSON Patch that turns version `from` into version `to`', async () => {
      const owner = await api.user();
      const id = await threeVersions(owner);

      const patch = await diff(owner, id, 1, 2);
      expect(patch).toEqual(
        expect.arrayContaining([
          { op: 'replace', path: '/name', value: 'Churn v2' },
          { op: 'replace', path: '/configuration/model/type', value: 'xgboost' },
          { op: 'replace', path: '/configuration/model/framework', value: 'xgboost' },
          { op: 'remove', path: '/configuration/model/hyperparameters' },
        ]),
      );
      expect(patch).toHaveLength(4);

      const tagsPatch = await diff(owner, id, 2, 3);
      expect(tagsPatch.some((op) => op.path.startsWith('/tags/'))).toBe(true);
      expect(tagsPatch).toEqual(
        expect.arrayContaining([
          { op: 'replace', path: '/tags/1', value: 'gradient-boosting' },
          { op: 'replace', path: '/description', value: null },
          { op: 'replace', path: '/category', value: 'anomaly_detection' },
        ]),
      );

      for (const [from, to] of [
        [1, 2],
        [2, 3],
        [1, 3],
        [3, 1],
        [2, 1],
      ]) {
        const ops = await diff(owner, id, from, to);
        for (const op of ops) {
          expect(['add', 'remove', 'replace', 'move', 'copy', 'test']).toContain(op.op);
          expect(op.path).toMatch(/^\//);
        }
        const source = await contentAt(id, from);
        const result = applyPatch(deepClone(source), ops, true, false).newDocument;
        expect(result).toEqual(await contentAt(id, to));
        expect(source).toEqual(await contentAt(id, from));
      }
    });

    it('between a version and itself is empty', async () => {
      const owner = await api.user();
      const id = await threeVersions(owner);
      expect(await diff(owner, id, 2, 2)).toEqual([]);
    });

    it('to or from a missing version is NOT_FOUND', async () => {
      const owner = await api.user();
      const id = await threeVersions(owner);
      expect(errorOf(await api.graphql(DIFF, { as: owner, variables: { id, from: 1, to: 7 } })).code).toBe('NOT_FOUND');
      expect(errorOf(await api.graphql(DIFF, { as: owner, variables: { id, from: 7, to: 1 } })).code).toBe('NOT_FOUND');
    });
  });

  describe('versions', () => {
    it('lists the snapshots newest first; versionSnapshot(n) returns one, or null when missing', async () => {
      const owner = await api.user();
      const id = await threeVersions(owner);
      const { template } = dataOf(
        await api.graphql(
          `query($id: ID!) {
             template(id: $id) {
               versions { version name changeNote }
               second: versionSnapshot(version: 2) { version name category configuration }
               missing: versionSnapshot(version: 4) { version }
             }
           }`,
          { as: owner, variables: { id } },
        ),
      );
      const versions: Array<{ version: number; name: string; changeNote: string | null }> = template.versions;
      expect(versions.map((v) => v.version)).toEqual([3, 2, 1]);
      expect(versions.map((v) => v.name)).toEqual(['Churn v2', 'Churn v2', 'Churn classifier']);
      expect(versions.map((v) => v.changeNote)).toEqual([null, null, 'Created']);

      expect(template.second).toMatchObject({ version: 2, name: 'Churn v2', category: 'CLASSIFICATION' });
      expect(template.second.configuration.model).toEqual({ type: 'xgboost', framework: 'xgboost' });
      expect(template.missing).toBeNull();
    });
  });
});
