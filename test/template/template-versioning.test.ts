import { ErrorCode } from '../../src/errors/domain-error';
import { useApi } from '../support/api';
import { createTemplateViaService, services, validConfiguration } from '../support/factories';

describe('template versioning', () => {
  const api = useApi();
  const service = () => services(api).templates;

  async function snapshotsOf(templateId: string) {
    return api.db.query<{ version: number; name: string; change_note: string | null }>(
      'select version, name, change_note from experiment_template_versions where template_id = $1 order by version',
      [templateId],
    );
  }

  it('a content change bumps the version by one and writes its snapshot', async () => {
    const owner = await api.user();
    const template = await createTemplateViaService(api, owner);
    const updated = await service().update(owner, template.id, { name: 'Churn v2' }, { changeNote: 'rename' });
    expect(updated.version).toBe(2);
    expect(await snapshotsOf(template.id)).toEqual([
      { version: 1, name: 'Churn classifier', change_note: 'Created' },
      { version: 2, name: 'Churn v2', change_note: 'rename' },
    ]);
  });

  it('an update that changes nothing creates no version', async () => {
    const owner = await api.user();
    const template = await createTemplateViaService(api, owner);
    const same = await service().update(owner, template.id, {
      name: '  Churn classifier ',
      tags: ['Churn', 'tabular', 'churn'],
      configuration: validConfiguration(),
    });
    expect(same.version).toBe(1);
    expect(await snapshotsOf(template.id)).toHaveLength(1);
  });

  it('20 concurrent updates end at version 21 with 20 new snapshots and no duplicates', async () => {
    const owner = await api.user();
    const template = await createTemplateViaService(api, owner);
    await Promise.all(Array.from({ length: 20 }, (_, i) => service().update(owner, template.id, { description: `edit ${i}` })));
    const [row] = await api.db.query('select version from experiment_templates where id = $1', [template.id]);
    expect(row.version).toBe(21);
    const snapshots = await snapshotsOf(template.id);
    expect(snapshots.map((s) => s.version)).toEqual(Array.from({ length: 21 }, (_, i) => i + 1));
  });

  it('a stale expectedVersion gets CONFLICT with the current version and writes nothing', async () => {
    const owner = await api.user();
    const template = await createTemplateViaService(api, owner);
    await service().update(owner, template.id, { name: 'moved on' }, { expectedVersion: 1 });
    await expect(service().update(owner, template.id, { name: 'stale edit' }, { expectedVersion: 1 })).rejects.toMatchObject({
      code: ErrorCode.Conflict,
      details: { currentVersion: 2 },
    });
    const [row] = await api.db.query('select name, version from experiment_templates where id = $1', [template.id]);
    expect(row).toEqual({ name: 'moved on', version: 2 });
    expect(await snapshotsOf(template.id)).toHaveLength(2);
  });
});
