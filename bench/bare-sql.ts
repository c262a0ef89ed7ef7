import { createHash } from 'node:crypto';
import { Pool } from 'pg';
import { processTreeCpuMs, processCpuMs } from './cpu';
import { percentile, type LoadFigures } from './load-worker';
import type { Stages } from './server';

/**
 * The same SQL the server sent for each variant, replayed through the bare `pg` driver: `connections` workers, each
 * sending one variant's statements stage by stage (a stage's statements concurrently, as the DataLoaders send them),
 * on a pool as large as the server's, each statement sent as the server sent it: named (prepared once per connection,
 * its plan reusable) or unnamed (planned at every call).
 */
export async function runBareSql(
  databaseUrl: string,
  variants: Stages[],
  connections: number,
  durationSeconds: number,
  poolMax: number,
  postmaster: number,
): Promise<LoadFigures> {
  const pool = new Pool({ connectionString: databaseUrl, max: poolMax, application_name: 'bench-bare-pg' });
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let sampleError: string | undefined;
  const started = performance.now();
  const cpuAtStart = { client: processCpuMs(), postgres: processTreeCpuMs(postmaster) };
  const deadline = started + durationSeconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      const stages = variants[next % variants.length];
      next += 1;
      const sent = performance.now();
      try {
        for (const stage of stages) {
          await Promise.all(
            stage.map((statement) =>
              pool.query({
                name: statement.prepared ? statementName(statement.sql) : undefined,
                text: statement.sql,
                values: [...statement.values],
              }),
            ),
          );
        }
        latencies.push(performance.now() - sent);
      } catch (error) {
        errors += 1;
        sampleError ??= String(error);
      }
    }
  };
  let seconds: number;
  let cpu: { client: number; postgres: number };
  try {
    await Promise.all(Array.from({ length: connections }, worker));
    seconds = (performance.now() - started) / 1000;
    // Before the pool closes: an exiting backend's CPU time is briefly counted nowhere.
    cpu = { client: processCpuMs() - cpuAtStart.client, postgres: processTreeCpuMs(postmaster) - cpuAtStart.postgres };
  } finally {
    await pool.end();
  }
  latencies.sort((a, b) => a - b);
  const round = (value: number) => Math.round(value * 100) / 100;
  return {
    requests: latencies.length,
    seconds: round(seconds),
    requestsPerSecond: round(latencies.length / seconds),
    p50Ms: round(percentile(latencies, 50)),
    p99Ms: round(percentile(latencies, 99)),
    maxMs: round(latencies[latencies.length - 1] ?? 0),
    non2xx: 0,
    errors,
    timeouts: 0,
    graphqlErrors: 0,
    sampleError,
    cpuMsPerRequest: {
      client: round(cpu.client / Math.max(1, latencies.length)),
      postgres: round(cpu.postgres / Math.max(1, latencies.length)),
    },
  };
}

const names = new Map<string, string>();

function statementName(text: string): string {
  let name = names.get(text);
  if (!name) {
    name = `bare_${createHash('sha1').update(text).digest('base64url')}`;
    names.set(text, name);
  }
  return name;
}
