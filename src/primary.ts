import cluster, { type Address, type Worker } from 'node:cluster';
import { setTimeout as sleep } from 'node:timers/promises';
import type pino from 'pino';
import { readOrCreateLocalSecret, usesLocalSecret } from './auth/local-secret';
import type { AppConfig } from './config';
import { Registry } from 'prom-client';
import { embeddedDatabaseUrl, loggedSupervision, migratedEmbeddedDatabase } from './db/database';
import { answerWorkersWithClusterMetrics } from './metrics/cluster-metrics';
import { embeddedDatabaseRestartsCounter } from './metrics/metrics';
import { stopOnSignals } from './shutdown-signals';

/**
 * How the primary stops its workers together. It sends each `unready` (`/readyz` answers 503, requests are served as
 * before: the grace period); after the grace, `stopAccepting`, which each answers with `stoppedAccepting` once its
 * listening socket is closed; once every worker did, `close`: each answers what it accepted, closing every connection,
 * and exits. The port is the primary's (node:cluster hands its connections round-robin) and keeps accepting until the
 * last worker stops: a worker that closed connections before then would send their clients to reconnect to a port
 * that still accepts, only to drop whatever is handed to a worker as it stops. A worker a signal reaches sends
 * `stopRequested`.
 */
export const StopMessage = {
  unready: 'tessera:unready',
  stopAccepting: 'tessera:stop-accepting',
  stoppedAccepting: 'tessera:stopped-accepting',
  close: 'tessera:close',
  stopRequested: 'tessera:stop-requested',
} as const;

/**
 * Each worker exits on its own at the shutdown deadline; this much later the primary kills any still running and exits
 * (the embedded database, if any, is stopped on exit).
 */
const WORKER_KILL_MARGIN_MS = 1_000;

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
  // The database may be lost before the shutdown below exists: it stops the server as soon as it does.
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

  const tell = (worker: Worker, message: string) => {
    if (worker.isConnected()) worker.send(message);
  };
  // Resolves once the worker answers that it stopped accepting, or exits.
  const stopAccepting = (worker: Worker, exited: Promise<WorkerExit>) =>
    new Promise<void>((resolve) => {
      const onMessage = (message: unknown) => {
        if (message !== StopMessage.stoppedAccepting) return;
        worker.off('message', onMessage);
        resolve();
      };
      worker.on('message', onMessage);
      void exited.then(() => resolve());
      tell(worker, StopMessage.stopAccepting);
    });

  const stop = async (reason: string) => {
    stopping = true;
    // The workers' drain may stop the database's clients, and a Ctrl-C the database itself: no death to recover from.
    embedded?.stopRestarting();
    const exited = [...exits.values()];
    const { graceMs, timeoutMs } = config.shutdown;
    setTimeout(() => {
      const running = [...exits.keys()];
      logger.error({ timeoutMs, workerPids: running.map((worker) => worker.process.pid) }, 'shutdown deadline passed: exiting');
      for (const worker of running) worker.process.kill('SIGKILL');
      process.exit(1);
    }, timeoutMs + WORKER_KILL_MARGIN_MS).unref();
    logger.info({ reason, workers: exits.size, graceMs }, 'shutting down: every worker unready, serving on through the grace period');
    for (const worker of exits.keys()) tell(worker, StopMessage.unready);
    await sleep(graceMs);
    await Promise.all([...exits].map(([worker, exit]) => stopAccepting(worker, exit)));
    logger.info('every worker stopped accepting connections: answering those accepted');
    for (const worker of exits.keys()) tell(worker, StopMessage.close);
    const outcomes = await Promise.all(exited);
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
  cluster.on('message', (worker: Worker, message: unknown) => {
    if (message === StopMessage.stopRequested) shutdown.drain(`signal to worker ${worker.process.pid}`);
  });
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
