import type { Client } from 'pg';
import { recreateDatabase, withClient } from './cluster';
import { experimentsSql, generateUsersAndTemplates, ranges, reusable, runParallel, StepTimer, UUID_HALVES, writeMeta } from './generate';
import type { Mode, Scale } from './options';

/** Raised whenever the scaling data set changes shape, so `--reuse` never measures a stale one. */
const SCALING_GENERATOR_VERSION = 1;

/** Ten times the experiments of the main data set, over the same users and templates. */
export const SCALING_SCALES: Record<Mode, Scale> = {
  full: { users: 10_000, templates: 100_000, experiments: 10_000_000 },
  quick: { users: 100, templates: 1_000, experiments: 100_000 },
};

/** The first tenth of the experiments carry the main data set's documents (a few KB); the rest small ones. */
const FULL_DOCUMENTS_SHARE = 0.1;

/** ml_experiments copied into monthly range partitions of created_at. */
export const MONTHLY = 'ml_experiments_monthly';
/** Experiments created per template per day (UTC), as a usage table would keep them. */
export const USAGE_TABLE = 'template_usage_daily';
/** experiment_templates copied into hash partitions of id: one partition stands for one Citus shard. */
export const SHARDED_TEMPLATES = 'experiment_templates_by_id';
/** Citus's default shard count (`citus.shard_count`). */
export const TEMPLATE_SHARDS = 32;
/** Monthly partitions kept ready past the current month, as a maintenance job would. */
const MONTHS_AHEAD = 2;

export interface ScalingDataset {
  database: string;
  url: string;
  scale: Scale;
  reused: boolean;
  /** The data's "now": windows such as the last 7 days end here. */
  generatedAt: string;
  seconds: number;
  steps: Array<{ step: string; seconds: number }>;
}

export const monthlyPartition = (month: Date) => `${MONTHLY}_${month.getUTCFullYear()}_${String(month.getUTCMonth() + 1).padStart(2, '0')}`;
export const templateShard = (remainder: number) => `${SHARDED_TEMPLATES}_${String(remainder).padStart(2, '0')}`;

const monthStart = (at: Date) => new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1));
const addMonths = (month: Date, count: number) => new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + count, 1));

/** Creates the monthly partitions from `from`'s month to `MONTHS_AHEAD` months past `until`'s; returns how many were missing. */
export async function ensureMonthlyPartitions(client: Client, from: Date, until: Date): Promise<number> {
  let created = 0;
  for (let month = monthStart(from); month <= addMonths(monthStart(until), MONTHS_AHEAD); month = addMonths(month, 1)) {
    const name = monthlyPartition(month);
    const exists = await client.query(`select to_regclass($1) is not null as exists`, [name]);
    if (exists.rows[0].exists) continue;
    await client.query(
      `create table ${name} partition of ${MONTHLY} for values from ('${month.toISOString()}') to ('${addMonths(month, 1).toISOString()}')`,
    );
    created += 1;
  }
  return created;
}

interface IndexDefinition {
  name: string;
  definition: string;
}

/** The indexes of `table` other than its primary key's, as `CREATE INDEX` statements. */
export async function secondaryIndexes(client: Client, table: string): Promise<IndexDefinition[]> {
  const { rows } = await client.query<IndexDefinition>(
    `select c.relname as name, pg_get_indexdef(i.indexrelid) as definition
     from pg_index i join pg_class c on c.oid = i.indexrelid
     where i.indrelid = $1::regclass and not i.indisprimary
     order by c.relname`,
    [table],
  );
  return rows;
}

/** An index definition of `from` rewritten for `to`, its name prefixed likewise. */
export function indexFor(index: IndexDefinition, from: string, to: string): IndexDefinition {
  const name = index.name.startsWith(from) ? `${to}${index.name.slice(from.length)}` : `${to}_${index.name}`;
  const definition = index.definition
    .replace(`INDEX ${index.name} ON`, `INDEX ${name} ON`)
    .replace(new RegExp(`ON (public\\.)?${from} USING`), `ON public.${to} USING`);
  if (definition === index.definition) throw new Error(`cannot rewrite index ${index.name} for ${to}`);
  return { name, definition };
}

/**
 * The scaling data set: every migration applied, the main data set's users, templates, shares and versions, ten times
 * its experiments (loaded before their indexes and foreign keys are built, which are then timed one by one), and
 * beside them the copies the measurements compare: `ml_experiments_monthly` (monthly range partitions of created_at),
 * `template_usage_daily` (per-template daily counts) and `experiment_templates_by_id` (32 hash partitions of id).
 */
