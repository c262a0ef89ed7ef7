import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { MikroORM } from '@mikro-orm/postgresql';
import type { Client } from 'pg';
import { createOrmConfig } from '../mikro-orm.config';
import type { Actor } from '../src/auth/actor';
import { encodeCursor, keysetColumns, timestampTextSql } from '../src/db/keyset';
import { publishOrmStatements, SqlValues, StatementRecorder } from '../src/db/sql';
import { countByTemplate, listExperiments, NEWEST_FIRST, pageByTemplate } from '../src/experiment/experiment-list';
import { experimentColumns } from '../src/experiment/experiment-rows';
import { createExperimentLoaders } from '../src/experiment/experiment.loaders';
import { createServices } from '../src/graphql/context';
import { templateColumns } from '../src/template/template-rows';
import { visibleTemplates } from '../src/template/template-visibility';
import { withClient } from './cluster';
import { machineBusyMs, processCpuMs, processTreeCpuMs } from './cpu';
import { BENCH_DB_CONFIG } from './generate';
import type { Mode } from './options';
import {
  ensureMonthlyPartitions,
  MONTHLY,
  prepareScalingDataset,
  SHARDED_TEMPLATES,
  USAGE_TABLE,
  type ScalingDataset,
} from './scaling-data';
import {
  BUDGETS,
  measureCase,
  round,
  sentBy,
  timed,
  timingOf,
  type Budget,
  type CaseResult,
  type QueryCase,
  type Statement,
  type Variant,
} from './scaling-measure';
import { measureAttachMigration, type AttachMigration } from './scaling-migration';
import { templateShardCases, type ShardCaseResult } from './scaling-shards';

/** The index TRENDING needs on a plain table: experiments of a time window, grouped by template, read from the index. */
const TRENDING_INDEX = { columns: '(created_at, template_id) where template_id is not null', name: 'created_at_template_id_index' };
const DAY_MS = 86_400_000;

/** The same statement against the partitioned copy. */
function onMonthly(sql: string): string {
  const replaced = sql.replace(/\bml_experiments\b(?!_)/g, MONTHLY);
  if (replaced === sql) throw new Error(`no ml_experiments in ${sql}`);
  return replaced;
}

export interface IndexBuild {
  index: string;
  how: string;
  seconds: number;
  longestPartitionSeconds?: number;
}

export interface RelationSize {
  relation: string;
  partitions: number;
  rows: number;
  tableBytes: number;
  indexBytes: number;
  indexes: Array<{ name: string; bytes: number }>;
}

export interface ScalingResult {
  dataset: ScalingDataset;
  asOf: string;
  subjects: Record<string, string | number>;
  sizes: RelationSize[];
  cases: CaseResult[];
  shardCases: ShardCaseResult[];
  indexBuilds: IndexBuild[];
  migration: AttachMigration;
  load: { samples: number[]; atStart: number; atEnd: number; coresBusy: number; postgresShare: number; othersShare: number };
  seconds: number;
}

interface Subjects {
  asOf: Date;
  medianOwner: Actor & { experiments: number };
  heaviestOwner: Actor & { experiments: number };
  usedTemplate: { id: string; ownerId: string; usageCount: number };
  medianTemplate: { id: string; ownerId: string; usageCount: number };
  sample: Array<{ id: string; ownerId: string; createdAt: Date }>;
  yearBack: { createdAt: string; id: string } | null;
}

const actorOf = (userId: string): Actor => ({ userId, roles: [] });

