import type { MikroORM } from '@mikro-orm/postgresql';
import { Client } from 'pg';
import type { AppConfig } from '../../src/config';
import { rejectionOf } from '../support/factories';
import type { TestDatabase } from '../support/test-database';

import { migrationsList } from '../../migrations';
import { createTestDatabase, openTestOrm } from '../support/test-database';

/**
 * The migrations against a real PostgreSQL: each scenario gets an empty database of its own and drives the MikroORM
 * migrator (configured as in production) through it.
 */

const NAMES = migrationsList.map((m) => m.name);
const [BASELINE, TEMPLATES, LINK, INDEXES] = NAMES;

const NEW_EXPERIMENT_COLUMNS = [
  'template_id',
  'template_version',
  'configuration_metadata',
  'dataset_statistics',
  'feature_importance',
  'model_recommendations',
  'resource_requirements',
  'wizard_completed',
  'wizard_step_completed',
  'wizard_state',
  'estimated_training_time',
  'actual_training_time',
  'started_at',
  'finished_at',
];

interface Scenario {
  db: TestDatabase;
  orm: MikroORM;
  migrator: ReturnType<MikroORM['getMigrator']>;
}

async function openOrm(db: TestDatabase, options: Partial<AppConfig['db']> = {}): Promise<MikroORM> {
  return openTestOrm(db, options);
}

/** An empty database, migrated up to and including `upTo` (nothing when null), handed to `work`, then dropped. */
async function scenario(upTo: string | null, work: (s: Scenario) => Promise<void>, options: Partial<AppConfig['db']> = {}): Promise<void> {
  const db = await createTestDatabase({ empty: true });
  let orm: MikroORM | undefined;
  try {
    orm = await openOrm(db, options);
    const migrator = orm.getMigrator();
    if (upTo) await migrator.up({ to: upTo });
    await work({ db, orm, migrator });
  } finally {
    await orm?.close(true);
    await db.drop();
  }
}

async function executedNames(db: TestDatabase): Promise<string[]> {
  const rows = await db.query<{ name: string }>(`select name from mikro_orm_migrations order by id`);
  return rows.map((r) => r.name);
}

async function publicTables(db: TestDatabase): Promise<string[]> {
  const rows = await db.query<{ tablename: string }>(`select tablename from pg_tables where schemaname = 'public' order by tablename`);
  return rows.map((r) => r.tablename);
}

async function invalidIndexes(db: TestDatabase): Promise<string[]> {
  const rows = await db.query<{ name: string }>(`
    select c.relname as name from pg_index i join pg_class c on c.oid = i.indexrelid
    join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'public' and not (i.indisvalid and i.indisready)`);
  return rows.map((r) => r.name);
}

/** Everything a migration may change in the catalog, as sorted text: equal dumps mean the same schema. */
async function dumpSchema(db: TestDatabase): Promise<string> {
  const sections: Array<[string, string]> = [
    [
      'relation',
      `
      select c.relname || ' ' || c.relkind::text || ' ' || c.relpersistence::text
      from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')`,
    ],
    [
      'column',
      `
      select c.relname || '.' || a.attname
        || ' #' || row_number() over (partition by c.oid order by a.attnum)
        || ' ' || format_type(a.atttypid, a.atttypmod)
        || case when a.attnotnull then ' not null' else ' null' end
        || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
        || coalesce(' collate ' || nullif(co.collname, 'default'), '')
      from pg_attribute a
      join pg_class c on c.oid = a.attrelid
      join pg_namespace n on n.oid = c.relnamespace
      left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
      left join pg_collation co on co.oid = a.attcollation
      where n.nspname = 'public' and c.relkind in ('r', 'p', 'v', 'm') and a.attnum > 0 and not a.attisdropped`,
    ],
    [
      'constraint',
      `
      select cl.relname || ' ' || co.conname || ' ' || co.contype::text || ' validated=' || co.convalidated
        || ' ' || pg_get_constraintdef(co.oid)
      from pg_constraint co
      join pg_class cl on cl.oid = co.conrelid
      join pg_namespace n on n.oid = cl.relnamespace
      where n.nspname = 'public'`,
    ],
    [
      'index',
      `
      select pg_get_indexdef(i.indexrelid) || ' valid=' || i.indisvalid || ' ready=' || i.indisready
      from pg_index i
      join pg_class c on c.oid = i.indexrelid
      join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public'`,
    ],
    [
      'trigger',
      `
      select pg_get_triggerdef(t.oid) || ' enabled=' || t.tgenabled::text
      from pg_trigger t
      join pg_class c on c.oid = t.tgrelid
      join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and not t.tgisinternal`,
    ],
    // Functions an extension brings along are covered by the extension line.
    [
      'function',
      `
      select pg_get_functiondef(p.oid)
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public'
        and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')`,
    ],
    [
      'extension',
      `
      select e.extname || ' ' || e.extversion || ' in ' || n.nspname
      from pg_extension e join pg_namespace n on n.oid = e.extnamespace`,
    ],
    [
      'type',
      `
      select t.typname || ' ' || t.typtype::text
      from pg_type t join pg_namespace n on n.oid = t.typnamespace
      where n.nspname = 'public' and t.typtype in ('e', 'd', 'c') and t.typrelid = 0
        and not exists (select 1 from pg_depend d where d.classid = 'pg_type'::regclass and d.objid = t.oid and d.deptype = 'e')`,
    ],
  ];
  const lines: string[] = [];
  for (const [kind, sql] of sections) {
    const rows = await db.query<{ line: string }>(`select line from (${sql}) as s(line)`);
    lines.push(...rows.map((r) => `${kind}: ${r.line}`));
  }
  return lines.sort().join('\n');
}

async function insertUser(db: TestDatabase, externalId: string): Promise<string> {
  const [row] = await db.query<{ id: string }>(`insert into users (external_id, email) values ($1, $1 || '@example.test') returning id`, [
    externalId,
  ]);
  return row.id;
}

async function insertTemplate(db: TestDatabase, owner: string, name: string): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    `insert into experiment_templates (name, category, configuration, created_by, version)
     values ($1, 'classification', $2::jsonb, $3, 2) returning id`,
    [name, JSON.stringify({ dataset: { source: `s3://${name}` }, features: ['a', 'b'], model: { type: 'xgboost' } }), owner],
  );
  return row.id;
}

