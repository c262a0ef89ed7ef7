import { mb, table, type Machine } from './report';
import type { ScalingResult } from './scaling';
import type { VariantResult } from './scaling-measure';

const ms = (value: number) => (value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2));
const percent = (share: number) => `${Math.round(share * 100)}%`;

function planCells(variant: VariantResult): Array<string | number> {
  const plan = variant.explain;
  if (!plan) return ['-', '-', '-', '-', '-'];
  return [
    ms(plan.executionMs),
    ms(plan.planningMs),
    `${plan.hitBlocks} / ${plan.readBlocks}`,
    plan.rows,
    plan.subplansRemoved ? `${plan.relationsRead} (${plan.subplansRemoved} pruned at run time)` : plan.relationsRead,
  ];
}

export function scalingMarkdown(result: ScalingResult, command: string, machine: Machine): string {
  const parts: string[] = [];
  const { dataset, load } = result;
  parts.push(`## Scaling bench ${dataset.database}: \`${command}\``);
  parts.push(
    `${machine.cores} cores (${machine.cpuModel}), ${machine.memoryGiB} GiB RAM, Node ${machine.node}, PostgreSQL ${machine.postgres}; ` +
      `phase took ${result.seconds.toFixed(0)} s. While the reads and writes were timed: 1-minute load average ${load.atStart} at start, ` +
      `${load.atEnd} at end (samples every 5 s: ${Math.min(...load.samples)} to ${Math.max(...load.samples)}); cores busy ${percent(load.coresBusy)}, ` +
      `of which PostgreSQL ${percent(load.postgresShare)} and others (neither PostgreSQL nor the bench) ${percent(load.othersShare)}.`,
  );

  parts.push(
    `### Data set (${dataset.reused ? 'reused; ' : ''}generated in ${dataset.seconds.toFixed(0)} s, as of ${dataset.generatedAt})`,
  );
  parts.push(
    `${dataset.scale.users} users, ${dataset.scale.templates} templates, ${dataset.scale.experiments} experiments: the first tenth with ` +
      `the main data set's documents (a template's configuration of a few KB), the rest with a configuration of about 100 bytes.`,
  );
  parts.push(
    table(
      ['step', 's'],
      dataset.steps.map((step) => [step.step, step.seconds.toFixed(1)]),
    ),
  );

  parts.push('### Sizes');
  parts.push(
    table(
      ['relation', 'partitions', 'rows', 'table (with TOAST)', 'indexes', 'total'],
      result.sizes.map((size) => [
        size.relation,
        size.partitions || '-',
        size.rows,
        mb(size.tableBytes),
        mb(size.indexBytes),
        mb(size.tableBytes + size.indexBytes),
      ]),
    ),
  );
  parts.push(
    table(
      ['index', 'size'],
      result.sizes
        .filter((size) => /^(ml_experiments|template_usage|template_recent)/.test(size.relation))
        .flatMap((size) => size.indexes.map((index) => [index.name, mb(index.bytes)])),
    ),
  );

  parts.push('### Reads and writes, warm cache');
  parts.push(
    'Median and p99 of the runs, from send to answer over a local connection, each statement a named prepared statement as ' +
      'the server sends it; variants of a query run in turn, round after round, so machine load weighs on each alike. ' +
      'EXPLAIN (ANALYZE, BUFFERS) once with the same values.',
  );
  parts.push(
    table(
      ['query', 'table', 'median ms', 'p99 ms', 'runs', 'EXPLAIN ms', 'planning ms', 'buffers hit / read', 'rows', 'relations read'],
      result.cases.flatMap((queryCase) =>
        queryCase.variants.map((variant, index) => [
          index === 0 ? `**${queryCase.key}**: ${queryCase.title}` : '',
          variant.label,
          ms(variant.timing.medianMs),
          ms(variant.timing.p99Ms),
          variant.timing.runs,
          ...planCells(variant),
        ]),
      ),
    ),
  );

  parts.push('### The TRENDING index, built as a migration would, and the ranking, filled');
  parts.push(
    table(
      ['index', 'how', 's', 'longest partition s'],
      result.indexBuilds.map((build) => [build.index, build.how, build.seconds, build.longestPartitionSeconds ?? '-']),
    ),
  );

  parts.push(`### Templates: one table against ${result.shardCases[0]?.shards.count ?? 0} shards`);
  parts.push(
    'The statement the server sends, on experiment_templates and on each hash partition of id (one per shard, as a worker ' +
      "would run it on its shard). Not measured: the coordinator's merge of the shards' rows and the network.",
  );
  parts.push(
    table(
      [
        'query',
        'one table: median ms',
        'one table: buffers',
        'per shard: median ms (slowest shard)',
        'all shards: sum of medians ms',
        'all shards: buffers',
        'rows to the coordinator',
      ],
      result.shardCases.map((shardCase) => [
        `**${shardCase.key}**: ${shardCase.title}`,
        ms(shardCase.single.timing.medianMs),
        shardCase.single.explain ? shardCase.single.explain.hitBlocks + shardCase.single.explain.readBlocks : '-',
        `${ms(shardCase.shards.medianShardMs)} (${ms(shardCase.shards.maxShardMs)})`,
        ms(shardCase.shards.sumOfShardMediansMs),
        shardCase.shards.sumBlocks,
        shardCase.shards.rowsToCoordinator,
      ]),
    ),
  );

  const migration = result.migration;
  parts.push(`### Partitioning the live table: attach it whole (cutoff ${migration.cutoff})`);
  parts.push(
    table(
      ['step', 'ms', 'lock on ml_experiments'],
      [...migration.steps, migration.naiveAttach, ...migration.undo].map((step) => [step.step, step.ms, step.lock]),
    ),
  );
  parts.push(
    'Subjects: ' +
      Object.entries(result.subjects)
        .map(([key, value]) => `${key} ${value}`)
        .join(', ') +
      '.',
  );
  return `${parts.join('\n\n')}\n`;
}

export function scalingPlans(result: ScalingResult): string {
  const sections: string[] = [];
  for (const queryCase of result.cases) {
    sections.push(`## ${queryCase.key}: ${queryCase.title}`);
    for (const variant of queryCase.variants) {
      sections.push(
        `### ${variant.label}\n\n\`\`\`sql\n${variant.sql}\n\`\`\`\n\n-- values: ${JSON.stringify(variant.values)}\n\n` +
          (variant.explain ? `\`\`\`\n${variant.explain.plan}\n\`\`\`` : ''),
      );
    }
  }
  for (const shardCase of result.shardCases) {
    sections.push(`## ${shardCase.key}: ${shardCase.title}`);
    sections.push(`### experiment_templates\n\n\`\`\`\n${shardCase.single.explain?.plan ?? ''}\n\`\`\``);
    sections.push(`### one shard (the first)\n\n\`\`\`sql\n${shardCase.shards.sql}\n\`\`\``);
  }
  sections.push('## Partitioning the live table');
  for (const step of [...result.migration.steps, result.migration.naiveAttach, ...result.migration.undo]) {
    sections.push(`### ${step.step} (${step.ms} ms)\n\n\`\`\`sql\n${step.sql}\n\`\`\``);
  }
  return `${sections.map((section) => section.trimEnd()).join('\n\n')}\n`;
}