export async function prepareScalingDataset(
  serverUrl: string,
  url: (database: string) => string,
  mode: Mode,
  reuse: boolean,
  log: (line: string) => void,
): Promise<ScalingDataset> {
  const scale = SCALING_SCALES[mode];
  const database = `tessera_bench_scaling_${mode}`;
  const dbUrl = url(database);
  const existing = reuse ? await reusable(serverUrl, dbUrl, database, scale, SCALING_GENERATOR_VERSION) : null;
  if (existing?.generatedAt) {
    log(`reusing ${database} (generated in ${existing.seconds.toFixed(0)} s, at ${existing.generatedAt})`);
    return {
      database,
      url: dbUrl,
      scale,
      reused: true,
      generatedAt: existing.generatedAt,
      seconds: existing.seconds,
      steps: existing.steps,
    };
  }

  log(`generating ${database}: ${scale.users} users, ${scale.templates} templates, ${scale.experiments} experiments`);
  const started = performance.now();
  const timer = new StepTimer(log);
  await recreateDatabase(serverUrl, database);
  await generateUsersAndTemplates(dbUrl, scale, timer);

  // A bulk load writes faster into a table without indexes; building them afterwards also times each one at 10^7 rows.
  const deferred = await withClient(dbUrl, async (client) => {
    const indexes = await secondaryIndexes(client, 'ml_experiments');
    const { rows: constraints } = await client.query<{ name: string; kind: string; definition: string }>(
      `select conname as name, contype as kind, pg_get_constraintdef(oid) as definition
       from pg_constraint where conrelid = 'ml_experiments'::regclass and contype in ('p', 'f') order by contype desc, conname`,
    );
    for (const constraint of constraints) await client.query(`alter table ml_experiments drop constraint ${constraint.name}`);
    for (const index of indexes) await client.query(`drop index ${index.name}`);
    return { indexes, constraints };
  });
  const withFullDocuments = Math.round(scale.experiments * FULL_DOCUMENTS_SHARE);
  await timer.time(`experiments 1 to ${withFullDocuments} (full documents)`, () =>
    runParallel(
      dbUrl,
      ranges(withFullDocuments).map(([a, b]) => experimentsSql(scale, a, b, 'full')),
    ),
  );
  await timer.time(`experiments ${withFullDocuments + 1} to ${scale.experiments} (small documents)`, () =>
    runParallel(
      dbUrl,
      ranges(scale.experiments - withFullDocuments).map(([a, b]) =>
        experimentsSql(scale, a + withFullDocuments, b + withFullDocuments, 'small'),
      ),
    ),
  );
  await withClient(dbUrl, async (client) => {
    await client.query(`set statement_timeout = 0; set maintenance_work_mem = '1GB'`);
    for (const constraint of deferred.constraints.filter((c) => c.kind === 'p')) {
      await timer.time(`build ml_experiments ${constraint.definition.toLowerCase()}`, () =>
        client.query(`alter table ml_experiments add constraint ${constraint.name} ${constraint.definition}`),
      );
    }
    for (const index of deferred.indexes) await timer.time(`build index ${index.name}`, () => client.query(index.definition));
    for (const constraint of deferred.constraints.filter((c) => c.kind === 'f')) {
      await client.query(`alter table ml_experiments add constraint ${constraint.name} ${constraint.definition} not valid`);
      await timer.time(`validate foreign key ${constraint.name}`, () =>
        client.query(`alter table ml_experiments validate constraint ${constraint.name}`),
      );
    }
  });
  await timer.time('usage counts', () =>
    runParallel(dbUrl, [
      `update experiment_templates t set usage_count = u.count, last_used = u.last_used
       from (select template_id, count(*)::int as count, max(created_at) as last_used
             from ml_experiments where template_id is not null group by template_id) u
       where u.template_id = t.id`,
    ]),
  );
  await timer.time('vacuum (analyze) ml_experiments', () => withClient(dbUrl, (client) => client.query('vacuum (analyze) ml_experiments')));

  await buildMonthlyCopy(dbUrl, timer);
  await buildUsageTable(dbUrl, timer);
  await buildShardedTemplates(dbUrl, timer);
  await timer.time('vacuum (analyze) the rest', () => withClient(dbUrl, (client) => client.query('vacuum (analyze)')));

  const seconds = (performance.now() - started) / 1000;
  const generatedAt = new Date().toISOString();
  await writeMeta(dbUrl, { generator: SCALING_GENERATOR_VERSION, scale, seconds, steps: timer.steps, generatedAt });
  log(`  generated in ${seconds.toFixed(1)} s`);
  return { database, url: dbUrl, scale, reused: false, generatedAt, seconds, steps: timer.steps };
}

/**
 * ml_experiments as a table partitioned by month of created_at: the same columns, checks and indexes, a primary key
 * that includes the partition key (PostgreSQL requires it), the same foreign keys.
 */
