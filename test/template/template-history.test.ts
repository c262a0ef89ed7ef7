import { applyPatch, deepClone, type Operation } from 'fast-json-patch';
import { ErrorCode } from '../../src/errors/domain-error';
import { TemplateCategory } from '../../src/template/template-category';
import { TemplateService } from '../../src/template/template.service';
import { useApi } from '../support/api';
import { createTemplateViaService, rejectionOf, validConfiguration, type TestUser } from '../support/factories';

describe('template history', () => {
  const api = useApi();
  const service = () => new TemplateService(api.orm.em.fork());

  const CONTENT_COLUMNS = 'name, description, category, tags, configuration';

  async function snapshotRows(templateId: string) {
    return api.db.query(
      `select id, version, ${CONTENT_COLUMNS}, created_by, created_at, change_note
         from experiment_template_versions where template_id = $1 order by version`,
      [templateId],
    );
  }

  async function contentAt(templateId: string, version: number) {
    const [row] = await api.db.query(
      `select ${CONTENT_COLUMNS} from experiment_template_versions where template_id = $1 and version = $2`,
      [templateId, version],
    );
    return row;
  }

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

  describe('diff', () => {
    it('is an RFC 6902 JSON Patch that turns version `from` into version `to`', async () => {
      const owner = await api.user();
      const id = await threeVersions(owner);

      const patch = await service().diff(owner, id, 1, 2);
      expect(patch).toEqual(
        expect.arrayContaining([
          { op: 'replace', path: '/name', value: 'Churn v2' },
          { op: 'replace', path: '/configuration/model/type', value: 'xgboost' },
          { op: 'replace', path: '/configuration/model/framework', value: 'xgboost' },
          { op: 'remove', path: '/configuration/model/hyperparameters' },
        ]),
      );
      expect(patch).toHaveLength(4);

      const tagsPatch = await service().diff(owner, id, 2, 3);
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
        const ops: Operation[] = await service().diff(owner, id, from, to);
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
      expect(await service().diff(owner, id, 2, 2)).toEqual([]);
    });

    it('to or from a missing version is NOT_FOUND', async () => {
      const owner = await api.user();
      const id = await threeVersions(owner);
      await expect(service().diff(owner, id, 1, 7)).rejects.toMatchObject({ code: ErrorCode.NotFound });
      await expect(service().diff(owner, id, 7, 1)).rejects.toMatchObject({ code: ErrorCode.NotFound });
    });
  });

  describe('versions', () => {
    it('lists the snapshots newest first; version(n) returns one, or null when missing', async () => {
      const owner = await api.user();
      const id = await threeVersions(owner);
      const versions = await service().versions(owner, id);
      expect(versions.map((v) => v.version)).toEqual([3, 2, 1]);
      expect(versions.map((v) => v.name)).toEqual(['Churn v2', 'Churn v2', 'Churn classifier']);
      expect(versions.map((v) => v.changeNote)).toEqual([null, null, 'Created']);

      const second = await service().version(owner, id, 2);
      expect(second).toMatchObject({ version: 2, name: 'Churn v2', category: 'classification' });
      expect(second!.configuration.model).toEqual({ type: 'xgboost', framework: 'xgboost' });
      expect(await service().version(owner, id, 4)).toBeNull();
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
      expect(await service().findVisible(owner, copy.id)).toBeNull();
      expect(await service().findVisible(null, copy.id)).toBeNull();
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