async function pickSubjects(client: Client, asOf: Date): Promise<Subjects> {
  const { rows: owners } = await client.query<{ ownerId: string; experiments: number }>(
    `select owner_id as "ownerId", count(*)::integer as experiments from ml_experiments group by owner_id order by 2, 1`,
  );
  const median = owners[Math.floor(owners.length / 2)];
  const heaviest = owners[owners.length - 1];
  const { rows: templates } = await client.query<{ id: string; ownerId: string; usageCount: number }>(
    `select id, created_by as "ownerId", usage_count as "usageCount" from experiment_templates
     where is_active and usage_count > 0 order by usage_count desc, id`,
  );
  const { rows: total } = await client.query<{ rows: number }>(
    `select reltuples::float8 as rows from pg_class where oid = 'ml_experiments'::regclass`,
  );
  // Whole pages at random (SYSTEM), about 2,000 rows, of which the first 200.
  const { rows: sample } = await client.query<{ id: string; ownerId: string; createdAt: Date }>(
    `select id, owner_id as "ownerId", created_at as "createdAt" from ml_experiments tablesample system ($1) repeatable (7) limit 200`,
    [Math.min(100, (100 * 2_000) / Math.max(1, total[0].rows))],
  );
  const { rows: yearBack } = await client.query<{ createdAt: string; id: string }>(
    `select ${timestampTextSql('e.created_at')} as "createdAt", e.id from ml_experiments e
     where e.owner_id = $1 and e.created_at < $2::timestamptz - interval '365 days'
     order by e.created_at desc, e.id desc limit 1`,
    [median.ownerId, asOf],
  );
  return {
    asOf,
    medianOwner: { ...actorOf(median.ownerId), experiments: median.experiments },
    heaviestOwner: { ...actorOf(heaviest.ownerId), experiments: heaviest.experiments },
    usedTemplate: templates[0],
    medianTemplate: templates[Math.floor(templates.length / 2)],
    sample,
    yearBack: yearBack[0] ?? null,
  };
}

/** The experiment reads of today's server, captured from its own list and loader code, on the plain and the partitioned table. */
async function experimentCases(client: Client, subjects: Subjects): Promise<QueryCase[]> {
  const cases: QueryCase[] = [];
  const plainAndMonthly = (key: string, title: string, statement: Statement): QueryCase => ({
    key,
    title,
    variants: [
      { label: 'ml_experiments', sql: statement.sql, values: () => statement.values },
      { label: MONTHLY, sql: onMonthly(statement.sql), values: () => statement.values },
    ],
  });
  for (const [which, owner] of [
    ['median', subjects.medianOwner],
    ['heaviest', subjects.heaviestOwner],
  ] as const) {
    const [page, count] = await sentBy(client, (reader) => listExperiments(reader, owner, {}, { first: 20 }, { withTotalCount: true }));
    cases.push(
      plainAndMonthly(
        `owner-page-${which}`,
        `experiments of one owner (${which}: ${owner.experiments} experiments), first page of 20, newest first`,
        page,
      ),
    );
    cases.push(plainAndMonthly(`owner-count-${which}`, `count of one owner's experiments (${which}: ${owner.experiments})`, count));
  }
  if (subjects.yearBack) {
    const after = encodeCursor([NEWEST_FIRST.tag, subjects.yearBack.createdAt, subjects.yearBack.id]);
    const [page] = await sentBy(client, (reader) => listExperiments(reader, subjects.medianOwner, {}, { first: 20, after }));
    cases.push(plainAndMonthly('owner-page-year-back', 'the same owner (median), the page after a cursor 12 months back', page));
  }
  const templateOwner = actorOf(subjects.usedTemplate.ownerId);
  const [templatePage] = await sentBy(client, (reader) =>
    pageByTemplate(reader, templateOwner, [subjects.usedTemplate.id], { first: 20 }, []),
  );
  const [templateCount] = await sentBy(client, (reader) => countByTemplate(reader, templateOwner, [subjects.usedTemplate.id]));
  const templatePageCase = plainAndMonthly(
    'template-page',
    `Template.experiments: the owner's experiments of the most used template (${subjects.usedTemplate.usageCount} experiments), first page`,
    templatePage,
  );
  // Not the server's SQL: the same page read per template through LATERAL ... LIMIT, which stops at the page's rows
  // where row_number() numbers all of them first.
  templatePageCase.variants.push({
    label: 'ml_experiments, LATERAL ... LIMIT instead of row_number()',
    sql: `select ranked.* from unnest($2::uuid[]) as wanted(template_id)
     cross join lateral (
       select ${experimentColumns([])}, ${keysetColumns(NEWEST_FIRST)}
       from ml_experiments e
       where e.owner_id = $1::uuid and e.template_id = wanted.template_id
       order by e.created_at desc, e.id desc
       limit $3
     ) ranked
     order by ranked."createdAt" desc, ranked.id desc`,
    values: () => templatePage.values,
  });
  cases.push(templatePageCase, plainAndMonthly('template-count', 'Template.experiments: their count (countByTemplate)', templateCount));

  // The loader's statement for one id: the same text for every id, so the rounds rotate through a sample of rows.
  const [first] = subjects.sample;
  const [{ sql: byIdSql }] = await sentBy(client, (reader) =>
    createExperimentLoaders(reader, async () => actorOf(first.ownerId)).visibleExperimentById.load({ id: first.id, documents: [] }),
  );
  const sampleValues = (run: number) => {
    const row = subjects.sample[run % subjects.sample.length];
    return [[row.id], row.ownerId];
  };
  cases.push({
    key: 'by-id',
    title: `one experiment by id, as its owner (the loader's statement; ${subjects.sample.length} sampled rows in turn)`,
    variants: [
      { label: 'ml_experiments', sql: byIdSql, values: sampleValues },
      { label: MONTHLY, sql: onMonthly(byIdSql), values: sampleValues },
      // What an id that carries its creation time (UUIDv7: milliseconds in its first 48 bits) would let the loader add.
      {
        label: `${MONTHLY}, creation time known to the minute`,
        sql: `${onMonthly(byIdSql)} and e.created_at >= $3::timestamptz - interval '1 minute' and e.created_at < $3::timestamptz + interval '1 minute'`,
        values: (run) => [...sampleValues(run), subjects.sample[run % subjects.sample.length].createdAt],
      },
    ],
  });
  return cases;
}