async function buildMonthlyCopy(url: string, timer: StepTimer): Promise<void> {
  const { first, indexes, foreignKeys, columns } = await withClient(url, async (client) => {
    await client.query(
      `create table ${MONTHLY} (like ml_experiments including defaults including constraints) partition by range (created_at)`,
    );
    const bounds = await client.query<{ first: Date }>(`select min(created_at) as first from ml_experiments`);
    await ensureMonthlyPartitions(client, bounds.rows[0].first, new Date());
    const { rows: fks } = await client.query<{ name: string; definition: string }>(
      `select conname as name, pg_get_constraintdef(oid) as definition from pg_constraint
       where conrelid = 'ml_experiments'::regclass and contype = 'f' order by conname`,
    );
    const { rows: names } = await client.query<{ name: string }>(
      `select attname as name from pg_attribute where attrelid = 'ml_experiments'::regclass and attnum > 0 and not attisdropped order by attnum`,
    );
    return {
      first: bounds.rows[0].first,
      indexes: (await secondaryIndexes(client, 'ml_experiments')).map((index) => indexFor(index, 'ml_experiments', MONTHLY)),
      foreignKeys: fks,
      columns: names.map((row) => row.name).join(', '),
    };
  });
  await timer.time(`copy into ${MONTHLY} (monthly partitions from ${first.toISOString().slice(0, 7)})`, () =>
    runParallel(
      url,
      UUID_HALVES('e').map((half) => `insert into ${MONTHLY} (${columns}) select ${columns} from ml_experiments e where ${half}`),
    ),
  );
  await withClient(url, async (client) => {
    await client.query(`set statement_timeout = 0; set maintenance_work_mem = '1GB'`);
    await timer.time(`build ${MONTHLY} primary key (id, created_at)`, () =>
      client.query(`alter table ${MONTHLY} add constraint ${MONTHLY}_pkey primary key (id, created_at)`),
    );
    for (const index of indexes) await timer.time(`build index ${index.name}`, () => client.query(index.definition));
    // PostgreSQL 17 cannot add a NOT VALID foreign key to a partitioned table: it is validated as it is added.
    for (const fk of foreignKeys) {
      const name = fk.name.replace('ml_experiments', MONTHLY);
      await timer.time(`add foreign key ${name}`, () => client.query(`alter table ${MONTHLY} add constraint ${name} ${fk.definition}`));
    }
    await timer.time(`vacuum (analyze) ${MONTHLY}`, () => client.query(`vacuum (analyze) ${MONTHLY}`));
  });
}

/** What a usage table would hold: experiments per template per UTC day, counted from the experiments themselves. */
async function buildUsageTable(url: string, timer: StepTimer): Promise<void> {
  await withClient(url, async (client) => {
    await client.query(`set statement_timeout = 0; set maintenance_work_mem = '1GB'`);
    await client.query(`
      create table ${USAGE_TABLE} (
        template_id uuid not null,
        day date not null,
        experiments integer not null,
        constraint ${USAGE_TABLE}_template_id_foreign foreign key (template_id) references experiment_templates (id) on delete cascade
      )`);
    await timer.time(`fill ${USAGE_TABLE}`, () =>
      client.query(`
        insert into ${USAGE_TABLE} (template_id, day, experiments)
        select template_id, (created_at at time zone 'UTC')::date, count(*)::integer
        from ml_experiments where template_id is not null
        group by 1, 2`),
    );
    await timer.time(`build ${USAGE_TABLE} primary key (template_id, day) and index (day)`, async () => {
      await client.query(`alter table ${USAGE_TABLE} add constraint ${USAGE_TABLE}_pkey primary key (template_id, day)`);
      await client.query(`create index ${USAGE_TABLE}_day_index on ${USAGE_TABLE} (day)`);
    });
    await client.query(`vacuum (analyze) ${USAGE_TABLE}`);
  });
}

/** experiment_templates in 32 hash partitions of id, each standing for the shard a Citus worker would hold. */
async function buildShardedTemplates(url: string, timer: StepTimer): Promise<void> {
  await withClient(url, async (client) => {
    await client.query(`set statement_timeout = 0; set maintenance_work_mem = '1GB'`);
    await client.query(
      `create table ${SHARDED_TEMPLATES} (like experiment_templates including defaults including constraints) partition by hash (id)`,
    );
    for (let remainder = 0; remainder < TEMPLATE_SHARDS; remainder += 1) {
      await client.query(
        `create table ${templateShard(remainder)} partition of ${SHARDED_TEMPLATES} for values with (modulus ${TEMPLATE_SHARDS}, remainder ${remainder})`,
      );
    }
    const indexes = await secondaryIndexes(client, 'experiment_templates');
    await timer.time(`copy into ${SHARDED_TEMPLATES} (${TEMPLATE_SHARDS} hash partitions) with its indexes`, async () => {
      await client.query(`insert into ${SHARDED_TEMPLATES} select * from experiment_templates`);
      await client.query(`alter table ${SHARDED_TEMPLATES} add constraint ${SHARDED_TEMPLATES}_pkey primary key (id)`);
      for (const index of indexes) await client.query(indexFor(index, 'experiment_templates', SHARDED_TEMPLATES).definition);
    });
    await client.query(`vacuum (analyze) ${SHARDED_TEMPLATES}`);
  });
}
