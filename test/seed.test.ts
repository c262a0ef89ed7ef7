import { seed } from '../scripts/seed';
import { TEMPLATE_CATEGORIES } from '../src/template/template-category';
import { useOrmFixture } from './support/orm-fixture';

describe('npm run seed', () => {
  const fixture = useOrmFixture();
  const count = async (sql: string) => (await fixture.db.query<{ n: number }>(`select count(*)::int as n from (${sql}) rows`))[0].n;

  it('loads users, templates of every category, versions, shares and experiments, once', async () => {
    const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      await seed(fixture.em());
      const categories = await fixture.db.query<{ category: string }>('select distinct category from experiment_templates');
      expect(categories.map((row) => row.category).sort()).toEqual([...TEMPLATE_CATEGORIES].sort());
      expect(await count('select 1 from users')).toBe(3);
      expect(await count('select 1 from experiment_template_versions where version > 1')).toBeGreaterThanOrEqual(3);
      expect(await count('select 1 from experiment_template_shares')).toBeGreaterThan(0);
      expect(await count('select 1 from experiment_templates where is_public')).toBeGreaterThan(0);
      expect(await count('select 1 from experiment_templates where not is_active')).toBe(1);
      expect(await count('select 1 from ml_experiments where template_id is not null')).toBe(4);
      expect(await count('select 1 from ml_experiments where wizard_completed and actual_training_time is not null')).toBe(1);

      const before = await count('select 1 from experiment_templates');
      await seed(fixture.em());
      expect(await count('select 1 from experiment_templates')).toBe(before);
    } finally {
      write.mockRestore();
    }
  });
});