/** Usage over time of one template, counted from the experiments or read from the usage table. */
function usageCases(subjects: Subjects): QueryCase[] {
  const dayOf = (at: Date) => at.toISOString().slice(0, 10);
  const daysEnd = new Date(Date.UTC(subjects.asOf.getUTCFullYear(), subjects.asOf.getUTCMonth(), subjects.asOf.getUTCDate() + 1));
  const daysStart = new Date(daysEnd.getTime() - 90 * DAY_MS);
  const monthsEnd = new Date(Date.UTC(subjects.asOf.getUTCFullYear(), subjects.asOf.getUTCMonth() + 1, 1));
  const monthsStart = new Date(Date.UTC(subjects.asOf.getUTCFullYear(), subjects.asOf.getUTCMonth() - 11, 1));
  const perDay = `select (e.created_at at time zone 'UTC')::date as day, count(*)::integer as experiments
     from ml_experiments e
     where e.template_id = $1::uuid and e.created_at >= $2::timestamptz and e.created_at < $3::timestamptz
     group by 1 order by 1`;
  const perDayUsage = `select u.day, u.experiments from ${USAGE_TABLE} u
     where u.template_id = $1::uuid and u.day >= $2::date and u.day < $3::date order by u.day`;
  const perMonth = `select date_trunc('month', e.created_at at time zone 'UTC')::date as month, count(*)::integer as experiments
     from ml_experiments e
     where e.template_id = $1::uuid and e.created_at >= $2::timestamptz and e.created_at < $3::timestamptz
     group by 1 order by 1`;
  const perMonthUsage = `select date_trunc('month', u.day)::date as month, sum(u.experiments)::integer as experiments
     from ${USAGE_TABLE} u
     where u.template_id = $1::uuid and u.day >= $2::date and u.day < $3::date group by 1 order by 1`;
  const threeWays = (key: string, title: string, counted: string, read: string, start: Date, end: Date, templateId: string): QueryCase => ({
    key,
    title,
    variants: [
      { label: 'ml_experiments', sql: counted, values: () => [templateId, start, end] },
      { label: MONTHLY, sql: onMonthly(counted), values: () => [templateId, start, end] },
      { label: USAGE_TABLE, sql: read, values: () => [templateId, dayOf(start), dayOf(end)] },
    ],
  });
  return [
    threeWays(
      'usage-days-used',
      `usage per day over 90 days of the most used template (${subjects.usedTemplate.usageCount} experiments in all)`,
      perDay,
      perDayUsage,
      daysStart,
      daysEnd,
      subjects.usedTemplate.id,
    ),
    threeWays(
      'usage-days-median',
      `usage per day over 90 days of the median template (${subjects.medianTemplate.usageCount} experiments in all)`,
      perDay,
      perDayUsage,
      daysStart,
      daysEnd,
      subjects.medianTemplate.id,
    ),
    threeWays(
      'usage-months-used',
      `usage per month over 12 months of the most used template`,
      perMonth,
      perMonthUsage,
      monthsStart,
      monthsEnd,
      subjects.usedTemplate.id,
    ),
  ];
}

/**
 * TRENDING: the 20 templates the caller may see with the most experiments created in the last 7 days, with the
 * server's own template columns and visibility rule. Counted from the experiments, or summed from the daily table
 * (the last 7 UTC days, today included).
 */
