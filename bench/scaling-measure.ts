import { createHash } from 'node:crypto';
import type { Client, QueryResultRow } from 'pg';
import type { Reader } from '../src/db/sql';
import { percentile } from './load-worker';
import type { Mode } from './options';

export interface Timing {
  runs: number;
  medianMs: number;
  p99Ms: number;
  minMs: number;
  maxMs: number;
}

export interface PlanFigures {
  executionMs: number;
  planningMs: number;
  hitBlocks: number;
  readBlocks: number;
  rows: number;
  /** Tables and partitions the plan scanned (each counted once), and partitions pruned at run time. */
  relationsRead: number;
  subplansRemoved: number;
  plan: string;
}

export interface VariantResult {
  label: string;
  sql: string;
  values: unknown[];
  explain: PlanFigures | null;
  timing: Timing;
}

export interface CaseResult {
  key: string;
  title: string;
  variants: VariantResult[];
}

export interface Budget {
  maxRuns: number;
  minRuns: number;
  caseSeconds: number;
  shardRuns: number;
}

export const BUDGETS: Record<Mode, Budget> = {
  full: { maxRuns: 200, minRuns: 5, caseSeconds: 15, shardRuns: 30 },
  quick: { maxRuns: 20, minRuns: 3, caseSeconds: 1, shardRuns: 3 },
};

export interface Statement {
  sql: string;
  values: unknown[];
}

export interface Variant {
  label: string;
  sql: string;
  /** The values of run `run` (the same for every run unless the case rotates through several subjects). */
  values: (run: number) => unknown[];
  /** A write: each run is rolled back, and only the statement itself is timed. */
  writes?: boolean;
}

export interface QueryCase {
  key: string;
  title: string;
  variants: Variant[];
}

export const round = (value: number, digits = 2) => Math.round(value * 10 ** digits) / 10 ** digits;
export const statementName = (sql: string) => `s_${createHash('sha1').update(sql).digest('base64url')}`;

/** A Reader that runs each statement on `client` and keeps it: the SQL the server's own list and loader code sends. */
export function recordingReader(client: Client, sent: Statement[]): Reader {
  return {
    async rows<Row extends QueryResultRow>(text: string, values: readonly unknown[] = []): Promise<Row[]> {
      sent.push({ sql: text, values: [...values] });
      return (await client.query<Row>(text, [...values])).rows;
    },
  };
}

export async function sentBy(client: Client, work: (reader: Reader) => Promise<unknown>): Promise<Statement[]> {
  const sent: Statement[] = [];
  await work(recordingReader(client, sent));
  return sent;
}

export async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

export function timingOf(latencies: number[]): Timing {
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    runs: sorted.length,
    medianMs: round(percentile(sorted, 50), 3),
    p99Ms: round(percentile(sorted, 99), 3),
    minMs: round(sorted[0] ?? 0, 3),
    maxMs: round(sorted[sorted.length - 1] ?? 0, 3),
  };
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Loops'?: number;
  'Subplans Removed'?: number;
  Plans?: PlanNode[];
}

/** Collects the relations the plan scanned: a scan the executor never started (an ordered Append stopped early) reads nothing. */
function walkPlan(node: PlanNode, relations: Set<string>): number {
  if (node['Relation Name'] && (node['Actual Loops'] ?? 0) > 0) relations.add(node['Relation Name']);
  let removed = node['Subplans Removed'] ?? 0;
  for (const child of node.Plans ?? []) removed += walkPlan(child, relations);
  return removed;
}

/** EXPLAIN (ANALYZE, BUFFERS) with the statement's values, on a warm cache, in a transaction rolled back after. */
export async function explain(client: Client, sql: string, values: unknown[]): Promise<PlanFigures> {
  await client.query('begin');
  try {
    const json = await client.query(`explain (analyze, buffers, format json) ${sql}`, values);
    const text = await client.query(`explain (analyze, buffers, format text) ${sql}`, values);
    const [root] = json.rows[0]['QUERY PLAN'] as Array<{
      Plan: PlanNode & { 'Shared Hit Blocks'?: number; 'Shared Read Blocks'?: number; 'Actual Rows'?: number };
      'Execution Time': number;
      'Planning Time': number;
    }>;
    const relations = new Set<string>();
    const subplansRemoved = walkPlan(root.Plan, relations);
    return {
      executionMs: round(root['Execution Time'], 3),
      planningMs: round(root['Planning Time'], 3),
      hitBlocks: root.Plan['Shared Hit Blocks'] ?? 0,
      readBlocks: root.Plan['Shared Read Blocks'] ?? 0,
      rows: root.Plan['Actual Rows'] ?? 0,
      relationsRead: relations.size,
      subplansRemoved,
      plan: text.rows.map((row) => row['QUERY PLAN']).join('\n'),
    };
  } finally {
    await client.query('rollback');
  }
}

/** One run as the server sends it: a named prepared statement, so PostgreSQL may settle on a generic plan. */
export const runPrepared = (client: Client, variant: Variant, run: number) =>
  client.query({ name: statementName(variant.sql), text: variant.sql, values: variant.values(run) });

/** The time of one run; a write runs inside a transaction that is rolled back, outside the time taken. */
async function timedRun(client: Client, variant: Variant, run: number): Promise<number> {
  if (!variant.writes) return timed(() => runPrepared(client, variant, run));
  await client.query('begin');
  try {
    return await timed(() => runPrepared(client, variant, run));
  } finally {
    await client.query('rollback');
  }
}

/** Warms the cache (up to 3 runs or 3 s), explains each variant, then times the variants in interleaved rounds. */
export async function measureCase(client: Client, queryCase: QueryCase, budget: Budget, log: (line: string) => void): Promise<CaseResult> {
  const explained: Array<PlanFigures | null> = [];
  for (const variant of queryCase.variants) {
    const warmStarted = performance.now();
    for (let run = 0; run < 3 && performance.now() - warmStarted < 3_000; run += 1) await timedRun(client, variant, run);
    explained.push(await explain(client, variant.sql, variant.values(0)));
  }
  const latencies: number[][] = queryCase.variants.map(() => []);
  const started = performance.now();
  for (let run = 0; run < budget.maxRuns; run += 1) {
    if (run >= budget.minRuns && performance.now() - started > budget.caseSeconds * 1000) break;
    for (const [index, variant] of queryCase.variants.entries()) latencies[index].push(await timedRun(client, variant, run));
  }
  const result: CaseResult = {
    key: queryCase.key,
    title: queryCase.title,
    variants: queryCase.variants.map((variant, index) => ({
      label: variant.label,
      sql: variant.sql,
      values: variant.values(0),
      explain: explained[index],
      timing: timingOf(latencies[index]),
    })),
  };
  log(
    `  ${queryCase.key}: ${result.variants.map((v) => `${v.label} ${v.timing.medianMs} ms (p99 ${v.timing.p99Ms}, n ${v.timing.runs})`).join('; ')}`,
  );
  return result;
}
