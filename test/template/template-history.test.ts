import { ErrorCode } from '../../src/errors/domain-error';
import { TemplateCategory } from '../../src/template/template-category';
import { dataOf, useApi } from '../support/api';
import { createTemplateViaService, rejectionOf, services, snapshotContent, validConfiguration, type TestUser } from '../support/factories';

describe('template history', () => {
  const api = useApi();
  const service = () => services(api).templates;

  const CONTENT_COLUMNS = 'name, description, category, tags, configuration';

  async function snapshotRows(templateId: string) {
    return api.db.query(
      `select id, version, ${CONTENT_COLUMNS}, created_by, created_at, change_note
         from experiment_template_versions where template_id = $1 order by version`,
      [templateId],
    );
  }

  const contentAt = (templateId: string, version: number) => snapshotContent(api, templateId, version);

  async function templateRow(templateId: string) {
    const [row] = await api.db.query('select * from experiment_templates where id = $1', [templateId]);
    return row;
  }

  /** A template with three versions: created, renamed and re-modelled, retagged and re-described. */
  async function threeVersions(owner: TestUser) {
    const template = await createTemplateViaService(api, owner);
    await service().update(owner, template.id, {
      name: 'Churn v2',
      configuration: validConfiguration({ model: { type: 'xgboost', framework: 'xgboost' } }),
    });
    await service().update(owner, template.id, {
      tags: ['churn', 'gradient-boosting'],
      description: null,
      category: TemplateCategory.ANOMALY_DETECTION,
    });
    return template.id;
  }

  describe('revert', () => {
    it('writes the old content as a new version; earlier snapshots stay exactly as they were', async () => {
      const owner = await api.user();
      const id = await threeVersions(owner);
      const before = await snapshotRows(id);

      const reverted = await service().revert(owner, id, 1);

      expect(reverted.version).toBe(4);
      const after = await snapshotRows(id);
      expect(after.map((s) => s.version)).toEqual([1, 2, 3, 4]);
      expect(after.slice(0, 3)).toEqual(before);
      expect(after[3]).toMatchObject({ change_note: 'Reverted to version 1', created_by: owner.userId });
      expect(await contentAt(id, 4)).toEqual(await contentAt(id, 1));

      const row = await templateRow(id);
      expect(row.version).toBe(4);
      expect({
        name: row.name,
        description: row.description,
        category: row.category,
        tags: row.tags,
        configuration: row.configuration,
      }).toEqual(await contentAt(id, 1));
    });

    it('takes a change note of the caller when given one', async () => {
      const owner = await api.user();
      const id = await threeVersions(owner);
      await service().revert(owner, id, 2, { changeNote: 'xgboost was better' });
      const snapshots = await snapshotRows(id);
      expect(snapshots.at(-1)).toMatchObject({ version: 4, change_note: 'xgboost was better' });
      expect(await contentAt(id, 4)).toEqual(await contentAt(id, 2));
    });

    it('reverting to the current content writes no version', async () => {
      const owner = await api.user();
      const id = await threeVersions(owner);
      const reverted = await service().revert(owner, id, 3);
      expect(reverted.version).toBe(3);
      expect(await snapshotRows(id)).toHaveLength(3);
    });

    it.each([0, 9, -1])('a revert to missing version %i is NOT_FOUND and writes nothing', async (missing) => {
      const owner = await api.user();
      const id = await threeVersions(owner);
      const rowBefore = await templateRow(id);
      const snapshotsBefore = await snapshotRows(id);
      await expect(service().revert(owner, id, missing)).rejects.toMatchObject({ code: ErrorCode.NotFound });
      expect(await templateRow(id)).toEqual(rowBefore);
      expect(await snapshotRows(id)).toEqual(snapshotsBefore);
    });

    it('honours expectedVersion', async () => {
      const owner = await api.user();
      const id = await threeVersions(owner);
      await expect(service().revert(owner, id, 1, { expectedVersion: 2 })).rejects.toMatchObject({
        code: ErrorCode.Conflict,
        details: { currentVersion: 3 },
      });
      expect(await snapshotRows(id)).toHaveLength(3);
      expect((await service().revert(owner, id, 1, { expectedVersion: 3 })).version).toBe(4);
    });
  });

  describe('clone', () => {
    it('makes a private copy owned by the cloner at version 1 with its own snapshot; the source is untouched', async () => {
      const owner = await api.user('owner');
      const cloner = await api.user('cloner');
      const id = await threeVersions(owner);
      await service().setPublic(owner, id, true);
      const sourceBefore = await templateRow(id);
      const sourceSnapshotsBefore = await snapshotRows(id);

      const copy = await service().clone(cloner, id);

      expect(copy.id).not.toBe(id);
      const row = await templateRow(copy.id);
      expect(row).toMatchObject({
        name: 'Churn v2 (copy)',
        description: sourceBefore.description,
        category: sourceBefore.category,
        tags: sourceBefore.tags,
        configuration: sourceBefore.configuration,
        created_by: cloner.userId,
        version: 1,
        is_public: false,
        is_active: true,
        usage_count: 0,
        last_used: null,
      });
      const snapshots = await snapshotRows(copy.id);
      expect(snapshots).toHaveLength(1);
      expect(snapshots[0]).toMatchObject({
        version: 1,
        name: 'Churn v2 (copy)',
        created_by: cloner.userId,
        change_note: `Cloned from template ${id} version 3`,
        configuration: sourceBefore.configuration,
      });

      expect(await templateRow(id)).toEqual(sourceBefore);
      expect(await snapshotRows(id)).toEqual(sourceSnapshotsBefore);

      // The copy is the cloner's own and private: its owner edits it, the source's owner cannot even see it.
      expect((await service().update(cloner, copy.id, { name: 'Mine now' })).version).toBe(2);
      for (const as of [owner, null]) {
        const seen = await api.graphql('query($id: ID!) { template(id: $id) { id } }', { as, variables: { id: copy.id } });
        expect(dataOf(seen).template).toBeNull();
      }
    });

    it('takes a name of the caller, validated like any name', async () => {
      const owner = await api.user();
      const template = await createTemplateViaService(api, owner);
      const copy = await service().clone(owner, template.id, { name: '  My variant ' });
      expect((await templateRow(copy.id)).name).toBe('My variant');
      const error = await rejectionOf(service().clone(owner, template.id, { name: '' }));
      expect(error).toMatchObject({ code: ErrorCode.BadUserInput, validationErrors: [{ path: '/name' }] });
    });

    it('keeps a copy of a 255-character name within the limit', async () => {
      const owner = await api.user();
      const template = await createTemplateViaService(api, owner, { name: 'n'.repeat(255) });
      const copy = await service().clone(owner, template.id);
      expect((await templateRow(copy.id)).name).toHaveLength(255);
    });
  });

  describe('snapshots', () => {
    it('cannot be changed, not even by SQL outside the service', async () => {
      const owner = await api.user();
      const id = await threeVersions(owner);
      const before = await snapshotRows(id);
      await expect(
        api.db.query(`update experiment_template_versions set name = 'rewritten' where template_id = $1 and version = 1`, [id]),
      ).rejects.toThrow(/immutable/);
      await expect(
        api.db.query(`update experiment_template_versions set change_note = 'x' where template_id = $1`, [id]),
      ).rejects.toMatchObject({ code: '23001' });
      expect(await snapshotRows(id)).toEqual(before);
    });

    it('cannot take a version number twice', async () => {
      const owner = await api.user();
      const id = await threeVersions(owner);
      await expect(
        api.db.query(
          `insert into experiment_template_versions (template_id, version, name, category, configuration)
           values ($1, 2, 'dup', 'other', '{}')`,
          [id],
        ),
      ).rejects.toMatchObject({ code: '23505' });
    });
  });
});