function trendingCase(subjects: Subjects, key: string, title: string, withUsageTable: boolean): QueryCase {
  const statement = (source: 'experiments' | 'usage') => {
    const values = new SqlValues();
    const since = values.bind(source === 'experiments' ? new Date(subjects.asOf.getTime() - 7 * DAY_MS) : dayOffset(subjects.asOf, -6));
    const recent =
      source === 'experiments'
        ? `select e.template_id, count(*)::integer as experiments from ml_experiments e
           where e.template_id is not null and e.created_at >= ${since}::timestamptz group by e.template_id`
        : `select u.template_id, sum(u.experiments)::integer as experiments from ${USAGE_TABLE} u
           where u.day >= ${since}::date group by u.template_id`;
    const visible = visibleTemplates('t', subjects.medianOwner, values);
    return {
      sql: `select ${templateColumns(false)}, recent.experiments as "recentExperiments"
     from (${recent}) recent
     join experiment_templates t on t.id = recent.template_id
     where ${visible} and t.is_active
     order by recent.experiments desc, t.id desc
     limit 21`,
      values: values.values,
    };
  };
  const counted = statement('experiments');
  const variants: Variant[] = [
    { label: 'ml_experiments', sql: counted.sql, values: () => counted.values },
    { label: MONTHLY, sql: onMonthly(counted.sql), values: () => counted.values },
  ];
  if (withUsageTable) {
    const read = statement('usage');
    variants.push({ label: USAGE_TABLE, sql: read.sql, values: () => read.values });
  }
  return { key, title, variants };
}

function dayOffset(at: Date, days: number): string {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate() + days)).toISOString().slice(0, 10);
}

/**
 * TRENDING kept up to date instead of counted per request: the experiments of each template over the last 7 UTC days,
 * one row per template that has any, with an index in ranking order. Each new experiment adds one in its own
 * transaction; a daily job subtracts the day that leaves the window.
 */
const RECENT_USAGE = 'template_recent_usage';

/** The ranking filled from the usage table, as its first fill would be. */
async function buildRecentUsage(client: Client, asOf: Date): Promise<IndexBuild> {
  const seconds =
    (await timed(async () => {
      await client.query(`drop table if exists ${RECENT_USAGE}`);
      await client.query(
        `create table ${RECENT_USAGE} (
           template_id uuid primary key references experiment_templates (id) on delete cascade,
           experiments integer not null)`,
      );
      await client.query(
        `insert into ${RECENT_USAGE} (template_id, experiments)
         select template_id, sum(experiments)::integer from ${USAGE_TABLE} where day >= $1::date group by template_id`,
        [dayOffset(asOf, -6)],
      );
      await client.query(`create index ${RECENT_USAGE}_experiments_index on ${RECENT_USAGE} (experiments desc, template_id desc)`);
    })) / 1000;
  await client.query(`vacuum (analyze) ${RECENT_USAGE}`);
  return {
    index: RECENT_USAGE,
    how: `filled from ${USAGE_TABLE} (the last 7 days summed per template), then its index (experiments desc, template_id desc)`,
    seconds: round(seconds, 1),
  };
}

function rankedTrendingCase(subjects: Subjects): QueryCase {
  const values = new SqlValues();
  const visible = visibleTemplates('t', subjects.medianOwner, values);
  return {
    key: 'trending-ranked',
    title: `TRENDING read from the maintained ranking (${RECENT_USAGE})`,
    variants: [
      {
        label: RECENT_USAGE,
        sql: `select ${templateColumns(false)}, r.experiments as "recentExperiments"
     from ${RECENT_USAGE} r join experiment_templates t on t.id = r.template_id
     where ${visible} and t.is_active
     order by r.experiments desc, r.template_id desc
     limit 21`,
        values: () => values.values,
      },
    ],
  };
}