async function insertVersion(db: TestDatabase, template: string, version: number, by: string): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    `insert into experiment_template_versions (template_id, version, name, category, tags, configuration, created_by, change_note)
     select id, $2::int, name, category, tags, configuration, $3::uuid, 'v' || $2::int from experiment_templates where id = $1
     returning id`,
    [template, version, by],
  );
  return row.id;
}

async function insertShare(db: TestDatabase, template: string, user: string, by: string): Promise<void> {
  await db.query(`insert into experiment_template_shares (template_id, user_id, shared_by) values ($1, $2, $3)`, [template, user, by]);
}

async function insertExperiment(db: TestDatabase, owner: string, template: string | null, name: string): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    `insert into ml_experiments (name, owner_id, template_id, template_version, configuration, configuration_metadata)
     values ($1, $2, $3, case when $3::uuid is null then null else 2 end, $4::jsonb, $5::jsonb) returning id`,
    [
      name,
      owner,
      template,
      JSON.stringify({ dataset: { source: name }, features: ['x'], model: { type: 'rf', depth: 7 } }),
      JSON.stringify({ rows: 1234, analysedBy: 'dataset-service' }),
    ],
  );
  return row.id;
}

async function count(db: TestDatabase, sql: string, params: unknown[] = []): Promise<number> {
  const [row] = await db.query<{ n: string }>(`select count(*)::text as n from (${sql}) s`, params);
  return Number(row.n);
}

