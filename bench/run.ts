import 'reflect-metadata';
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { BENCH_SETTINGS, startBenchCluster, withClient } from './cluster';
import { postmasterPid } from './cpu';
import { prepareMainDataset, prepareMigrationBase } from './generate';
import { removeLoadRows, runServerBench } from './http-load';
import { runMigrationBench } from './migration';
import { DEFAULT_PHASES, parseOptions } from './options';
import { runRateLimitBench } from './rate-limits';
import { runScaleBench } from './scale';
import { runScalingBench, type ScalingResult } from './scaling';
import { scalingMarkdown, scalingPlans } from './scaling-report';
import { checkTargets, markdown, plansText, type BenchResult } from './report';
import { buildOperations, labelOf } from './workload';

/**
 * `npm run bench`: the design's figures on a generated data set. Phases: the extension migration over existing
 * experiments, data generation (or reuse), EXPLAIN of every list query, HTTP load against the real server and the
 * same SQL through bare `pg`, and the reads against the server in processes of its own, with 1 and 2 workers, directly
 * and through PgBouncer. Prints a markdown report and writes bench/results/<mode>.{json,md} and the plans. The scaling
 * phase (only when asked for) measures on a data set of its own and writes bench/results/<mode>-scaling.*.
 */
async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const log = (line: string) => process.stdout.write(`${line}\n`);
  const started = performance.now();
  const cpus = os.cpus();
  const result: Omit<BenchResult, 'targets'> = {
    mode: options.mode,
    command: ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' '),
    startedAt: new Date().toISOString(),
    seconds: 0,
    machine: {
      cores: cpus.length,
      cpuModel: cpus[0]?.model.trim() ?? 'unknown',
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
      node: process.version,
      postgres: '',
      settings: BENCH_SETTINGS,
      loadAverageAtStart: Math.round(os.loadavg()[0] * 100) / 100,
    },
  };

  const cluster = await startBenchCluster(options.dataDir, log);
  let scaling: ScalingResult | undefined;
  try {
    result.machine.postgres = await withClient(
      cluster.serverUrl,
      async (client) => (await client.query('show server_version')).rows[0].server_version,
    );

    if (options.phases.has('migration')) {
      result.migrationBase = await prepareMigrationBase(cluster.serverUrl, cluster.url, options.mode, options.scale, options.reuse, log);
      result.migration = await runMigrationBench(cluster.serverUrl, cluster.url, result.migrationBase, options.mode, log);
    }

    const explain = options.phases.has('explain');
    const http = options.phases.has('http');
    const soak = options.soakSeconds > 0;
    const scale = options.phases.has('scale');
    const limits = options.phases.has('limits');
    if (options.phases.has('generate') || explain || http || soak || scale || limits) {
      result.dataset = await prepareMainDataset(cluster.serverUrl, cluster.url, options.mode, options.scale, options.reuse, log);
    }
    const operations =
      result.dataset && (explain || http || soak || scale || limits)
        ? (await buildOperations(result.dataset.url, options.mode === 'full' ? 64 : 16)).filter(
            (operation) =>
              options.operations.length === 0 ||
              options.operations.some((name) => labelOf(operation.name, operation.costCase).includes(name)),
          )
        : [];
    const postmaster = postmasterPid(path.join(options.dataDir, 'pg'));
    if (result.dataset && (explain || http || soak)) {
      result.server = await runServerBench(result.dataset.url, operations, {
        connections: options.connections,
        durationSeconds: options.durationSeconds,
        warmupSeconds: options.mode === 'full' ? 2 : 0.25,
        explainVariants: options.mode === 'full' ? 3 : 1,
        phases: { explain, http },
        bare: options.bare,
        soakSeconds: options.soakSeconds,
        clusterUrl: cluster.serverUrl,
        postmaster,
        log,
      });
    }
    // The load on the server in processes of its own, in the scale and limits phases.
    const serverProcessLoad = {
      connections: options.connections,
      durationSeconds: options.durationSeconds,
      warmupSeconds: options.mode === 'full' ? 2 : 0.25,
      clusterUrl: cluster.serverUrl,
      postmaster,
      log,
    };
    if (result.dataset && scale) {
      // By default the operations of the issue "Reads at PostGraphile's cost" (A to D), in quick mode A alone to keep CI
      // short; --operations names others (the configuration filters, TRENDING) to measure them as production runs them.
      const costCases = operations.filter((operation) => operation.costCase);
      const scaleOperations = options.operations.length > 0 ? operations : options.mode === 'full' ? costCases : costCases.slice(0, 1);
      log('scale: 1 and 2 workers, direct and through PgBouncer');
      const scaleStarted = new Date();
      result.scale = await runScaleBench(result.dataset.url, scaleOperations, serverProcessLoad);
      await removeLoadRows(result.dataset.url, scaleOperations, scaleStarted);
    }
    if (result.dataset && limits) {
      const pageA = operations.find((operation) => operation.costCase === 'A');
      if (pageA) {
        log('limits: A with its rate limits counted per process, then shared in PostgreSQL; the limiter on its own');
        result.rateLimits = await runRateLimitBench(result.dataset.url, pageA, serverProcessLoad);
      } else log('limits: skipped (--operations leaves out A)');
    }
    if (options.phases.has('scaling')) {
      scaling = await runScalingBench(cluster.serverUrl, cluster.url, options.mode, options.reuse, postmaster, log);
    }
  } finally {
    await cluster.stop();
  }

  result.seconds = (performance.now() - started) / 1000;
  result.machine.loadAverageAtEnd = Math.round(os.loadavg()[0] * 100) / 100;
  const final: BenchResult = { ...result, targets: checkTargets(result) };
  await mkdir(options.resultsDir, { recursive: true });
  const written = (name: string) => log(`written: ${path.relative(process.cwd(), options.resultsDir)}/${name}`);
  if (scaling) {
    const name = `${options.mode}-scaling`;
    const report = scalingMarkdown(scaling, result.command, result.machine);
    log('');
    log(report);
    await writeFile(path.join(options.resultsDir, `${name}.json`), `${JSON.stringify({ machine: result.machine, ...scaling }, null, 2)}\n`);
    await writeFile(path.join(options.resultsDir, `${name}.md`), report);
    await writeFile(path.join(options.resultsDir, `${name}-plans.md`), scalingPlans(scaling));
    written(`${name}.{json,md} and ${name}-plans.md`);
  }
  if (DEFAULT_PHASES.some((phase) => options.phases.has(phase))) {
    const report = markdown(final);
    log('');
    log(report);
    // A run of some phases or operations only must not overwrite the figures of a complete one.
    const partial = DEFAULT_PHASES.some((phase) => !options.phases.has(phase)) || options.operations.length > 0 || !options.bare;
    const name = partial ? `${options.mode}-partial` : options.mode;
    await writeFile(path.join(options.resultsDir, `${name}.json`), `${JSON.stringify(final, null, 2)}\n`);
    await writeFile(path.join(options.resultsDir, `${name}.md`), report);
    if (final.server?.explain.length) await writeFile(path.join(options.resultsDir, `${name}-plans.md`), plansText(final));
    written(`${name}.{json,md}`);
  }

  // Timing targets are reported, never enforced (they depend on the machine); broken behaviour fails the run.
  const broken = brokenChecks(final);
  if (broken.length > 0) {
    process.stderr.write(`bench found problems:\n- ${broken.join('\n- ')}\n`);
    process.exitCode = 1;
  }
}