/** The daily job: at midnight the oldest day of the window leaves it. Each run is rolled back. */
function rolloverCase(subjects: Subjects): QueryCase {
  const leaving = dayOffset(subjects.asOf, -6);
  return {
    key: 'trending-rollover',
    title: `the ranking's daily job: subtract the day leaving the window (${leaving})`,
    variants: [
      {
        label: `from ${USAGE_TABLE}`,
        sql: `update ${RECENT_USAGE} r set experiments = r.experiments - u.experiments
     from ${USAGE_TABLE} u where u.template_id = r.template_id and u.day = $1::date`,
        values: () => [leaving],
        writes: true,
      },
      {
        label: 'counted from ml_experiments',
        sql: `update ${RECENT_USAGE} r set experiments = r.experiments - d.experiments
     from (select e.template_id, count(*)::integer as experiments from ml_experiments e
           where e.template_id is not null and e.created_at >= $1::timestamptz and e.created_at < $2::timestamptz
           group by e.template_id) d
     where d.template_id = r.template_id`,
        values: () => [new Date(`${leaving}T00:00:00Z`), new Date(`${dayOffset(subjects.asOf, -5)}T00:00:00Z`)],
        writes: true,
      },
    ],
  };
}

async function dropTrendingIndexes(client: Client): Promise<void> {
  await client.query(`drop index concurrently if exists ml_experiments_${TRENDING_INDEX.name}`);
  await client.query(`drop index if exists ${MONTHLY}_${TRENDING_INDEX.name}`);
}

/**
 * The TRENDING index on both tables, each the way a migration would add it with writes going on: CONCURRENTLY on the
 * plain table; on the partitioned one, on the parent only (invalid until complete), then CONCURRENTLY on each
 * partition and attached, since PostgreSQL cannot build a partitioned index concurrently.
 */
async function buildTrendingIndexes(client: Client, log: (line: string) => void): Promise<IndexBuild[]> {
  const plain = `ml_experiments_${TRENDING_INDEX.name}`;
  const plainSeconds =
    (await timed(() => client.query(`create index concurrently ${plain} on ml_experiments ${TRENDING_INDEX.columns}`))) / 1000;
  const parent = `${MONTHLY}_${TRENDING_INDEX.name}`;
  const { rows: partitions } = await client.query<{ name: string }>(
    `select relid::regclass::text as name from pg_partition_tree('${MONTHLY}') where isleaf order by 1`,
  );
  let longest = 0;
  const monthlySeconds =
    (await timed(async () => {
      await client.query(`create index ${parent} on only ${MONTHLY} ${TRENDING_INDEX.columns}`);
      for (const { name } of partitions) {
        const index = `${name}_${TRENDING_INDEX.name}`;
        longest = Math.max(
          longest,
          await timed(() => client.query(`create index concurrently ${index} on ${name} ${TRENDING_INDEX.columns}`)),
        );
        await client.query(`alter index ${parent} attach partition ${index}`);
      }
    })) / 1000;
  const builds: IndexBuild[] = [
    { index: plain, how: 'create index concurrently', seconds: round(plainSeconds, 1) },
    {
      index: parent,
      how: `create index on only the parent, then concurrently on each of ${partitions.length} partitions and attach`,
      seconds: round(monthlySeconds, 1),
      longestPartitionSeconds: round(longest / 1000, 2),
    },
  ];
  for (const build of builds) log(`  built ${build.index} in ${build.seconds} s`);
  return builds;
}

/**
 * What the service sent to create one experiment: MikroORM sends its statements with the values written into the text,
 * so each replay writes its own id and times into a copy of the INSERT.
 */
interface CreateStatements {
  update: string;
  insert: string;
  /** The experiment's audit event, written in the same transaction. */
  audit: string;
  id: string;
  createdAt: string;
}

/** The statements the real service sends to create an experiment from a template, captured once. */
async function captureCreateExperiment(url: string, actor: Actor, templateId: string): Promise<CreateStatements> {
  const orm = await MikroORM.init(createOrmConfig({ clientUrl: url, db: { ...BENCH_DB_CONFIG, poolMax: 2 } }));
  publishOrmStatements(orm);
  const recorder = new StatementRecorder().attach();
  try {
    const { result, trips } = await recorder.capture(() =>
      createServices(orm.em.fork(), randomUUID()).experiments.createFromTemplate(actor, { templateId, name: 'Scaling bench experiment' }),
    );
    const statements = trips.flat();
    const update = statements.find((statement) => /^\s*update\s+experiment_templates/i.test(statement.sql));
    const insert = statements.find((statement) => /^\s*insert\s+into\s+"?ml_experiments"?\s/i.test(statement.sql));
    const audit = statements.find((statement) => /^\s*insert\s+into\s+audit_events\s/i.test(statement.sql));
    if (!update || !insert || !audit || update.values.length + insert.values.length + audit.values.length > 0) {
      throw new Error(`unexpected statements: ${JSON.stringify(statements)}`);
    }
    await orm.em.fork().getConnection().execute(`delete from ml_experiments where id = ?`, [result.id]);
    return { update: update.sql, insert: insert.sql, audit: audit.sql, id: result.id, createdAt: result.createdAt.toISOString() };
  } finally {
    recorder.detach();
    await orm.close(true);
  }
}

