import type { MikroORM } from '@mikro-orm/postgresql';
import { createTestDatabase, openTestOrm, type TestDatabase } from './test-database';

export interface OrmFixture {
  db: TestDatabase;
  orm: MikroORM;
  /** A fresh EntityManager, as one request would get. */
  em(): ReturnType<MikroORM['em']['fork']>;
}

/** A migrated database of the test file's own and an ORM on it, for the file's lifetime. */
export function useOrmFixture(): OrmFixture {
  const fixture = {} as OrmFixture;
  beforeAll(async () => {
    fixture.db = await createTestDatabase();
    fixture.orm = await openTestOrm(fixture.db);
    fixture.em = () => fixture.orm.em.fork();
  });
  afterAll(async () => {
    await fixture.orm?.close(true);
    await fixture.db?.drop();
  });
  return fixture;
}
