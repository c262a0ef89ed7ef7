import type { Client } from 'pg';
import { indexFor, secondaryIndexes } from './scaling-data';
import { round, timed } from './scaling-measure';

export interface MigrationStep {
  step: string;
  sql: string;
  ms: number;
  lock: string;
}

export interface AttachMigration {
  cutoff: string;
  steps: MigrationStep[];
  naiveAttach: MigrationStep;
  undo: MigrationStep[];
}

/**
 * Turns the live table into a partitioned one without copying it, as a migration at 10^8 rows would, timing each step:
 * a CHECK constraint that bounds created_at (added NOT VALID, validated under a lock that lets reads and writes
 * through), a unique (id, created_at) index built concurrently for the primary key a partitioned table must have, an
 * empty partitioned table with monthly partitions from the cutoff on, then one short transaction that renames both
 * and attaches the old table as the partition of everything before the cutoff; the CHECK spares the attach its scan.
 * Then the same attach without the CHECK (it scans the table under an exclusive lock), and the way back.
 */
export async function measureAttachMigration(client: Client, log: (line: string) => void): Promise<AttachMigration> {
  const now = new Date();
  const cutoff = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1));
  const suffix = `${cutoff.getUTCFullYear()}_${String(cutoff.getUTCMonth() + 1).padStart(2, '0')}`;
  const legacy = `ml_experiments_before_${suffix}`;
  const parent = 'ml_experiments_partitioned';
  const check = 'ml_experiments_created_at_before_cutoff';
  const unique = 'ml_experiments_id_created_at_unique';
  const steps: MigrationStep[] = [];
  const step = async (name: string, lock: string, sql: string) => {
    const ms = await timed(() => client.query(sql));
    steps.push({ step: name, sql, ms: round(ms, 1), lock });
    log(`  migration: ${name}: ${round(ms, 1)} ms`);
  };
  const indexes = (await secondaryIndexes(client, 'ml_experiments')).map((index) => indexFor(index, 'ml_experiments', parent));
  const { rows: foreignKeys } = await client.query<{ name: string; definition: string }>(
    `select conname as name, pg_get_constraintdef(oid) as definition from pg_constraint
     where conrelid = 'ml_experiments'::regclass and contype = 'f' order by conname`,
  );
  await step(
    'bound created_at: CHECK added NOT VALID',
    'ACCESS EXCLUSIVE, no scan',
    `alter table ml_experiments add constraint ${check} check (created_at < '${cutoff.toISOString()}') not valid`,
  );
  await step(
    'validate the CHECK',
    'SHARE UPDATE EXCLUSIVE (reads and writes go on)',
    `alter table ml_experiments validate constraint ${check}`,
  );
  await step(
    'unique (id, created_at) for the primary key, built concurrently',
    'SHARE UPDATE EXCLUSIVE (reads and writes go on)',
    `create unique index concurrently ${unique} on ml_experiments (id, created_at)`,
  );
  const months = [0, 1, 2].map((ahead) => new Date(Date.UTC(cutoff.getUTCFullYear(), cutoff.getUTCMonth() + ahead, 1)));
  await step(
    'the partitioned table: same columns, checks, indexes and foreign keys, primary key (id, created_at), 3 monthly partitions from the cutoff',
    'none on ml_experiments',
    [
      `create table ${parent} (like ml_experiments including defaults including constraints) partition by range (created_at)`,
      `alter table ${parent} drop constraint ${check}`,
      `alter table ${parent} add constraint ${parent}_pkey primary key (id, created_at)`,
      ...indexes.map((index) => index.definition),
      ...foreignKeys.map((fk) => `alter table ${parent} add constraint ${fk.name.replace('ml_experiments', parent)} ${fk.definition}`),
      ...months.map(
        (month) =>
          `create table ${parent}_${month.getUTCFullYear()}_${String(month.getUTCMonth() + 1).padStart(2, '0')} partition of ${parent} ` +
          `for values from ('${month.toISOString()}') to ('${new Date(Date.UTC(month.getUTCFullYear(), month.getUTCMonth() + 1, 1)).toISOString()}')`,
      ),
    ].join(';\n'),
  );
  await step(
    'swap, in one transaction: rename both, primary key (id, created_at) from the unique index, attach the old table',
    'ACCESS EXCLUSIVE on ml_experiments for the transaction',
    [
      'begin',
      `alter table ml_experiments rename to ${legacy}`,
      `alter table ${parent} rename to ml_experiments`,
      `alter table ${legacy} drop constraint ml_experiments_pkey, add constraint ${legacy}_pkey primary key using index ${unique}`,
      `alter table ml_experiments attach partition ${legacy} for values from (minvalue) to ('${cutoff.toISOString()}')`,
      'commit',
    ].join(';\n'),
  );
  const { rows: attached } = await client.query<{ partitions: number }>(
    `select count(*)::integer as partitions from pg_partition_tree('ml_experiments') where isleaf`,
  );
  log(`  migration: ml_experiments now has ${attached[0].partitions} partitions`);

  await client.query(`alter table ml_experiments detach partition ${legacy}`);
  await client.query(`alter table ${legacy} drop constraint ${check}`);
  const naiveSql = `alter table ml_experiments attach partition ${legacy} for values from (minvalue) to ('${cutoff.toISOString()}')`;
  const naiveMs = await timed(() => client.query(naiveSql));
  const naiveAttach = {
    step: 'the same attach without the CHECK: the partition constraint is checked by a scan',
    sql: naiveSql,
    ms: round(naiveMs, 1),
    lock: 'ACCESS EXCLUSIVE on the old table for the scan',
  };
  log(`  migration: attach without the CHECK: ${naiveAttach.ms} ms`);

  const undo: MigrationStep[] = [];
  const undoStep = async (name: string, lock: string, sql: string) => {
    const ms = await timed(() => client.query(sql));
    undo.push({ step: name, sql, ms: round(ms, 1), lock });
  };
  await undoStep(
    'the way back: detach and rename, in one transaction',
    'ACCESS EXCLUSIVE on both for the transaction',
    [
      'begin',
      `alter table ml_experiments detach partition ${legacy}`,
      `alter table ml_experiments rename to ${parent}`,
      `alter table ${legacy} rename to ml_experiments`,
      'commit',
    ].join(';\n'),
  );
  await undoStep('drop the partitioned table', 'none on ml_experiments', `drop table ${parent}`);
  await undoStep(
    'unique (id) for the old primary key, built concurrently',
    'SHARE UPDATE EXCLUSIVE (reads and writes go on)',
    `create unique index concurrently ml_experiments_id_unique on ml_experiments (id)`,
  );
  await undoStep(
    'primary key (id) from it',
    'ACCESS EXCLUSIVE, no scan',
    `alter table ml_experiments drop constraint ${legacy}_pkey, add constraint ml_experiments_pkey primary key using index ml_experiments_id_unique`,
  );
  log(`  migration: undone in ${round(undo.reduce((sum, s) => sum + s.ms, 0) / 1000, 1)} s`);
  return { cutoff: cutoff.toISOString(), steps, naiveAttach, undo };
}
