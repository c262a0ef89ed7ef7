import 'reflect-metadata';
import cluster from 'node:cluster';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { createApp, type App } from './app';
import { ConfigError, loadConfig, loadDotEnv, type AppConfig } from './config';
import { describeFailure, isProgrammingError } from './failure-cause';
import { runPrimary, StopMessage } from './primary';
import { exitAtDeadline, stopOnSignals } from './shutdown-signals';

async function main(): Promise<void> {
  let config;
  try {
    loadDotEnv();
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  // With several processes, each line says which one wrote it.
  const logger = pino({ level: config.logLevel, base: { service: 'tessera', pid: process.pid } });
  if (config.workers > 1 && cluster.isPrimary) {
    await runPrimary(config, logger, (url, signsOwnTokens) => printBanner(config, url, signsOwnTokens));
    return;
  }
  await serve(config, logger);
}

/** One serving process: the whole server with WORKERS=1, otherwise one of the primary's workers. */
async function serve(config: AppConfig, logger: pino.Logger): Promise<void> {
  if (cluster.isWorker) return serveAsWorker(config, logger);
  // The embedded database may be lost before the shutdown below exists: it stops the server as soon as it does.
  let databaseLost: string | undefined;
  let onDatabaseLost = (reason: string) => {
    databaseLost = reason;
  };
  const app = await createApp(config, logger, { onDatabaseLost: (reason) => onDatabaseLost(reason) });
  await listen(app, config, logger).catch(async (error: unknown) => {
    // A port in use: give the database (and the data directory) back before saying so.
    await app.stop();
    throw error;
  });
  let failed = false;
  const stop = async (reason: string) => {
    exitAtDeadline(logger, config.shutdown.timeoutMs, () => app.unfinished());
    const { graceMs } = config.shutdown;
    app.markUnready();
    logger.info({ reason, graceMs }, STOPPING_MESSAGE);
    await sleep(graceMs);
    app.stopAccepting();
    logger.info(app.unfinished(), STOPPED_ACCEPTING_MESSAGE);
    await app.stop();
  };
  const shutdown = stopOnSignals(logger, (reason) => void finish(stop(reason), logger, () => failed));
  onDatabaseLost = (reason) => {
    failed = true;
    shutdown.drain(reason);
  };
  if (databaseLost !== undefined) onDatabaseLost(databaseLost);
}

/**
 * A worker stops as the primary tells it, in steps every worker takes together (`StopMessage`); told while still
 * starting, it takes them once started, and never listens once told to stop accepting. A signal reaching a worker is
 * passed to the primary, which stops the whole server: it comes through the process group, which the primary is in.
 */
async function serveAsWorker(config: AppConfig, logger: pino.Logger): Promise<void> {
  let toldByPrimary = false;
  let stopAcceptingAsked = false;
  const started = createApp(config, logger).then(async (app) => {
    if (!stopAcceptingAsked) await listen(app, config, logger);
    return app;
  });
  // Each step once the app exists and the previous step is done.
  let steps: Promise<App> = started;
  const step = (run: (app: App) => void | Promise<void>) => {
    steps = steps.then(async (app) => {
      await run(app);
      return app;
    });
    return steps;
  };
  const shutdown = stopOnSignals(logger, (reason) => {
    if (!toldByPrimary) process.send?.(StopMessage.stopRequested);
    void step((app) => {
      exitAtDeadline(logger, config.shutdown.timeoutMs, () => app.unfinished());
      app.markUnready();
      logger.info({ reason }, STOPPING_MESSAGE);
    });
  });
  process.on('message', (message) => {
    if (message === StopMessage.unready) {
      toldByPrimary = true;
      shutdown.drain('asked by the primary');
    } else if (message === StopMessage.stopAccepting) {
      stopAcceptingAsked = true;
      void step((app) => {
        app.stopAccepting();
        logger.info(app.unfinished(), STOPPED_ACCEPTING_MESSAGE);
        process.send?.(StopMessage.stoppedAccepting);
      });
    } else if (message === StopMessage.close) {
      void finish(
        step((app) => app.stop()),
        logger,
      );
    }
  });
  await started;
}

const STOPPING_MESSAGE = 'shutting down: /readyz answers 503, serving on through the grace period';
const STOPPED_ACCEPTING_MESSAGE = 'stopped accepting connections: answering those accepted';

async function listen(app: App, config: AppConfig, logger: pino.Logger): Promise<void> {
  const { graphqlUrl: url, metricsUrl } = await app.listen();
  logger.info({ url, metricsUrl }, 'Tessera is serving GraphQL');
  if (cluster.isPrimary) printBanner(config, url, app.localSecret !== undefined);
}

/** Exits 0 once `stopped` resolves, 1 if it fails or the server stopped for a failure (`failed`). */
async function finish(stopped: Promise<unknown>, logger: pino.Logger, failed: () => boolean = () => false): Promise<void> {
  try {
    await stopped;
    logger.info('stopped');
    process.exit(failed() ? 1 : 0);
  } catch (error) {
    logger.error({ err: error }, 'unclean shutdown');
    process.exit(1);
  }
}

function printBanner(config: AppConfig, url: string, signsOwnTokens: boolean): void {
  if (config.nodeEnv === 'production') return;
  process.stdout.write(
    `\nTessera GraphQL API: ${url}\n` +
      `Open it in a browser for Apollo Sandbox.\n` +
      (signsOwnTokens
        ? `Get a development token: npm run token -- you@example.com\n` + `then set the header  Authorization: Bearer <token>\n\n`
        : `Send an identity provider's token as  Authorization: Bearer <token>\n\n`),
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`Tessera failed to start: ${describeFailure(error)}\n`);
  if (isProgrammingError(error)) process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
