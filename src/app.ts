import type { AddressInfo } from 'node:net';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { Authenticator } from './auth/authenticator';
import { readOrCreateLocalSecret, usesLocalSecret } from './auth/local-secret';
import { TokenVerifier } from './auth/token-verifier';
import type { AppConfig } from './config';
import { loggedSupervision, openDatabase, type Database } from './db/database';
import { ConnectionDrain } from './http/connection-drain';
import { METRICS_PATH } from './http/metrics-route';
import { createMetricsServer, createServer } from './http/server';
import { Metrics } from './metrics/metrics';

export interface App {
  server: FastifyInstance;
  /** `/metrics` on a port of its own, with `METRICS_PORT`; closed with `server`. */
  metricsServer?: FastifyInstance;
  database: Database;
  /** Set when tokens are signed by the server's own development secret. */
  localSecret?: string;
  /** Listens on `HOST`:`PORT`, and on `METRICS_PORT` when set; resolves to what it serves where. */
  listen(): Promise<{ graphqlUrl: string; metricsUrl?: string }>;
  /** The first step of a stop, for load balancers: `/readyz` answers 503 from now on, and everything is served as before. */
  markUnready(): void;
  /** New connections are refused from now on (the listening socket closes); those open are served on. */
  stopAccepting(): void;
  /**
   * Stops: accepts no connection, answers every request accepted (each answer closing its connection), closes the
   * connections as they become idle, then releases the database.
   */
  stop(): Promise<void>;
  /** What a stop still waits for. */
  unfinished(): { connections: number; requests: number };
}

export interface AppOptions {
  /** Opened by the caller (tests, the bench); by default the configured or embedded one is opened. */
  database?: Database;
  /** The embedded database died and cannot be started again: the server should stop. */
  onDatabaseLost?: (reason: string) => void;
}

/** Everything the server needs, wired: database (embedded or configured), token verification, metrics, HTTP. */
export async function createApp(config: AppConfig, logger: FastifyBaseLogger, options: AppOptions = {}): Promise<App> {
  const localSecret = usesLocalSecret(config.auth) ? await readOrCreateLocalSecret(config.dataDir) : undefined;
  const verifier = new TokenVerifier({
    secret: config.auth.jwtSecret ?? localSecret,
    jwksUrl: config.auth.jwksUrl,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    rolesClaim: config.auth.rolesClaim,
    staffRole: config.auth.staffRole,
    teamsClaim: config.auth.teamsClaim,
  });
  const metrics = new Metrics();
  let db: Database;
  try {
    db =
      options.database ??
      (await openDatabase(config, (message) => logger.info(message), {
        server: loggedSupervision(
          logger,
          () => metrics.embeddedDatabaseRestarted(),
          (reason) => options.onDatabaseLost?.(reason),
        ),
      }));
  } catch (error) {
    metrics.close();
    throw error;
  }
  metrics.observeDatabase(db.orm);
  let unready = false;
  try {
    const server = await createServer({
      config,
      database: db,
      authenticator: new Authenticator(verifier, config.auth.requireEmailVerified),
      logger,
      metrics,
      stopping: () => unready,
    });
    const drain = new ConnectionDrain(server.server);
    const { served, port: metricsPort, token } = config.metrics;
    const metricsServer = served && metricsPort !== undefined ? createMetricsServer(logger, metrics, token) : undefined;
    server.addHook('onClose', async () => {
      await metricsServer?.close();
      metrics.close();
    });
    if (!served) logger.info('metrics are not served: set METRICS_PORT or METRICS_TOKEN to serve them in production');
    return {
      server,
      metricsServer,
      database: db,
      localSecret,
      async listen() {
        await server.listen({ host: config.host, port: config.port });
        const graphqlUrl = `${urlOf(server)}${config.graphqlPath}`;
        if (!metricsServer || metricsPort === undefined)
          return { graphqlUrl, metricsUrl: served ? `${urlOf(server)}${METRICS_PATH}` : undefined };
        await metricsServer.listen({ host: config.host, port: metricsPort });
        return { graphqlUrl, metricsUrl: `${urlOf(metricsServer)}${METRICS_PATH}` };
      },
      markUnready() {
        unready = true;
      },
      stopAccepting() {
        drain.stopAccepting();
      },
      async stop() {
        unready = true;
        // The embedded database may be stopped meanwhile by the same Ctrl-C (it is in the terminal's process group):
        // that is no death to recover from.
        db.embedded?.stopRestarting();
        // Every request answered and every connection closed first, then what they used.
        await drain.closeConnections();
        await server.close();
        await db.close();
      },
      unfinished: () => drain.unfinished(),
    };
  } catch (error) {
    metrics.close();
    await db.close();
    throw error;
  }
}

function urlOf(server: FastifyInstance): string {
  const address = server.server.address() as AddressInfo;
  return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}
