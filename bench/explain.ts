import type { Client } from 'pg';
import { withClient } from './cluster';
import type { StatementStart } from '../src/db/sql';
import type { Stages } from './server';

/** The big tables: a sequential scan of any of them in a list query is a finding. */
export const WATCHED_TABLES = ['experiment_templates', 'ml_experiments', 'experiment_template_shares', 'experiment_template_versions'];

export interface SeqScan {
  table: string;
  rowsRead: number;
}

export interface ExplainedStatement {
  sql: string;
  bindings: unknown[];
  executionMs: number;
  planningMs: number;
  sharedHitBlocks: number;
  sharedReadBlocks: number;
  seqScans: SeqScan[];
  plan: string;
}

export interface ExplainResult {
  operation: string;
  /** Statements per variant explained, over every variant explained. */
  statements: ExplainedStatement[];
  seqScans: Array<SeqScan & { sql: string }>;
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

function seqScansOf(node: PlanNode, found: SeqScan[] = []): SeqScan[] {
  if (node['Node Type'] === 'Seq Scan' && node['Relation Name'] && WATCHED_TABLES.includes(node['Relation Name'])) {
    const loops = node['Actual Loops'] ?? 1;
    found.push({
      table: node['Relation Name'],
      rowsRead: Math.round(((node['Actual Rows'] ?? 0) + (node['Rows Removed by Filter'] ?? 0)) * loops),
    });
  }
  for (const child of node.Plans ?? []) seqScansOf(child, found);
  return found;
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of a statement exactly as the server sent it, after one plain run so the measured run
 * sees a warm cache, as the server's statements do under load. Inside a transaction that is rolled back: the
 * caller upsert is a write.
 */
async function explainStatement(client: Client, statement: StatementStart): Promise<ExplainedStatement> {
  const bindings = [...statement.values];
  await client.query('begin');
  try {
    await client.query(statement.sql, bindings);
    const json = await client.query(`explain (analyze, buffers, format json) ${statement.sql}`, bindings);
    const text = await client.query(`explain (analyze, buffers, format text) ${statement.sql}`, bindings);
    const [root] = json.rows[0]['QUERY PLAN'] as Array<{ Plan: PlanNode; 'Execution Time': number; 'Planning Time': number }>;
    return {
      sql: statement.sql,
      bindings: bindings,
      executionMs: root['Execution Time'],
      planningMs: root['Planning Time'],
      sharedHitBlocks: root.Plan['Shared Hit Blocks'] ?? 0,
      sharedReadBlocks: root.Plan['Shared Read Blocks'] ?? 0,
      seqScans: seqScansOf(root.Plan),
      plan: text.rows.map((row) => row['QUERY PLAN']).join('\n'),
    };
  } finally {
    await client.query('rollback');
  }
}

export async function explainOperation(databaseUrl: string, operation: string, captured: Stages[]): Promise<ExplainResult> {
  return withClient(databaseUrl, async (client) => {
    await client.query('set statement_timeout = 60000');
    const statements: ExplainedStatement[] = [];
    for (const stages of captured) {
      for (const statement of stages.flat()) statements.push(await explainStatement(client, statement));
    }
    const seqScans = statements.flatMap((statement) => statement.seqScans.map((scan) => ({ ...scan, sql: statement.sql })));
    return { operation, statements, seqScans };
  });
}
