import 'reflect-metadata';
import cluster from 'node:cluster';
import pino from 'pino';
import { createApp } from './app';
import { ConfigError, loadConfig, loadDotEnv, type AppConfig } from './config';
import { describeFailure, isProgrammingError } from './failure-cause';
import { DRAIN_MESSAGE, runPrimary } from './primary';
import { stopOnSignals } from './shutdown-signals';

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
  // The primary may ask for a drain while this worker is still starting: it drains as soon as it listens.
  let drainRequested = false;
  let onDrain = () => {
    drainRequested = true;
  };
  if (cluster.isWorker) {
    process.on('message', (message) => {
      if (message === DRAIN_MESSAGE) onDrain();
    });
  }

  // The embedded database may be lost before the drain below exists: it drains as soon as it does.
  let databaseLost: string | undefined;
  let onDatabaseLost = (reason: string) => {
    databaseLost = reason;
  };
  const app = await createApp(config, logger, { onDatabaseLost: (reason) => onDatabaseLost(reason) });
  const { graphqlUrl: url, metricsUrl } = await app.listen().catch(async (error: unknown) => {
    // A port in use: give the database (and the data directory) back before saying so.
    await app.stop();
    throw error;
  });
  logger.info({ url, metricsUrl }, 'Tessera is serving GraphQL');
  if (cluster.isPrimary) printBanner(config, url, app.localSecret !== undefined);

  let failed = false;
  const stop = async (reason: string) => {
    logger.info({ reason }, 'shutting down: draining requests');
    try {
      await app.stop();
      logger.info('stopped');
      process.exit(failed ? 1 : 0);
    } catch (error) {
      logger.error({ err: error }, 'unclean shutdown');
      process.exit(1);
    }
  };
  const shutdown = stopOnSignals(logger, (reason) => void stop(reason));
  onDrain = () => shutdown.drain('drain requested by the primary');
  if (drainRequested) onDrain();
  onDatabaseLost = (reason) => {
    failed = true;
    shutdown.drain(reason);
  };
  if (databaseLost !== undefined) onDatabaseLost(databaseLost);
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
