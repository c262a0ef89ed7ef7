import { createTestDatabase, type TestDatabase } from '../support/test-database';

describe('migrated test database', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => db.drop());

  it('has every table', async () => {
    const rows = await db.query(`select tablename from pg_tables where schemaname = 'public' order by tablename`);
    expect(rows.map((r) => r.tablename)).toEqual([
      'experiment_template_shares',
      'experiment_template_versions',
      'experiment_templates',
      'mikro_orm_migrations',
      'ml_experiments',
      'users',
    ]);
  });
});
