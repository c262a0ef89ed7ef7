import 'reflect-metadata';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { createApp } from './app';
import { ConfigError, loadConfig, loadDotEnv } from './config';

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
  const logger = pino({ level: config.logLevel, base: { service: 'tessera' } });
  const app = await createApp(config, logger);
  await app.server.listen({ host: config.host, port: config.port });
  const address = app.server.server.address() as AddressInfo;
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}${config.graphqlPath}`;
  logger.info({ url }, 'Tessera is serving GraphQL');
  if (config.nodeEnv !== 'production') {
    process.stdout.write(
      `\nTessera GraphQL API: ${url}\n` +
        `Open it in a browser for Apollo Sandbox.\n` +
        (app.localSecret
          ? `Get a development token: npm run token -- you@example.com\n` + `then set the header  Authorization: Bearer <token>\n\n`
          : `Send an identity provider's token as  Authorization: Bearer <token>\n\n`),
    );
  }

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down: draining requests');
    try {
      await app.stop();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'unclean shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error) => {
  process.stderr.write(`Tessera failed to start: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
