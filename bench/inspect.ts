import path from 'node:path';
import { startBenchCluster, withClient } from './cluster';

/** `node dist/bench/inspect.js <database> <sql>...`: runs SQL against the bench cluster, for looking into a data set. */
async function main(): Promise<void> {
  const [database, ...statements] = process.argv.slice(2);
  const cluster = await startBenchCluster(path.resolve(process.env.BENCH_DATA_DIR ?? path.join('.data', 'bench')), () => undefined);
  try {
    await withClient(cluster.url(database), async (client) => {
      for (const sql of statements) {
        const result = await client.query(sql);
        const rows = Array.isArray(result) ? result.at(-1).rows : result.rows;
        console.table(rows);
      }
    });
  } finally {
    await cluster.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