function brokenChecks(result: BenchResult): string[] {
  const problems: string[] = [];
  if (result.migration?.rewritten) problems.push('the migration rewrote ml_experiments');
  if (result.migration?.rebuiltIndexes.length) problems.push(`the migration rebuilt ${result.migration.rebuiltIndexes.join(', ')}`);
  if (result.migration?.invalidIndexes.length)
    problems.push(`invalid indexes after migrating: ${result.migration.invalidIndexes.join(', ')}`);
  for (const entry of result.server?.operations ?? []) {
    const failed = entry.graphql.non2xx + entry.graphql.errors + entry.graphql.graphqlErrors + (entry.bare?.errors ?? 0);
    if (failed > 0)
      problems.push(
        `${labelOf(entry.operation, entry.costCase)}: ${failed} failed requests (${entry.graphql.sampleError ?? entry.bare?.sampleError})`,
      );
  }
  for (const run of result.scale?.runs ?? []) {
    const failed = run.graphql.non2xx + run.graphql.errors + run.graphql.graphqlErrors;
    if (failed > 0)
      problems.push(
        `${labelOf(run.operation, run.costCase)}, ${run.workers} workers, ${run.database}: ${failed} failed requests (${run.graphql.sampleError})`,
      );
  }
  const limits = result.rateLimits;
  for (const run of limits?.runs ?? []) {
    const failed = run.graphql.non2xx + run.graphql.errors + run.graphql.graphqlErrors;
    if (failed > 0)
      problems.push(
        `${labelOf(limits!.operation, limits!.costCase)}, limits counted in ${run.store}: ${failed} failed requests (${run.graphql.sampleError})`,
      );
  }
  const soak = result.server?.soak;
  if (soak?.failed) problems.push(`soak: ${soak.failed} failed requests (${soak.sampleError})`);
  for (const check of result.server?.pageSizes ?? []) {
    if (!check.constant) problems.push(`${check.operation}: statements grow with the page size ${JSON.stringify(check.statements)}`);
  }
  return problems;
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
