import cluster, { type Address, type Worker } from 'node:cluster';
import type pino from 'pino';
import { readOrCreateLocalSecret, usesLocalSecret } from './auth/local-secret';
import type { AppConfig } from './config';
import { Registry } from 'prom-client';
import { embeddedDatabaseUrl, loggedSupervision, migratedEmbeddedDatabase } from './db/database';
import { answerWorkersWithClusterMetrics } from './metrics/cluster-metrics';
import { embeddedDatabaseRestartsCounter } from './metrics/metrics';
import { stopOnSignals } from './shutdown-signals';

/** What the primary sends a worker to make it stop accepting, finish its requests and exit. */
export const DRAIN_MESSAGE = 'tessera:drain';

/** Workers replaced within this window count towards the limit of WORKERS replacements. */
const REPLACEMENT_WINDOW_MS = 60_000;

interface WorkerExit {
  code: number | null;
  signal: string | null;
}

/**
 * The primary of WORKERS processes sharing the port (node:cluster hands connections round-robin). It serves nothing
 * itself: it owns what must exist once (the embedded database, migrated before any worker starts, and the development
 * secret), replaces a worker that dies, gathers every worker's metrics for whichever worker is scraped, and on SIGTERM
 * or SIGINT drains every worker before it stops the database.
 */
export async function runPrimary(
  config: AppConfig,
  logger: pino.Logger,
  announce: (url: string, signsOwnTokens: boolean) => void,
): Promise<void> {
  // What the primary itself counts, added to the workers' metrics.
  const registry = new Registry();
  const restarts = embeddedDatabaseRestartsCounter(registry);
  // The database may be lost before the drain below exists: it drains as soon as it does.
  let databaseLost: string | undefined;
  let onDatabaseLost = (reason: string) => {
    databaseLost = reason;
  };
  const embedded = config.databaseUrl
    ? undefined
    : await migratedEmbeddedDatabase(config, (message) => logger.info(message), {
        server: loggedSupervision(
          logger,
          () => restarts.inc(),
          (reason) => onDatabaseLost(reason),
        ),
      });
  // Workers connect to the embedded database like to any other; with DATABASE_URL they inherit it.
  const workerEnv = embedded ? { DATABASE_URL: embeddedDatabaseUrl(embedded) } : {};
  const signsOwnTokens = usesLocalSecret(config.auth);
  try {
    // Made once here, or workers starting together would each write their own.
    if (signsOwnTokens) await readOrCreateLocalSecret(config.dataDir);
  } catch (error) {
    await embedded?.stop();
    throw error;
  }

  const exits = new Map<Worker, Promise<WorkerExit>>();
  const listening = new Set<Worker>();
  const replacedAt: number[] = [];
  let announced = false;
  let stopping = false;
  let failed = false;

  const fork = () => {
    const worker = cluster.fork(workerEnv);
    exits.set(worker, new Promise((resolve) => worker.once('exit', (code, signal) => resolve({ code, signal }))));
  };

  const stop = async (reason: string) => {
    stopping = true;
    embedded?.stopRestarting();
    logger.info({ reason, workers: exits.size }, 'shutting down: draining every worker');
    for (const worker of exits.keys()) if (worker.isConnected()) worker.send(DRAIN_MESSAGE);
    const outcomes = await Promise.all(exits.values());
    const unclean = outcomes.filter((exit) => exit.code !== 0);
    if (unclean.length > 0) logger.error({ exits: unclean }, 'workers stopped uncleanly');
    try {
      await embedded?.stop();
    } catch (error) {
      logger.error({ err: error }, 'embedded database did not stop cleanly');
      failed = true;
    }
    logger.info('stopped');
    process.exit(failed || unclean.length > 0 ? 1 : 0);
  };
  const shutdown = stopOnSignals(logger, (reason) => void stop(reason));
  onDatabaseLost = (reason) => {
    failed = true;
    shutdown.drain(reason);
  };
  if (databaseLost !== undefined) onDatabaseLost(databaseLost);

  cluster.on('listening', (worker: Worker, address: Address) => {
    // A worker listens on PORT first, then on METRICS_PORT when set: its first address is the GraphQL one.
    if (listening.has(worker)) return;
    listening.add(worker);
    if (announced || listening.size < config.workers) return;
    announced = true;
    const host = address.addressType === 6 ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}${config.graphqlPath}`;
    logger.info({ url, workers: config.workers, poolPerWorker: config.db.poolMax }, 'every worker is serving');
    announce(url, signsOwnTokens);
  });

  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    listening.delete(worker);
    exits.delete(worker);
    if (stopping) return;
    logger.error({ workerPid: worker.process.pid, code, signal }, 'worker exited unexpectedly');
    // Bounded: a worker that cannot run (a database down at start, a bug on every request) must not fork forever.
    const now = Date.now();
    while (replacedAt.length > 0 && now - replacedAt[0] > REPLACEMENT_WINDOW_MS) replacedAt.shift();
    if (replacedAt.length >= config.workers) {
      logger.fatal({ replaced: replacedAt.length, windowMs: REPLACEMENT_WINDOW_MS }, 'workers keep exiting: stopping the server');
      failed = true;
      shutdown.drain('workers keep exiting');
      return;
    }
    replacedAt.push(now);
    fork();
  });

  if (config.metrics.served) answerWorkersWithClusterMetrics(registry);
  logger.info({ workers: config.workers, poolPerWorker: config.db.poolMax }, 'starting workers');
  for (let i = 0; i < config.workers; i++) fork();
}
