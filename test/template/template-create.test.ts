import { ErrorCode } from '../../src/errors/domain-error';
import { TemplateCategory } from '../../src/template/template-category';
import type { CreateTemplateInput } from '../../src/template/template.service';
import { useApi } from '../support/api';
import { pathsOf, rejectionOf, services, templateInput, validConfiguration } from '../support/factories';

describe('template creation', () => {
  const api = useApi();
  const service = () => services(api).templates;

  async function tableCounts() {
    const [row] = await api.db.query<{ templates: number; versions: number }>(
      `select (select count(*)::int from experiment_templates) as templates,
              (select count(*)::int from experiment_template_versions) as versions`,
    );
    return row;
  }

  it('stores every field, normalised, with version 1 and its snapshot', async () => {
    const owner = await api.user('creator');
    const configuration = validConfiguration();
    const before = Date.now();
    const template = await service().create(owner, {
      name: '   Churn classifier\t ',
      description: '  Predicts churn from usage data  ',
      category: TemplateCategory.TIME_SERIES,
      tags: [' Deep  Learning', 'deep-learning', 'Tabular', 'TABULAR ', 'c++'],
      configuration,
      isPublic: true,
      changeNote: 'Imported from the old wiki',
    });
    const after = Date.now();

    expect(template).toMatchObject({
      name: 'Churn classifier',
      description: 'Predicts churn from usage data',
      category: 'time_series',
      tags: ['deep-learning', 'tabular', 'c++'],
      configuration,
      isPublic: true,
      version: 1,
      isActive: true,
      usageCount: 0,
    });
    expect(template.lastUsed ?? null).toBeNull();
    expect(template.createdBy.id).toBe(owner.userId);

    const [row] = await api.db.query('select * from experiment_templates where id = $1', [template.id]);
    expect(row).toMatchObject({
      id: template.id,
      name: 'Churn classifier',
      description: 'Predicts churn from usage data',
      category: 'time_series',
      tags: ['deep-learning', 'tabular', 'c++'],
      configuration,
      version: 1,
      is_active: true,
      is_public: true,
      usage_count: 0,
      last_used: null,
      created_by: owner.userId,
    });
    for (const stamp of [row.created_at, row.updated_at] as Date[]) {
      expect(stamp).toBeInstanceOf(Date);
      expect(stamp.getTime()).toBeGreaterThanOrEqual(before - 1);
      expect(stamp.getTime()).toBeLessThanOrEqual(after + 1);
    }

    const snapshots = await api.db.query('select * from experiment_template_versions where template_id = $1', [template.id]);
    expect(snapshots).toHaveLength(1);
    expect(snapshots[0]).toMatchObject({
      version: 1,
      name: 'Churn classifier',
      description: 'Predicts churn from usage data',
      category: 'time_series',
      tags: ['deep-learning', 'tabular', 'c++'],
      configuration,
      created_by: owner.userId,
      change_note: 'Imported from the old wiki',
    });
    expect((snapshots[0].created_at as Date).getTime()).toBeGreaterThanOrEqual(before - 1);
    expect((snapshots[0].created_at as Date).getTime()).toBeLessThanOrEqual(after + 1);
  });

  it('defaults: no description, no tags, private, change note "Created"', async () => {
    const owner = await api.user();
    const template = await service().create(owner, {
      name: 'Bare',
      category: TemplateCategory.OTHER,
      configuration: { dataset: { source: 'x' }, features: [], model: { type: 'kmeans' } },
    });
    const [row] = await api.db.query(
      `select t.description, t.tags, t.is_public, v.change_note
         from experiment_templates t join experiment_template_versions v on v.template_id = t.id
        where t.id = $1`,
      [template.id],
    );
    expect(row).toEqual({ description: null, tags: [], is_public: false, change_note: 'Created' });
  });

  it('accepts a name of exactly 255 characters and blank description as null', async () => {
    const owner = await api.user();
    const name = 'n'.repeat(255);
    const template = await service().create(owner, templateInput({ name, description: '   ' }));
    const [row] = await api.db.query('select name, description from experiment_templates where id = $1', [template.id]);
    expect(row).toEqual({ name, description: null });
  });

  const invalid: Array<[string, Partial<CreateTemplateInput>, string[]]> = [
    ['an empty name', { name: '' }, ['/name']],
    ['a blank name', { name: '   \t' }, ['/name']],
    ['a name over 255 characters', { name: 'n'.repeat(256) }, ['/name']],
    ['a missing name', { name: undefined }, ['/name']],
    ['a non-string name', { name: 42 }, ['/name']],
    ['a non-string description', { description: { text: 'x' } }, ['/description']],
    ['a description over 10,000 characters', { description: 'd'.repeat(10_001) }, ['/description']],
    ['an unknown category', { category: 'astrology' }, ['/category']],
    ['a missing category', { category: undefined }, ['/category']],
    ['a category in the wrong case', { category: 'Classification' }, ['/category']],
    ['tags that are not an array', { tags: 'churn' }, ['/tags']],
    ['a non-string tag', { tags: ['churn', 7] }, ['/tags/1']],
    ['an empty tag', { tags: ['churn', '  '] }, ['/tags/1']],
    ['a tag with forbidden characters', { tags: ['churn', 'bad tag!'] }, ['/tags/1']],
    ['a tag over 50 characters', { tags: ['churn', 't'.repeat(51)] }, ['/tags/1']],
    ['more than 30 tags', { tags: Array.from({ length: 31 }, (_, i) => `tag${i}`) }, ['/tags']],
    ['a missing configuration', { configuration: undefined }, ['/configuration']],
    [
      'a configuration whose model has no type',
      { configuration: validConfiguration({ model: { framework: 'sklearn' } }) },
      ['/configuration/model/type'],
    ],
    ['a configuration with an unknown section', { configuration: { ...validConfiguration(), extra: {} } }, ['/configuration/extra']],
    ['a non-boolean isPublic', { isPublic: 'yes' as never }, ['/isPublic']],
    ['a change note that is not a string', { changeNote: 5 }, ['/changeNote']],
    [
      'several problems at once',
      {
        name: '',
        category: 'nope',
        tags: ['ok', ''],
        configuration: validConfiguration({ model: { framework: 'sklearn' } }),
      },
      ['/category', '/configuration/model/type', '/name', '/tags/1'],
    ],
  ];

  it.each(invalid)('rejects %s with BAD_USER_INPUT and writes nothing', async (_case, overrides, paths) => {
    const owner = await api.user();
    const before = await tableCounts();
    const error = await rejectionOf(service().create(owner, templateInput(overrides)));
    expect(error.code).toBe(ErrorCode.BadUserInput);
    expect(pathsOf(error)).toEqual(paths);
    for (const fieldError of error.validationErrors) expect(fieldError.message).toEqual(expect.any(String));
    expect(await tableCounts()).toEqual(before);
  });

  it('reports a missing name as "is required" and an empty one as "must not be empty"', async () => {
    const owner = await api.user();
    const missing = await rejectionOf(service().create(owner, templateInput({ name: undefined })));
    expect(missing.validationErrors).toEqual([{ path: '/name', message: 'is required' }]);
    const empty = await rejectionOf(service().create(owner, templateInput({ name: ' ' })));
    expect(empty.validationErrors).toEqual([{ path: '/name', message: 'must not be empty' }]);
  });
});