/** The counters a usage table and a maintained ranking would add to the same transaction, written as the service's own SQL is sent. */
const usageUpsert = (templateId: string) => `insert into ${USAGE_TABLE} (template_id, day, experiments)
     values ('${templateId}'::uuid, (now() at time zone 'UTC')::date, 1)
     on conflict (template_id, day) do update set experiments = ${USAGE_TABLE}.experiments + 1`;
const recentUsageUpsert = (templateId: string) => `insert into ${RECENT_USAGE} (template_id, experiments)
     values ('${templateId}'::uuid, 1)
     on conflict (template_id) do update set experiments = ${RECENT_USAGE}.experiments + 1`;

/**
 * Creating an experiment from a template as the service does it (the usage count's UPDATE, the INSERT, its audit event,
 * one transaction, committed), replayed into the plain table, the partitioned one, and the plain one with the usage
 * table's counter in the same transaction. The rows are deleted and the template's counters restored afterwards.
 */
async function measureCreate(
  client: Client,
  url: string,
  subjects: Subjects,
  budget: Budget,
  log: (line: string) => void,
): Promise<CaseResult> {
  const template = subjects.medianTemplate;
  // Read before the capture: the service's own run counts a use too.
  const { rows: before } = await client.query<{ usageCount: number; lastUsed: Date | null }>(
    `select usage_count as "usageCount", last_used as "lastUsed" from experiment_templates where id = $1`,
    [template.id],
  );
  const captured = await captureCreateExperiment(url, actorOf(template.ownerId), template.id);
  const { rows: usageBefore } = await client.query<{ experiments: number }>(
    `select experiments from ${USAGE_TABLE} where template_id = $1 and day = (now() at time zone 'UTC')::date`,
    [template.id],
  );
  const { rows: recentBefore } = await client.query<{ experiments: number }>(
    `select experiments from ${RECENT_USAGE} where template_id = $1`,
    [template.id],
  );
  const inserted: string[] = [];
  /** The captured statements as another experiment's: its own id (its audit event's subject too) and time. */
  const fresh = () => {
    const id = randomUUID();
    const createdAt = new Date().toISOString();
    inserted.push(id);
    return (sql: string) => sql.split(captured.id).join(id).split(captured.createdAt).join(createdAt);
  };
  const variants = [
    { label: 'ml_experiments', insertSql: captured.insert, counters: [] },
    { label: MONTHLY, insertSql: onMonthly(captured.insert), counters: [] },
    { label: `ml_experiments + ${USAGE_TABLE}`, insertSql: captured.insert, counters: [usageUpsert(template.id)] },
    {
      label: `ml_experiments + ${USAGE_TABLE} + ${RECENT_USAGE}`,
      insertSql: captured.insert,
      counters: [usageUpsert(template.id), recentUsageUpsert(template.id)],
    },
  ];
  const once = async (variant: (typeof variants)[number]) => {
    await client.query('begin');
    try {
      const asNew = fresh();
      await client.query(captured.update);
      await client.query(asNew(variant.insertSql));
      await client.query(asNew(captured.audit));
      for (const counter of variant.counters) await client.query(counter);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback');
      throw error;
    }
  };
  const latencies: number[][] = variants.map(() => []);
  try {
    for (const variant of variants) for (let run = 0; run < 3; run += 1) await once(variant);
    const started = performance.now();
    for (let run = 0; run < budget.maxRuns; run += 1) {
      if (run >= budget.minRuns && performance.now() - started > budget.caseSeconds * 1000) break;
      for (const [index, variant] of variants.entries()) latencies[index].push(await timed(() => once(variant)));
    }
  } finally {
    await client.query(`delete from ml_experiments where id = any($1::uuid[])`, [inserted]);
    await client.query(`delete from ${MONTHLY} where id = any($1::uuid[])`, [inserted]);
    // Audit events refuse deletes; as the bench cluster's superuser, this transaction skips that trigger.
    await client.query('begin');
    await client.query('set local session_replication_role = replica');
    await client.query(`delete from audit_events where subject_id = any($1::uuid[])`, [[...inserted, captured.id]]);
    await client.query('commit');
    await client.query(`update experiment_templates set usage_count = $2, last_used = $3 where id = $1`, [
      template.id,
      before[0].usageCount,
      before[0].lastUsed,
    ]);
    if (usageBefore.length === 0) {
      await client.query(`delete from ${USAGE_TABLE} where template_id = $1 and day = (now() at time zone 'UTC')::date`, [template.id]);
    } else {
      await client.query(`update ${USAGE_TABLE} set experiments = $2 where template_id = $1 and day = (now() at time zone 'UTC')::date`, [
        template.id,
        usageBefore[0].experiments,
      ]);
    }
    if (recentBefore.length === 0) await client.query(`delete from ${RECENT_USAGE} where template_id = $1`, [template.id]);
    else
      await client.query(`update ${RECENT_USAGE} set experiments = $2 where template_id = $1`, [template.id, recentBefore[0].experiments]);
  }
  const result: CaseResult = {
    key: 'create-experiment',
    title: `create an experiment from a template (the median template; the usage count's UPDATE, the INSERT, its audit event and any counters, committed)`,
    variants: variants.map((variant, index) => ({
      label: variant.label,
      sql: ['begin', captured.update, variant.insertSql, captured.audit, ...variant.counters, 'commit'].join(';\n'),
      values: [],
      explain: null,
      timing: timingOf(latencies[index]),
    })),
  };
  log(`  create-experiment: ${result.variants.map((v) => `${v.label} ${v.timing.medianMs} ms (p99 ${v.timing.p99Ms})`).join('; ')}`);
  return result;
}

