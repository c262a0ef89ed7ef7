import type { MikroORM } from '@mikro-orm/postgresql';
import { BASELINE_MIGRATION, migrationsList } from '../../migrations';
import { runNpm } from '../faults/harness';
import { createTestDatabase, openTestOrm, type TestDatabase } from '../support/test-database';

const [, TEMPLATES] = migrationsList.map((migration) => migration.name);

/** `npm run migrate -- down` against a database that holds the baseline and the templates migration. */
describe('npm run migrate -- down', () => {
  let db: TestDatabase;
  let orm: MikroORM;

  beforeAll(async () => {
    db = await createTestDatabase({ empty: true });
    orm = await openTestOrm(db);
    await orm.getMigrator().up({ to: TEMPLATES });
    // Rows that were there before Tessera: what rolling back the baseline would destroy.
    await db.query(`insert into users (external_id, email) values ('legacy|1', 'legacy@example.test')`);
    await db.query(`insert into ml_experiments (name, owner_id) select 'Legacy experiment', id from users where external_id = 'legacy|1'`);
  });
  afterAll(async () => {
    await orm?.close(true);
    await db?.drop();
  });

  const migrate = (...args: string[]) => runNpm(['migrate', '--', ...args], { DATABASE_URL: db.url, DATABASE_MIGRATION_URL: '' });
  const executed = async () =>
    (await db.query<{ name: string }>('select name from mikro_orm_migrations order by id')).map((row) => row.name);
  const legacyRows = async () =>
    (await db.query<{ n: number }>(`select (select count(*) from users) + (select count(*) from ml_experiments) as n`))[0].n;

  it('rolls back one migration, then refuses the baseline with a sentence saying what it would drop and how to ask for it', async () => {
    const first = await migrate('down');
    expect(first).toEqual({ code: 0, stdout: `Rolled back: ${TEMPLATES}\n`, stderr: '' });
    expect(await executed()).toEqual([BASELINE_MIGRATION]);

    const refused = await migrate('down');
    expect(refused).toEqual({
      code: 1,
      stdout: '',
      stderr:
        `${BASELINE_MIGRATION} is the baseline: rolling it back drops the pre-existing ml_experiments and users tables and every ` +
        `row in them. Nothing was rolled back; add --drop-baseline to do it anyway\n`,
    });
    expect(await executed()).toEqual([BASELINE_MIGRATION]);
    expect(Number(await legacyRows())).toBe(2);
  }, 60_000);

  it('rolls back the baseline when --drop-baseline asks for it', async () => {
    expect(await migrate('down', '--drop-baseline')).toEqual({ code: 0, stdout: `Rolled back: ${BASELINE_MIGRATION}\n`, stderr: '' });
    expect(await executed()).toEqual([]);
    const tables = await db.query(
      `select tablename from pg_tables where schemaname = 'public' and tablename in ('users', 'ml_experiments')`,
    );
    expect(tables).toEqual([]);
    expect(await migrate('down')).toEqual({ code: 0, stdout: 'Nothing to roll back.\n', stderr: '' });
  }, 60_000);

  it('refuses arguments it does not know with its usage', async () => {
    expect(await migrate('sideways')).toEqual({ code: 2, stdout: '', stderr: 'usage: npm run migrate [-- down [--drop-baseline]]\n' });
  }, 30_000);
});
