import type { Client } from 'pg';
import type { Actor } from '../src/auth/actor';
import { TemplateCategory } from '../src/template/template-category';
import { listTemplates, TemplateScope } from '../src/template/template-list';
import { percentile } from './load-worker';
import { TEMPLATE_SHARDS, templateShard } from './scaling-data';
import {
  explain,
  measureCase,
  round,
  runPrepared,
  sentBy,
  timed,
  timingOf,
  type Budget,
  type Statement,
  type Variant,
  type VariantResult,
} from './scaling-measure';

export interface ShardCaseResult {
  key: string;
  title: string;
  single: VariantResult;
  shards: {
    count: number;
    medianShardMs: number;
    maxShardMs: number;
    /** The work of one multi-shard query: every shard's median, summed. */
    sumOfShardMediansMs: number;
    sumExecutionMs: number;
    sumBlocks: number;
    rowsToCoordinator: number;
    sql: string;
  };
}

/**
 * The template reads a Citus cluster would fan out if experiment_templates were distributed: the statement the server
 * sends, run on the whole table (one node, or a reference table) and on each of 32 hash partitions of id (one shard
 * each, as a worker would run it; the coordinator's merge of their rows and the network are not measured).
 */
export async function templateShardCases(
  client: Client,
  caller: Actor,
  budget: Budget,
  log: (line: string) => void,
): Promise<ShardCaseResult[]> {
  const listing = { withOwner: true, withSharedWith: true };
  const [visiblePage, visibleCount] = await sentBy(client, (reader) =>
    listTemplates(reader, caller, {}, { first: 20 }, { ...listing, withTotalCount: true }),
  );
  const [minePage] = await sentBy(client, (reader) =>
    listTemplates(reader, caller, { filter: { scope: TemplateScope.MINE } }, { first: 20 }, listing),
  );
  const [categoryPage] = await sentBy(client, (reader) =>
    listTemplates(reader, caller, { filter: { categories: [TemplateCategory.CLASSIFICATION] } }, { first: 20 }, listing),
  );
  const cases: Array<{ key: string; title: string; statement: Statement }> = [
    {
      key: 'templates-visible',
      title: 'visible templates, most recently updated first (page of 20 with owners and shares)',
      statement: visiblePage,
    },
    { key: 'templates-visible-count', title: 'their totalCount', statement: visibleCount },
    { key: 'templates-mine', title: "the caller's own templates (scope MINE), page of 20", statement: minePage },
    { key: 'templates-category', title: 'one category, most recently updated first (operation A)', statement: categoryPage },
  ];
  const results: ShardCaseResult[] = [];
  for (const { key, title, statement } of cases) {
    const single = await measureCase(
      client,
      { key, title, variants: [{ label: 'experiment_templates', sql: statement.sql, values: () => statement.values }] },
      budget,
      () => undefined,
    );
    const shardSql = (remainder: number) => {
      const sql = statement.sql.replace(/\bfrom experiment_templates t\b/, `from ${templateShard(remainder)} t`);
      if (sql === statement.sql) throw new Error(`no experiment_templates in ${statement.sql}`);
      return sql;
    };
    const medians: number[] = [];
    let sumExecutionMs = 0;
    let sumBlocks = 0;
    let rowsToCoordinator = 0;
    for (let remainder = 0; remainder < TEMPLATE_SHARDS; remainder += 1) {
      const variant: Variant = { label: templateShard(remainder), sql: shardSql(remainder), values: () => statement.values };
      for (let run = 0; run < 2; run += 1) await runPrepared(client, variant, run);
      const plan = await explain(client, variant.sql, statement.values);
      sumExecutionMs += plan.executionMs;
      sumBlocks += plan.hitBlocks + plan.readBlocks;
      rowsToCoordinator += plan.rows;
      const latencies: number[] = [];
      for (let run = 0; run < budget.shardRuns; run += 1) latencies.push(await timed(() => runPrepared(client, variant, run)));
      medians.push(timingOf(latencies).medianMs);
    }
    const sorted = [...medians].sort((a, b) => a - b);
    const result: ShardCaseResult = {
      key,
      title,
      single: single.variants[0],
      shards: {
        count: TEMPLATE_SHARDS,
        medianShardMs: round(percentile(sorted, 50), 3),
        maxShardMs: round(sorted[sorted.length - 1], 3),
        sumOfShardMediansMs: round(
          medians.reduce((sum, value) => sum + value, 0),
          2,
        ),
        sumExecutionMs: round(sumExecutionMs, 2),
        sumBlocks,
        rowsToCoordinator,
        sql: shardSql(0),
      },
    };
    log(
      `  ${key}: one table ${result.single.timing.medianMs} ms; per shard ${result.shards.medianShardMs} ms (max ${result.shards.maxShardMs}), ` +
        `${TEMPLATE_SHARDS} shards ${result.shards.sumOfShardMediansMs} ms in all`,
    );
    results.push(result);
  }
  return results;
}