/** Runs `work` while sampling the load average every 5 s and the CPU the machine, PostgreSQL and this process spend. */
async function whileSampling<T>(postmaster: number, work: () => Promise<T>): Promise<{ result: T; load: ScalingResult['load'] }> {
  const samples: number[] = [os.loadavg()[0]];
  const sampler = setInterval(() => samples.push(os.loadavg()[0]), 5_000);
  const atStart = { machine: machineBusyMs(), postgres: processTreeCpuMs(postmaster), own: processCpuMs(), wall: performance.now() };
  let result: T;
  try {
    result = await work();
  } finally {
    clearInterval(sampler);
  }
  samples.push(os.loadavg()[0]);
  const machine = machineBusyMs() - atStart.machine;
  const postgres = processTreeCpuMs(postmaster) - atStart.postgres;
  const own = processCpuMs() - atStart.own;
  const capacity = (performance.now() - atStart.wall) * os.cpus().length;
  return {
    result,
    load: {
      samples: samples.map((value) => round(value)),
      atStart: round(samples[0]),
      atEnd: round(samples[samples.length - 1]),
      coresBusy: round(machine / capacity, 3),
      postgresShare: round(postgres / capacity, 3),
      othersShare: round(Math.max(0, machine - postgres - own) / capacity, 3),
    },
  };
}

async function relationSizes(client: Client): Promise<RelationSize[]> {
  const sizes: RelationSize[] = [];
  for (const relation of [
    'ml_experiments',
    MONTHLY,
    USAGE_TABLE,
    RECENT_USAGE,
    'experiment_templates',
    SHARDED_TEMPLATES,
    'experiment_template_versions',
  ]) {
    // A plain table or index is its own one leaf; pg_partition_tree lists nothing for it.
    const leaves = (relation: string) =>
      `(select relid from pg_partition_tree(${relation}) where isleaf union select ${relation} where pg_partition_root(${relation}) is null)`;
    const { rows } = await client.query<{ partitions: number; tableBytes: string; indexBytes: string; rows: string }>(
      `select count(*) filter (where relid <> $1::regclass)::integer as partitions,
              coalesce(sum(pg_table_size(relid)), 0) as "tableBytes",
              coalesce(sum(pg_indexes_size(relid)), 0) as "indexBytes",
              (select count(*) from ${relation}) as rows
       from ${leaves('$1::regclass')} leaf`,
      [relation],
    );
    const { rows: indexes } = await client.query<{ name: string; bytes: string }>(
      `select c.relname as name, (select coalesce(sum(pg_relation_size(leaf.relid)), 0) from ${leaves('i.indexrelid::regclass')} leaf) as bytes
       from pg_index i join pg_class c on c.oid = i.indexrelid
       where i.indrelid = $1::regclass order by c.relname`,
      [relation],
    );
    sizes.push({
      relation,
      partitions: rows[0].partitions,
      rows: Number(rows[0].rows),
      tableBytes: Number(rows[0].tableBytes),
      indexBytes: Number(rows[0].indexBytes),
      indexes: indexes.map((index) => ({ name: index.name, bytes: Number(index.bytes) })),
    });
  }
  return sizes;
}