describe('migrations', () => {
  it('lists the migrations in order', () => {
    expect(NAMES).toEqual([
      'Migration20261124120000_baseline',
      'Migration20261124120100_templates',
      'Migration20261124120200_experiment_template_link',
      'Migration20261124120300_experiment_indexes',
      'Migration20261124120400_experiment_owner_template_index',
      'Migration20261130120000_template_category_order_index',
      'Migration20261201120000_rate_limit_windows',
      'Migration20261201130000_template_configuration_index',
      'Migration20261205120000_audit_events',
      'Migration20261206120000_experiment_run_times',
      'Migration20261206120100_experiment_status_index',
      'Migration20261206130000_template_usage_daily',
      'Migration20261206130100_template_trending_index',
      'Migration20261206140000_configuration_schema_versions',
      'Migration20261206150000_template_configuration_path_indexes',
      'Migration20261207120000_teams',
      'Migration20261207130000_template_pending_shares',
      'Migration20261207130100_user_email_index',
      'Migration20261208120000_drop_template_wizard_paths_order_index',
    ]);
  });

  it('apply forward from an empty database', async () => {
    await scenario(null, async ({ db, migrator }) => {
      const applied = await migrator.up();
      expect(applied.map((m) => m.name)).toEqual(NAMES);
      expect(await executedNames(db)).toEqual(NAMES);
      expect(await migrator.getPendingMigrations()).toEqual([]);
      expect(await publicTables(db)).toEqual([
        'audit_events',
        'experiment_template_shares',
        'experiment_template_team_shares',
        'experiment_template_versions',
        'experiment_templates',
        'mikro_orm_migrations',
        'ml_experiments',
        'rate_limit_windows',
        'team_members',
        'teams',
        'template_pending_shares',
        'template_trending_window',
        'template_usage_daily',
        'users',
      ]);
      const indexes = await db.query<{ indexname: string }>(
        `select indexname from pg_indexes where schemaname = 'public' and tablename = 'ml_experiments' order by 1`,
      );
      expect(indexes.map((r) => r.indexname)).toEqual([
        'ml_experiments_in_progress_index',
        'ml_experiments_owner_id_created_at_index',
        'ml_experiments_owner_id_template_id_created_at_index',
        'ml_experiments_owner_id_wizard_completed_index',
        'ml_experiments_pkey',
        'ml_experiments_template_id_created_at_index',
      ]);
      expect(await invalidIndexes(db)).toEqual([]);
      const [ext] = await db.query(`select count(*)::int as n from pg_extension where extname = 'pg_trgm'`);
      expect(ext.n).toBe(1);
      // Containment filters on configurations: GIN with the operator class that serves only `@>`, and is smaller for it.
      const [configurationIndex] = await db.query(
        `select indexdef from pg_indexes where indexname = 'experiment_templates_configuration_index'`,
      );
      expect(configurationIndex.indexdef).toBe(
        'CREATE INDEX experiment_templates_configuration_index ON public.experiment_templates USING gin (configuration jsonb_path_ops)',
      );
      // The experiments services work through, and only those: a small index however many runs have ended.
      const [inProgressIndex] = await db.query(`select indexdef from pg_indexes where indexname = 'ml_experiments_in_progress_index'`);
      expect(inProgressIndex.indexdef).toBe(
        'CREATE INDEX ml_experiments_in_progress_index ON public.ml_experiments USING btree (status, created_at, id) ' +
          "WHERE ((status)::text = ANY ((ARRAY['queued'::character varying, 'running'::character varying])::text[]))",
      );
      // Rate limit counts are written to no WAL.
      const [windows] = await db.query(`select relpersistence from pg_class where oid = 'rate_limit_windows'::regclass`);
      expect(windows.relpersistence).toBe('u');
    });
  });

  it('count the usage of existing experiments per UTC day and over the last 7 UTC days, batch by batch', async () => {
    const USAGE_DAILY = 'Migration20261206130000_template_usage_daily';
    await scenario(NAMES[NAMES.indexOf(USAGE_DAILY) - 1], async ({ db, migrator }) => {
      const owner = await insertUser(db, 'usage-owner');
      // Ids in the first, a middle and the last of the backfill's batches.
      const [first, middle, last] = ['00', '7f', 'ff'].map((prefix) => `${prefix}${'0'.repeat(6)}-0000-4000-8000-000000000001`);
      for (const id of [first, middle, last]) {
        await db.query(
          `insert into experiment_templates (id, name, category, configuration, created_by) values ($1::uuid, $1::text, 'classification', '{}', $2)`,
          [id, owner],
        );
      }
      const experiment = async (template: string, createdAt: string, times = 1) => {
        for (let i = 0; i < times; i += 1) {
          await db.query(`insert into ml_experiments (name, owner_id, template_id, created_at) values ('e', $1, $2, $3::timestamptz)`, [
            owner,
            template,
            createdAt,
          ]);
        }
      };
      await experiment(first, '2026-01-31 23:59:59.999+00', 2);
      // 01:30 in UTC+2 is still January 31st in UTC.
      await experiment(first, '2026-02-01 01:30:00+02');
      await experiment(first, '2026-02-01 00:00:00+00');
      await experiment(middle, '2025-12-31 12:00:00+00', 3);
      await db.query(`insert into ml_experiments (name, owner_id, created_at) values ('from scratch', $1, now())`, [owner]);
      // The last 7 UTC days, today included: six days ago counts, seven days ago does not.
      await experiment(last, `${new Date().toISOString()}`, 2);
      await experiment(last, `${new Date(Date.now() - 6 * 86_400_000).toISOString()}`);
      await experiment(last, `${new Date(Date.now() - 7 * 86_400_000).toISOString()}`, 4);

      await migrator.up();
      expect(await executedNames(db)).toEqual(NAMES);

      const daily = await db.query<{ template_id: string; day: string; experiments: number }>(
        `select template_id, day::text, experiments from template_usage_daily where template_id <> $1 order by template_id, day`,
        [last],
      );
      expect(daily).toEqual([
        { template_id: first, day: '2026-01-31', experiments: 3 },
        { template_id: first, day: '2026-02-01', experiments: 1 },
        { template_id: middle, day: '2025-12-31', experiments: 3 },
      ]);
      const [{ lastTotal }] = await db.query(
        `select sum(experiments)::int as "lastTotal" from template_usage_daily where template_id = $1`,
        [last],
      );
      expect(lastTotal).toBe(7);
      const trending = await db.query<{ id: string; trending_count: number }>(
        `select id, trending_count from experiment_templates order by id`,
      );
      expect(trending).toEqual([
        { id: first, trending_count: 0 },
        { id: middle, trending_count: 0 },
        { id: last, trending_count: 3 },
      ]);
      const [window] = await db.query(`select starts_on = (now() at time zone 'utc')::date - 6 as current from template_trending_window`);
      expect(window.current).toBe(true);

      // Rolled back and applied again (a run cut short is run again the same way): the same counts.
      await migrator.down({ to: NAMES[NAMES.indexOf(USAGE_DAILY) - 1] });
      expect(await publicTables(db)).not.toContain('template_usage_daily');
      await migrator.up();
      expect(
        await db.query(`select template_id, day::text, experiments from template_usage_daily where template_id <> $1 order by 1, 2`, [
          last,
        ]),
      ).toEqual(daily);
      expect(await db.query(`select id, trending_count from experiment_templates order by id`)).toEqual(trending);
    });
  });

  it('extend 10,000 existing experiments without touching a value or rewriting the table', async () => {
    await scenario(BASELINE, async ({ db, migrator }) => {
      expect(await executedNames(db)).toEqual([BASELINE]);
      const owner = await insertUser(db, 'legacy-owner');
      await db.query(
        `insert into ml_experiments (name, description, status, configuration, owner_id, created_at, updated_at)
         select 'experiment ' || g,
                case when g % 7 = 0 then null when g % 11 = 0 then '' else 'description of ' || g || ' with ''quotes'' and ünïcode' end,
                (array['draft', 'running', 'completed', 'failed'])[1 + g % 4],
                case when g % 13 = 0 then '{}'::jsonb
                     else jsonb_build_object('dataset', jsonb_build_object('rows', g * 10), 'features', jsonb_build_array('f' || g % 5, 'g'),
                                             'model', jsonb_build_object('type', (array['rf', 'xgb', 'lr'])[1 + g % 3], 'lr', g / 1000.0)) end,
                $1,
                timestamptz '2024-01-01 00:00:00+00' + g * interval '37 minutes',
                timestamptz '2024-01-01 00:00:00+00' + g * interval '37 minutes' + (g % 50) * interval '1 second'
         from generate_series(1, 10000) g`,
        [owner],
      );
      const oldColumns = `id, name, description, status, configuration, owner_id, created_at, updated_at`;
      const checksumSql = `select count(*)::int as n, md5(string_agg(row(${oldColumns})::text, E'\\n' order by id)) as sum,
                                  count(*) filter (where description is null)::int as null_descriptions
                           from ml_experiments`;
      const relfilenodeSql = `select relfilenode::text as node from pg_class where oid = 'ml_experiments'::regclass`;
      const [before] = await db.query(checksumSql);
      const [nodeBefore] = await db.query(relfilenodeSql);
      expect(before.n).toBe(10_000);
      expect(before.null_descriptions).toBeGreaterThan(1000);

      await migrator.up();
      expect(await executedNames(db)).toEqual(NAMES);

      const [after] = await db.query(checksumSql);
      expect(after).toEqual(before);
      const [nodeAfter] = await db.query(relfilenodeSql);
      expect(nodeAfter.node).toBe(nodeBefore.node);

      const [defaults] = await db.query(`
        select count(*)::int as total,
          count(*) filter (where template_id is null and template_version is null
            and configuration_metadata = '{}'::jsonb and dataset_statistics = '{}'::jsonb
            and feature_importance = '{}'::jsonb and model_recommendations = '{}'::jsonb
            and resource_requirements = '{}'::jsonb
            and wizard_completed = false and wizard_step_completed = 0 and wizard_state is null
            and estimated_training_time is null and actual_training_time is null
            and started_at is null and finished_at is null)::int as with_defaults
        from ml_experiments`);
      expect(defaults).toEqual({ total: 10_000, with_defaults: 10_000 });

      const columns = await db.query<{ column_name: string }>(
        `select column_name from information_schema.columns where table_schema = 'public' and table_name = 'ml_experiments'`,
      );
      expect(columns.map((c) => c.column_name)).toEqual(expect.arrayContaining(NEW_EXPERIMENT_COLUMNS));

      const fks = await db.query(`
        select convalidated, confdeltype, confrelid::regclass::text as target, pg_get_constraintdef(oid) as def
        from pg_constraint where conname = 'ml_experiments_template_id_foreign' and conrelid = 'ml_experiments'::regclass`);
      expect(fks).toEqual([expect.objectContaining({ convalidated: true, confdeltype: 'n', target: 'experiment_templates' })]);
      const notValidated = await db.query(
        `select conname from pg_constraint where conrelid = 'ml_experiments'::regclass and not convalidated`,
      );
      expect(notValidated).toEqual([]);
      expect(await invalidIndexes(db)).toEqual([]);
    });
  });

  it('go up, down and up again to the same schema, all at once and one step at a time', async () => {
    await scenario(null, async ({ db, migrator }) => {
      await migrator.getPendingMigrations(); // creates mikro_orm_migrations
      // dumps[k] is the schema with the first k migrations applied
      const dumps: string[] = [await dumpSchema(db)];
      for (const name of NAMES) {
        await migrator.up({ to: name });
        dumps.push(await dumpSchema(db));
      }
      const full = dumps[NAMES.length];
      expect(full).toContain('ml_experiments_template_id_foreign f validated=true');
      expect(full).toContain('experiment_template_versions_no_update');
      expect(full).toContain('audit_events_no_change');
      expect(full).toContain('audit_events_no_truncate');
      expect(full).toContain('extension: pg_trgm');
      // every migration changes something
      for (let k = 1; k < dumps.length; k++) expect(dumps[k]).not.toBe(dumps[k - 1]);

      const reverted = await migrator.down({ to: 0 });
      expect(reverted.map((m) => m.name)).toEqual([...NAMES].reverse());
      expect(await publicTables(db)).toEqual(['mikro_orm_migrations']);
      expect(await executedNames(db)).toEqual([]);
      expect(await db.query(`select extname from pg_extension where extname = 'pg_trgm'`)).toEqual([]);
      expect(await dumpSchema(db)).toBe(dumps[0]);

      await migrator.up();
      expect(await executedNames(db)).toEqual(NAMES);
      expect(await dumpSchema(db)).toBe(full);

      // Each migration on its own: from the top, revert one step and re-apply it, then step down to the next one.
      for (let k = NAMES.length; k >= 1; k--) {
        const [down] = await migrator.down();
        expect(down.name).toBe(NAMES[k - 1]);
        expect(await dumpSchema(db)).toBe(dumps[k - 1]);
        const [up] = await migrator.up({ migrations: [NAMES[k - 1]] });
        expect(up.name).toBe(NAMES[k - 1]);
        expect(await dumpSchema(db)).toBe(dumps[k]);
        await migrator.down();
        expect(await executedNames(db)).toEqual(NAMES.slice(0, k - 1));
      }
      expect(await publicTables(db)).toEqual(['mikro_orm_migrations']);
      await migrator.up();
      expect(await dumpSchema(db)).toBe(full);
      expect(await invalidIndexes(db)).toEqual([]);
    });
  });

  it('hard-delete a template: experiments keep their content and lose the link; versions and shares go', async () => {
    await scenario(INDEXES, async ({ db }) => {
      const owner = await insertUser(db, 'owner');
      const friend = await insertUser(db, 'friend');
      const template = await insertTemplate(db, owner, 'churn');
      const other = await insertTemplate(db, owner, 'other');
      await insertVersion(db, template, 1, owner);
      await insertVersion(db, template, 2, owner);
      await insertVersion(db, other, 1, owner);
      await insertShare(db, template, friend, owner);
      await insertShare(db, other, friend, owner);
      const experiments = [
        await insertExperiment(db, owner, template, 'e1'),
        await insertExperiment(db, owner, template, 'e2'),
        await insertExperiment(db, friend, template, 'e3'),
      ];
      const untouched = await insertExperiment(db, owner, other, 'e4');
      const snapshot = (ids: string[]) =>
        db.query(
          `select id, name, owner_id, configuration, template_version, configuration_metadata
           from ml_experiments where id = any($1::uuid[]) order by name`,
          [ids],
        );
      const before = await snapshot(experiments);

      await db.query(`delete from experiment_templates where id = $1`, [template]);

      expect(await snapshot(experiments)).toEqual(before);
      expect(before.map((e) => e.template_version)).toEqual([2, 2, 2]);
      expect(before[0].configuration).toEqual({ dataset: { source: 'e1' }, features: ['x'], model: { type: 'rf', depth: 7 } });
      expect(await count(db, `select 1 from ml_experiments where id = any($1::uuid[]) and template_id is null`, [experiments])).toBe(3);
      expect(await count(db, `select 1 from experiment_template_versions where template_id = $1`, [template])).toBe(0);
      expect(await count(db, `select 1 from experiment_template_shares where template_id = $1`, [template])).toBe(0);
      // nothing else moved
      expect(await count(db, `select 1 from ml_experiments where id = $1 and template_id = $2`, [untouched, other])).toBe(1);
      expect(await count(db, `select 1 from experiment_template_versions where template_id = $1`, [other])).toBe(1);
      expect(await count(db, `select 1 from experiment_template_shares where template_id = $1`, [other])).toBe(1);
      expect(await count(db, `select 1 from users`)).toBe(2);
    });
  });

  describe('deleting a user', () => {
    /** A owns two templates (with versions A wrote) and experiments; B has a share on one and an experiment from it. */
    async function seed(db: TestDatabase) {
      const a = await insertUser(db, 'user-a');
      const b = await insertUser(db, 'user-b');
      const t1 = await insertTemplate(db, a, 'a-one');
      const t2 = await insertTemplate(db, a, 'a-two');
      await insertVersion(db, t1, 1, a);
      await insertVersion(db, t1, 2, a);
      await insertVersion(db, t2, 1, a);
      await insertShare(db, t1, b, a);
      const aExperiments = [await insertExperiment(db, a, t1, 'a-e1'), await insertExperiment(db, a, t2, 'a-e2')];
      const bExperiment = await insertExperiment(db, b, t1, 'b-e1');
      return { a, b, t1, t2, aExperiments, bExperiment };
    }

    it('removes their templates, versions, shares and experiments; others keep theirs, unlinked', async () => {
      await scenario(INDEXES, async ({ db }) => {
        const { a, b, t1, t2, aExperiments, bExperiment } = await seed(db);

        await db.query(`delete from users where id = $1`, [a]);

        expect(await count(db, `select 1 from users where id = $1`, [b])).toBe(1);
        expect(await count(db, `select 1 from experiment_templates`)).toBe(0);
        expect(await count(db, `select 1 from experiment_template_versions where template_id in ($1, $2)`, [t1, t2])).toBe(0);
        expect(await count(db, `select 1 from experiment_template_shares`)).toBe(0);
        expect(await count(db, `select 1 from ml_experiments where id = any($1::uuid[])`, [aExperiments])).toBe(0);
        const [kept] = await db.query(`select owner_id, template_id, template_version, configuration from ml_experiments where id = $1`, [
          bExperiment,
        ]);
        expect(kept).toEqual({
          owner_id: b,
          template_id: null,
          template_version: 2,
          configuration: { dataset: { source: 'b-e1' }, features: ['x'], model: { type: 'rf', depth: 7 } },
        });
      });
    });

    it("cascades A's templates, shares and experiments when A wrote no version row", async () => {
      await scenario(INDEXES, async ({ db }) => {
        const a = await insertUser(db, 'user-a');
        const b = await insertUser(db, 'user-b');
        const t1 = await insertTemplate(db, a, 'a-one');
        await insertTemplate(db, a, 'a-two');
        await insertShare(db, t1, b, a);
        const aExperiment = await insertExperiment(db, a, t1, 'a-e1');
        const bExperiment = await insertExperiment(db, b, t1, 'b-e1');

        await db.query(`delete from users where id = $1`, [a]);

        expect(await count(db, `select 1 from users where id = $1`, [b])).toBe(1);
        expect(await count(db, `select 1 from experiment_templates`)).toBe(0);
        expect(await count(db, `select 1 from experiment_template_shares`)).toBe(0);
        expect(await count(db, `select 1 from ml_experiments where id = $1`, [aExperiment])).toBe(0);
        const [kept] = await db.query(`select owner_id, template_id, template_version from ml_experiments where id = $1`, [bExperiment]);
        expect(kept).toEqual({ owner_id: b, template_id: null, template_version: 2 });
      });
    });

    it('keeps a version whose author is deleted, with its content and a null author', async () => {
      await scenario(INDEXES, async ({ db }) => {
        const owner = await insertUser(db, 'owner');
        const author = await insertUser(db, 'author');
        const template = await insertTemplate(db, owner, 'kept');
        const version = await insertVersion(db, template, 1, author);
        const [before] = await db.query(`select to_jsonb(v) - 'created_by' as content from experiment_template_versions v where id = $1`, [
          version,
        ]);

        await db.query(`delete from users where id = $1`, [author]);

        const [after] = await db.query(
          `select created_by, to_jsonb(v) - 'created_by' as content from experiment_template_versions v where id = $1`,
          [version],
        );
        expect(after).toEqual({ created_by: null, content: before.content });
      });
    });

    it('removes the share rows of a user a template was shared with, not the template', async () => {
      await scenario(INDEXES, async ({ db }) => {
        const { a, b, t1, t2, aExperiments, bExperiment } = await seed(db);
        const c = await insertUser(db, 'user-c');
        await insertShare(db, t1, c, a);

        await db.query(`delete from users where id = $1`, [b]);

        expect(await count(db, `select 1 from users where id = any($1::uuid[])`, [[a, c]])).toBe(2);
        expect(await count(db, `select 1 from experiment_templates where id in ($1, $2) and created_by = $3`, [t1, t2, a])).toBe(2);
        expect(await count(db, `select 1 from experiment_template_versions`)).toBe(3);
        const shares = await db.query(`select template_id, user_id from experiment_template_shares`);
        expect(shares).toEqual([{ template_id: t1, user_id: c }]);
        expect(await count(db, `select 1 from ml_experiments where id = $1`, [bExperiment])).toBe(0);
        expect(await count(db, `select 1 from ml_experiments where id = any($1::uuid[]) and template_id is not null`, [aExperiments])).toBe(
          2,
        );
      });
    });
  });

  it('keep version rows immutable: no update, but they go with their template', async () => {
    await scenario(INDEXES, async ({ db }) => {
      const owner = await insertUser(db, 'owner');
      const template = await insertTemplate(db, owner, 'immutable');
      const version = await insertVersion(db, template, 1, owner);

      for (const sql of [
        `update experiment_template_versions set change_note = 'rewritten' where id = $1`,
        `update experiment_template_versions set configuration = '{}'::jsonb where id = $1`,
        `update experiment_template_versions set version = version where id = $1`,
      ]) {
        await expect(db.query(sql, [version])).rejects.toMatchObject({
          code: '23001',
          message: 'experiment_template_versions rows are immutable',
        });
      }
      const [row] = await db.query(`select change_note, configuration from experiment_template_versions where id = $1`, [version]);
      expect(row.change_note).toBe('v1');
      expect(row.configuration).toEqual({ dataset: { source: 's3://immutable' }, features: ['a', 'b'], model: { type: 'xgboost' } });

      await db.query(`delete from experiment_templates where id = $1`, [template]);
      expect(await count(db, `select 1 from experiment_template_versions`)).toBe(0);
    });
  });

  describe('audit events', () => {
    const AUDIT = 'Migration20261205120000_audit_events';
    const BEFORE_AUDIT = NAMES[NAMES.indexOf(AUDIT) - 1];

    async function insertEvent(db: TestDatabase, subject: string, actor: string, action = 'template.created'): Promise<string> {
      const [row] = await db.query<{ id: string }>(
        `insert into audit_events (request_id, actor_id, actor_kind, action, subject_type, subject_id, details)
         values (gen_random_uuid(), $1, 'user', $2, split_part($2, '.', 1), $3, '{"name": "kept"}') returning id`,
        [actor, action, subject],
      );
      return row.id;
    }

    it('arrive over existing templates, shares, versions and experiments without touching them', async () => {
      await scenario(BEFORE_AUDIT, async ({ db, migrator }) => {
        const owner = await insertUser(db, 'owner');
        const friend = await insertUser(db, 'friend');
        const template = await insertTemplate(db, owner, 'existing');
        await insertVersion(db, template, 1, owner);
        await insertVersion(db, template, 2, owner);
        await insertShare(db, template, friend, owner);
        await insertExperiment(db, friend, template, 'existing-experiment');
        const everything = `select
            (select jsonb_agg(t order by t.id) from experiment_templates t) as templates,
            (select jsonb_agg(v order by v.id) from experiment_template_versions v) as versions,
            (select jsonb_agg(s order by s.user_id) from experiment_template_shares s) as shares,
            (select jsonb_agg(e order by e.id) from ml_experiments e) as experiments,
            (select jsonb_agg(u order by u.id) from users u) as users`;
        const [before] = await db.query(everything);

        // Up to the audit trail itself: later migrations add columns of their own.
        await migrator.up({ to: AUDIT });

        expect(await executedNames(db)).toEqual(NAMES.slice(0, NAMES.indexOf(AUDIT) + 1));
        expect(await db.query(everything)).toEqual([before]);
        // The trail starts with the migration: history from before it is in the versions, not invented as events.
        expect(await count(db, `select 1 from audit_events`)).toBe(0);
        const indexes = await db.query<{ indexdef: string }>(
          `select indexdef from pg_indexes where tablename = 'audit_events' order by indexname`,
        );
        expect(indexes.map((r) => r.indexdef)).toEqual([
          'CREATE INDEX audit_events_actor_id_occurred_at_index ON public.audit_events USING btree (actor_id, occurred_at DESC, id DESC)',
          'CREATE INDEX audit_events_occurred_at_index ON public.audit_events USING btree (occurred_at DESC, id DESC)',
          'CREATE UNIQUE INDEX audit_events_pkey ON public.audit_events USING btree (id)',
          'CREATE INDEX audit_events_subject_id_occurred_at_index ON public.audit_events USING btree (subject_id, occurred_at DESC, id DESC)',
        ]);
        // No foreign key: nothing deleted elsewhere can reach an event.
        expect(await db.query(`select conname from pg_constraint where conrelid = 'audit_events'::regclass and contype = 'f'`)).toEqual([]);
      });
    });

    it('refuse every update, delete and truncate, and stay when their template, its owner and the actor go', async () => {
      await scenario(null, async ({ db, migrator }) => {
        await migrator.up();
        const owner = await insertUser(db, 'owner');
        const template = await insertTemplate(db, owner, 'audited');
        await insertVersion(db, template, 1, owner);
        const event = await insertEvent(db, template, owner);
        const [before] = await db.query(`select to_jsonb(e) as row from audit_events e where id = $1`, [event]);

        for (const sql of [
          `update audit_events set details = '{}'::jsonb where id = $1`,
          `update audit_events set action = action where id = $1`,
          `delete from audit_events where id = $1`,
        ]) {
          await expect(db.query(sql, [event])).rejects.toMatchObject({ code: '23001', message: 'audit_events rows are immutable' });
        }
        await expect(db.query(`truncate audit_events`)).rejects.toMatchObject({
          code: '23001',
          message: 'audit_events rows are immutable',
        });

        await db.query(`delete from experiment_templates where id = $1`, [template]);
        await db.query(`delete from users where id = $1`, [owner]);

        expect(await count(db, `select 1 from experiment_template_versions where template_id = $1`, [template])).toBe(0);
        expect(await db.query(`select to_jsonb(e) as row from audit_events e where id = $1`, [event])).toEqual([before]);
        expect(before.row).toMatchObject({ subject_id: template, actor_id: owner, subject_type: 'template', details: { name: 'kept' } });
      });
    });

    it('take actions of any name of the shape subject.action, and refuse others', async () => {
      await scenario(null, async ({ db, migrator }) => {
        await migrator.up();
        const owner = await insertUser(db, 'owner');
        await insertEvent(db, owner, owner, 'team.member_added');
        for (const action of ['created', 'Template.created', 'template.', 'template.created; drop table users']) {
          await expect(insertEvent(db, owner, owner, action)).rejects.toMatchObject({ code: '23514' });
        }
        await expect(
          db.query(
            `insert into audit_events (request_id, actor_id, actor_kind, action, subject_type, subject_id)
             values (gen_random_uuid(), $1, 'root', 'template.created', 'template', $1)`,
            [owner],
          ),
        ).rejects.toMatchObject({ code: '23514' });
      });
    });
  });

  describe('teams', () => {
    const TEAMS = 'Migration20261207120000_teams';
    const BEFORE_TEAMS = NAMES[NAMES.indexOf(TEAMS) - 1];

    it('arrive over existing users, templates, shares and events without touching them', async () => {
      await scenario(BEFORE_TEAMS, async ({ db, migrator }) => {
        const owner = await insertUser(db, 'owner');
        const friend = await insertUser(db, 'friend');
        const template = await insertTemplate(db, owner, 'existing');
        await insertVersion(db, template, 1, owner);
        await insertShare(db, template, friend, owner);
        await insertExperiment(db, friend, template, 'existing-experiment');
        const everything = `select
            (select jsonb_agg(t order by t.id) from experiment_templates t) as templates,
            (select jsonb_agg(s order by s.user_id) from experiment_template_shares s) as shares,
            (select jsonb_agg(e order by e.id) from ml_experiments e) as experiments,
            (select jsonb_agg(u order by u.id) from users u) as users`;
        const [before] = await db.query(everything);

        await migrator.up({ to: TEAMS });

        expect(await db.query(everything)).toEqual([before]);
        for (const table of ['teams', 'team_members', 'experiment_template_team_shares']) {
          expect(await count(db, `select 1 from ${table}`)).toBe(0);
        }
        const indexes = await db.query<{ indexdef: string }>(
          `select indexdef from pg_indexes where tablename in ('teams', 'team_members', 'experiment_template_team_shares') order by indexname`,
        );
        expect(indexes.map((r) => r.indexdef)).toEqual([
          'CREATE UNIQUE INDEX experiment_template_team_shares_pkey ON public.experiment_template_team_shares USING btree (template_id, team_id)',
          'CREATE INDEX experiment_template_team_shares_team_id_index ON public.experiment_template_team_shares USING btree (team_id, template_id)',
          'CREATE UNIQUE INDEX team_members_pkey ON public.team_members USING btree (team_id, user_id)',
          'CREATE INDEX team_members_user_id_index ON public.team_members USING btree (user_id, team_id)',
          'CREATE UNIQUE INDEX teams_external_id_unique ON public.teams USING btree (external_id)',
          'CREATE UNIQUE INDEX teams_pkey ON public.teams USING btree (id)',
        ]);
      });
    });

    it('hold roles to member and maintainer, one external id per team, and go with their team, user and template', async () => {
      await scenario(null, async ({ db, migrator }) => {
        await migrator.up();
        const owner = await insertUser(db, 'owner');
        const member = await insertUser(db, 'member');
        const template = await insertTemplate(db, owner, 'shared with a team');
        const [team] = await db.query<{ id: string }>(
          `insert into teams (name, created_by, external_id) values ('T', $1, 'grp') returning id`,
          [owner],
        );
        await db.query(`insert into team_members (team_id, user_id, role) values ($1, $2, 'maintainer'), ($1, $3, 'member')`, [
          team.id,
          owner,
          member,
        ]);
        await db.query(`insert into experiment_template_team_shares (template_id, team_id, shared_by) values ($1, $2, $3)`, [
          template,
          team.id,
          owner,
        ]);
        await expect(db.query(`update team_members set role = 'owner' where user_id = $1`, [member])).rejects.toMatchObject({
          code: '23514',
        });
        await expect(db.query(`insert into teams (name, external_id) values ('U', 'grp')`)).rejects.toMatchObject({ code: '23505' });
        await expect(db.query(`insert into teams (name) values ('  ')`)).rejects.toMatchObject({ code: '23514' });

        // A member's deletion takes their membership; a template's its team shares; the creator's leaves the team.
        await db.query(`delete from users where id = $1`, [member]);
        expect(await count(db, `select 1 from team_members where team_id = $1`, [team.id])).toBe(1);
        await db.query(`delete from experiment_templates where id = $1`, [template]);
        expect(await count(db, `select 1 from experiment_template_team_shares`)).toBe(0);
        await db.query(`delete from users where id = $1`, [owner]);
        expect(await db.query(`select created_by from teams where id = $1`, [team.id])).toEqual([{ created_by: null }]);
        await db.query(`delete from teams where id = $1`, [team.id]);
        expect(await count(db, `select 1 from team_members`)).toBe(0);
      });
    });
  });

  describe('configuration schema versions', () => {
    const SCHEMA_VERSIONS = 'Migration20261206140000_configuration_schema_versions';
    const BEFORE_SCHEMA_VERSIONS = NAMES[NAMES.indexOf(SCHEMA_VERSIONS) - 1];
    const TABLES = ['experiment_templates', 'experiment_template_versions'];

    it('arrive over existing templates and versions as version 1 without rewriting either table; rows written later default to 2', async () => {
      await scenario(BEFORE_SCHEMA_VERSIONS, async ({ db, migrator }) => {
        const owner = await insertUser(db, 'owner');
        const template = await insertTemplate(db, owner, 'existing');
        await insertVersion(db, template, 1, owner);
        await insertVersion(db, template, 2, owner);
        const rows = `select
            (select jsonb_agg(to_jsonb(t) - 'configuration_schema_version' order by t.id) from experiment_templates t) as templates,
            (select jsonb_agg(to_jsonb(v) - 'configuration_schema_version' order by v.id) from experiment_template_versions v) as versions`;
        const files = `select relname, relfilenode from pg_class where relname = any($1::text[]) order by relname`;
        const [before] = await db.query(rows);
        const filesBefore = await db.query(files, [TABLES]);

        await migrator.up();

        expect(await executedNames(db)).toEqual(NAMES);
        expect(await db.query(rows)).toEqual([before]);
        // The same files: the columns arrived in the catalog, no row was rewritten.
        expect(await db.query(files, [TABLES])).toEqual(filesBefore);
        for (const table of TABLES) {
          expect(await db.query(`select distinct configuration_schema_version as v from ${table}`)).toEqual([{ v: 1 }]);
        }
        const later = await insertTemplate(db, owner, 'later');
        const [row] = await db.query(`select configuration_schema_version as v from experiment_templates where id = $1`, [later]);
        expect(row).toEqual({ v: 2 });
      });
    });
  });

  it('index the wizard’s configuration paths over existing templates, with statistics of their values at once', async () => {
    const PATH_INDEXES = 'Migration20261206150000_template_configuration_path_indexes';
    await scenario(NAMES[NAMES.indexOf(PATH_INDEXES) - 1], async ({ db, migrator }) => {
      const owner = await insertUser(db, 'owner');
      for (const name of ['one', 'two', 'three']) await insertTemplate(db, owner, name);
      const templates = `select jsonb_agg(t order by t.id) as templates from experiment_templates t`;
      const [before] = await db.query(templates);

      await migrator.up();

      expect(await executedNames(db)).toEqual(NAMES);
      expect(await db.query(templates)).toEqual([before]);
      expect(await invalidIndexes(db)).toEqual([]);
      // ANALYZE gathered the values at each path (from each index's expressions), without waiting for autovacuum.
      const statistics = await db.query<{ index: string; values: string }>(
        `select tablename as index, most_common_vals::text as values from pg_stats
         where tablename like 'experiment_templates_%' and attname = 'expr' order by 1`,
      );
      expect(statistics).toEqual(expect.arrayContaining([{ index: 'experiment_templates_model_type_index', values: '{"\\"xgboost\\""}' }]));
    });
  });

  it('drop the index of the update order with the wizard’s values, which going down builds again, valid', async () => {
    const DROP = 'Migration20261208120000_drop_template_wizard_paths_order_index';
    const INDEX = 'experiment_templates_updated_at_wizard_paths_index';
    const present = async (db: TestDatabase) =>
      db.query<{ valid: boolean }>(
        `select i.indisvalid as valid from pg_index i join pg_class c on c.oid = i.indexrelid where c.relname = $1`,
        [INDEX],
      );
    await scenario(NAMES[NAMES.indexOf(DROP) - 1], async ({ db, migrator }) => {
      const owner = await insertUser(db, 'owner');
      for (const name of ['one', 'two']) await insertTemplate(db, owner, name);
      expect(await present(db)).toEqual([{ valid: true }]);
      await migrator.up();
      expect(await executedNames(db)).toEqual(NAMES);
      expect(await present(db)).toEqual([]);
      await migrator.down({ to: NAMES[NAMES.indexOf(DROP) - 1] });
      expect(await present(db)).toEqual([{ valid: true }]);
    });
  });

  describe('experiment run times', () => {
    const RUN_TIMES = 'Migration20261206120000_experiment_run_times';
    const BEFORE_RUN_TIMES = NAMES[NAMES.indexOf(RUN_TIMES) - 1];

    it('arrive over existing experiments, older statuses included, without touching a value or rewriting the table', async () => {
      await scenario(BEFORE_RUN_TIMES, async ({ db, migrator }) => {
        const owner = await insertUser(db, 'owner');
        for (const name of ['queued-one', 'archived-one', 'running-one']) await insertExperiment(db, owner, null, name);
        await db.query(`update ml_experiments set status = split_part(name, '-', 1)`);
        const everything = `select jsonb_agg(e order by e.id) as experiments from ml_experiments e`;
        const relfilenodeSql = `select relfilenode::text as node from pg_class where oid = 'ml_experiments'::regclass`;
        const [before] = await db.query(everything);
        const [nodeBefore] = await db.query(relfilenodeSql);

        await migrator.up();

        expect(await executedNames(db)).toEqual(NAMES);
        const [after] = await db.query<{ experiments: Array<Record<string, unknown>> }>(everything);
        expect(after.experiments).toEqual(before.experiments.map((row: object) => ({ ...row, started_at: null, finished_at: null })));
        expect((await db.query(relfilenodeSql))[0].node).toBe(nodeBefore.node);
        const columns = await db.query(
          `select column_name, data_type, is_nullable, column_default from information_schema.columns
           where table_name = 'ml_experiments' and column_name in ('started_at', 'finished_at') order by column_name`,
        );
        expect(columns).toEqual([
          { column_name: 'finished_at', data_type: 'timestamp with time zone', is_nullable: 'YES', column_default: null },
          { column_name: 'started_at', data_type: 'timestamp with time zone', is_nullable: 'YES', column_default: null },
        ]);
        expect(await invalidIndexes(db)).toEqual([]);
      });
    });
  });

  describe('pending shares and users by email', () => {
    const PENDING = 'Migration20261207130000_template_pending_shares';
    const BEFORE_PENDING = NAMES[NAMES.indexOf(PENDING) - 1];

    it('arrive over existing users, templates and shares without touching them; old rows keep their address as it was', async () => {
      await scenario(BEFORE_PENDING, async ({ db, migrator }) => {
        const owner = await insertUser(db, 'owner');
        // A row from before Tessera lower-cased addresses: found by its address all the same.
        const [legacy] = await db.query<{ id: string }>(
          `insert into users (external_id, email) values ('legacy', 'Legacy.User@Example.TEST') returning id`,
        );
        const template = await insertTemplate(db, owner, 'existing');
        await insertShare(db, template, legacy.id, owner);
        const everything = `select
            (select jsonb_agg(u order by u.id) from users u) as users,
            (select jsonb_agg(t order by t.id) from experiment_templates t) as templates,
            (select jsonb_agg(s order by s.user_id) from experiment_template_shares s) as shares`;
        const [before] = await db.query(everything);

        await migrator.up();
        expect(await executedNames(db)).toEqual(NAMES);

        const [after] = await db.query(everything);
        expect(after.templates).toEqual(before.templates);
        expect(after.shares).toEqual(before.shares);
        // Each user as it was, and the provider's word on its address unknown.
        expect(after.users).toEqual(before.users.map((user: Record<string, unknown>) => ({ ...user, email_verified: null })));
        const [index] = await db.query(`select indexdef from pg_indexes where indexname = 'users_email_index'`);
        expect(index.indexdef).toBe('CREATE INDEX users_email_index ON public.users USING btree (lower(email))');
        expect(await db.query(`select id from users where lower(email) = 'legacy.user@example.test'`)).toEqual([{ id: legacy.id }]);
        expect(await invalidIndexes(db)).toEqual([]);
      });
    });

    it('hold lower-cased addresses, go with their template, and outlive the user who invited', async () => {
      await scenario(null, async ({ db, migrator }) => {
        await migrator.up();
        const owner = await insertUser(db, 'owner');
        const kept = await insertTemplate(db, owner, 'kept');
        const deleted = await insertTemplate(db, owner, 'deleted');
        const invite = (template: string, email: string) =>
          db.query(`insert into template_pending_shares (template_id, email, invited_by) values ($1, $2, $3)`, [template, email, owner]);
        await invite(kept, 'new@example.test');
        await invite(deleted, 'new@example.test');
        for (const email of ['New@example.test', ' new@example.test', 'x']) {
          await expect(invite(kept, email)).rejects.toMatchObject({ code: '23514' });
        }
        await expect(invite(kept, 'new@example.test')).rejects.toMatchObject({ code: '23505' });

        await db.query(`delete from experiment_templates where id = $1`, [deleted]);
        expect(await db.query(`select template_id from template_pending_shares`)).toEqual([{ template_id: kept }]);
        // The owner's templates go with the owner; an inviter may be staff, who outlive nothing of it: set null, as a share's shared_by.
        await db.query(`update template_pending_shares set invited_by = $1`, [await insertUser(db, 'inviter')]);
        await db.query(`delete from users where external_id = 'inviter'`);
        expect(await db.query(`select email, invited_by from template_pending_shares`)).toEqual([
          { email: 'new@example.test', invited_by: null },
        ]);
      });
    });
  });

  it('rebuild an index left INVALID by a failed concurrent build', async () => {
    const INDEX = 'ml_experiments_template_id_created_at_index';
    await scenario(LINK, async ({ db, migrator }) => {
      const owner = await insertUser(db, 'owner');
      await insertExperiment(db, owner, null, 'one');
      await insertExperiment(db, owner, null, 'two');
      // A concurrent build that fails (duplicate key) leaves its index behind, INVALID, under the migration's name.
      await expect(db.query(`create unique index concurrently ${INDEX} on ml_experiments (owner_id)`)).rejects.toMatchObject({
        code: '23505',
      });
      expect(await invalidIndexes(db)).toEqual([INDEX]);

      await migrator.up();

      expect(await executedNames(db)).toEqual(NAMES);
      expect(await invalidIndexes(db)).toEqual([]);
      const [index] = await db.query(`select indexdef from pg_indexes where indexname = $1`, [INDEX]);
      expect(index.indexdef).toBe(
        `CREATE INDEX ${INDEX} ON public.ml_experiments USING btree (template_id, created_at DESC, id DESC) WHERE (template_id IS NOT NULL)`,
      );
    });
  });

  it('fail a migration blocked by a long transaction within lock_timeout, then succeed once it ends', async () => {
    await scenario(
      TEMPLATES,
      async ({ db, migrator }) => {
        const blocker = new Client({ connectionString: db.url });
        await blocker.connect();
        try {
          await blocker.query('begin');
          await blocker.query('select * from ml_experiments limit 1'); // ACCESS SHARE until the transaction ends

          const started = Date.now();
          const error: Error & { cause?: { code?: string; message?: string } } = await rejectionOf(migrator.up({ to: LINK }));
          const elapsed = Date.now() - started;
          expect(error).toBeInstanceOf(Error);
          expect(error.message).toContain(LINK);
          expect(error.cause).toMatchObject({ code: '55P03' });
          expect(error.cause!.message).toMatch(/lock timeout/);
          expect(elapsed).toBeGreaterThanOrEqual(400);
          expect(elapsed).toBeLessThan(5_000);
          expect(await executedNames(db)).toEqual([BASELINE, TEMPLATES]);
          const columns = await db.query(
            `select 1 from information_schema.columns where table_name = 'ml_experiments' and column_name = 'template_id'`,
          );
          expect(columns).toEqual([]);
        } finally {
          await blocker.query('rollback').catch(() => undefined);
          await blocker.end();
        }

        await migrator.up();
        expect(await executedNames(db)).toEqual(NAMES);
        const [fk] = await db.query(`select convalidated from pg_constraint where conname = 'ml_experiments_template_id_foreign'`);
        expect(fk.convalidated).toBe(true);
      },
      { lockTimeoutMs: 500 },
    );
  });
});
