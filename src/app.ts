import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { Authenticator } from './auth/authenticator';
import { readOrCreateLocalSecret, usesLocalSecret } from './auth/local-secret';
import { TokenVerifier } from './auth/token-verifier';
import type { AppConfig } from './config';
import { openDatabase, type Database } from './db/database';
import { createServer } from './http/server';

export interface App {
  server: FastifyInstance;
  database: Database;
  /** Set when tokens are signed by the server's own development secret. */
  localSecret?: string;
  stop(): Promise<void>;
}

/** Everything the server needs, wired: database (embedded or configured), token verification, HTTP. */
export async function createApp(config: AppConfig, logger: FastifyBaseLogger, database?: Database): Promise<App> {
  const localSecret = usesLocalSecret(config.auth) ? await readOrCreateLocalSecret(config.dataDir) : undefined;
  const verifier = new TokenVerifier({
    secret: config.auth.jwtSecret ?? localSecret,
    jwksUrl: config.auth.jwksUrl,
    issuer: config.auth.issuer,
    audience: config.auth.audience,
  });
  const db = database ?? (await openDatabase(config, (message) => logger.info(message)));
  try {
    const server = await createServer({ config, database: db, authenticator: new Authenticator(verifier), logger });
    return {
      server,
      database: db,
      localSecret,
      async stop() {
        // Stop accepting and drain in-flight requests first, then release the database.
        await server.close();
        await db.close();
      },
    };
  } catch (error) {
    await db.close();
    throw error;
  }
}