/**
 * `npm run bench -- --only scaling`: ten times the main data set's experiments, as today's table and as a copy
 * partitioned by month, with a usage table and the templates split into 32 shards beside them; every read and write
 * the scaling plan (docs/SCALING.md) weighs, explained and timed on a warm cache.
 */
export async function runScalingBench(
  serverUrl: string,
  url: (database: string) => string,
  mode: Mode,
  reuse: boolean,
  postmaster: number,
  log: (line: string) => void,
): Promise<ScalingResult> {
  const started = performance.now();
  const dataset = await prepareScalingDataset(serverUrl, url, mode, reuse, log);
  const budget = BUDGETS[mode];
  const asOf = new Date(dataset.generatedAt);
  return withClient(dataset.url, async (client) => {
    // The server runs reads under a 5 s statement timeout; some of the plans weighed here take longer.
    await client.query(`set statement_timeout = 0; set lock_timeout = '10s'`);
    await ensureMonthlyPartitions(client, new Date(), new Date());
    await dropTrendingIndexes(client);
    const subjects = await pickSubjects(client, asOf);
    log(
      `scaling: as of ${asOf.toISOString()}; owners with ${subjects.medianOwner.experiments} (median) and ${subjects.heaviestOwner.experiments} ` +
        `(most) experiments; templates used ${subjects.usedTemplate.usageCount} (most) and ${subjects.medianTemplate.usageCount} (median) times`,
    );

    const { result: measured, load } = await whileSampling(postmaster, async () => {
      const cases: CaseResult[] = [];
      for (const queryCase of await experimentCases(client, subjects)) cases.push(await measureCase(client, queryCase, budget, log));
      for (const queryCase of usageCases(subjects)) cases.push(await measureCase(client, queryCase, budget, log));
      const trending = trendingCase(
        subjects,
        'trending',
        "TRENDING, today's indexes: top 20 visible templates by experiments of the last 7 days",
        true,
      );
      cases.push(await measureCase(client, trending, budget, log));
      const indexBuilds = await buildTrendingIndexes(client, log);
      const indexed = trendingCase(subjects, 'trending-indexed', `TRENDING with an index on ${TRENDING_INDEX.columns}`, false);
      cases.push(await measureCase(client, indexed, budget, log));
      indexBuilds.push(await buildRecentUsage(client, asOf));
      cases.push(await measureCase(client, rankedTrendingCase(subjects), budget, log));
      cases.push(await measureCase(client, rolloverCase(subjects), budget, log));
      // The rolled-back runs leave dead row versions behind: gone before the writes below are timed.
      await client.query(`vacuum ${RECENT_USAGE}`);
      cases.push(await measureCreate(client, dataset.url, subjects, budget, log));
      const shardCases = await templateShardCases(client, subjects.medianOwner, budget, log);
      return { cases, indexBuilds, shardCases };
    });

    const migration = await measureAttachMigration(client, log);
    // The experiments created and deleted, and the migration's undo, leave dead entries that the next run would read.
    await client.query(`vacuum (analyze) ml_experiments, ${MONTHLY}, ${USAGE_TABLE}`);
    const sizes = await relationSizes(client);
    return {
      dataset,
      asOf: asOf.toISOString(),
      subjects: {
        medianOwner: subjects.medianOwner.userId,
        medianOwnerExperiments: subjects.medianOwner.experiments,
        heaviestOwner: subjects.heaviestOwner.userId,
        heaviestOwnerExperiments: subjects.heaviestOwner.experiments,
        usedTemplate: subjects.usedTemplate.id,
        usedTemplateExperiments: subjects.usedTemplate.usageCount,
        medianTemplate: subjects.medianTemplate.id,
        medianTemplateExperiments: subjects.medianTemplate.usageCount,
        monthlyPartitions: sizes.find((size) => size.relation === MONTHLY)?.partitions ?? 0,
      },
      sizes,
      ...measured,
      migration,
      load,
      seconds: round((performance.now() - started) / 1000, 1),
    };
  });
}
