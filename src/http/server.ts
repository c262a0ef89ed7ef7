import { randomUUID } from 'node:crypto';
import { ApolloServer } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { GraphQLSchema } from 'graphql';
import type { Authenticator } from '../auth/authenticator';
import type { TokenClaims } from '../auth/token-verifier';
import type { AppConfig } from '../config';
import type { Database } from '../db/database';
import { Sql } from '../db/sql';
import { createContext, type Context } from '../graphql/context';
import { contextCreationFailure, errorPipelinePlugin, errorResponseBody, formatError, RATE_LIMITED, requestError } from '../graphql/errors';
import { queryLimits } from '../graphql/limits';
import { buildAppSchema } from '../graphql/schema';
import { RateLimiter } from './rate-limit';
import { withTimeout } from './timeout';

export interface ServerDependencies {
  config: AppConfig;
  database: Database;
  authenticator: Authenticator;
  logger: FastifyBaseLogger;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The bearer token, verified once per request before rate limiting; `error` is answered by the context. */
    credentials?: Credentials;
  }
}

export const MAX_BODY_BYTES = 1024 * 1024;
const READINESS_TIMEOUT_MS = 2_000;

/** The HTTP server: GraphQL at `config.graphqlPath`, `/healthz` (process up) and `/readyz` (database reachable). */
export async function createServer({ config, database, authenticator, logger }: ServerDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger,
    genReqId: () => randomUUID(),
    bodyLimit: MAX_BODY_BYTES,
    logController: new OneLinePerRequest(),
  });
  let shuttingDown = false;
  app.addHook('onClose', async () => {
    shuttingDown = true;
  });

  const limiter = new RateLimiter(config.rateLimits, Sql.of(database.orm.em), logger);
  app.addHook('onClose', async () => limiter.close());
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.url !== config.graphqlPath) return;
    request.credentials = await credentialsOf(authenticator, request.headers.authorization);
    const claims = 'claims' in request.credentials ? request.credentials.claims : null;
    const decision = await limiter.take(request.ip, claims ? `sub:${claims.externalId}` : undefined);
    if (decision.allowed) return;
    const refusal = requestError(RATE_LIMITED, `Too many requests: retry in ${decision.retryAfterSeconds} s`, {
      scope: decision.scope,
      retryAfterSeconds: decision.retryAfterSeconds,
    });
    return reply.code(429).header('retry-after', String(decision.retryAfterSeconds)).send(errorResponseBody(refusal));
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = !shuttingDown && (await withTimeout(database.isReady(), READINESS_TIMEOUT_MS).catch(() => false));
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable' });
  });

  const production = config.nodeEnv === 'production';
  const apollo = createGraphqlServer(app, await buildAppSchema(), production, logger);
  await apollo.start();

  await app.register(fastifyApollo(apollo), {
    path: config.graphqlPath,
    context: async (request): Promise<Context> => {
      const credentials = request.credentials ?? (await credentialsOf(authenticator, request.headers.authorization));
      if ('error' in credentials) throw contextCreationFailure(request.id, credentials.error);
      try {
        return createContext(request.id, credentials.claims, { em: database.orm.em.fork(), reader: database.reader, authenticator });
      } catch (error) {
        throw contextCreationFailure(request.id, error);
      }
    },
  });
  return app;
}

/**
 * Apollo as the server runs it. Apollo installs plugins of its own unless told not to: cache control always, usage
 * reporting when APOLLO_KEY is in the environment, inline traces for a federation subgraph. Each wraps every resolver
 * of the schema (a call per field of every response) for something we do not use, and configuration is read in
 * `src/config.ts` alone, so all three are off.
 */
export function createGraphqlServer(
  app: FastifyInstance,
  schema: GraphQLSchema,
  production: boolean,
  logger: FastifyBaseLogger,
): ApolloServer<Context> {
  const limits = queryLimits(schema, production);
  return new ApolloServer<Context>({
    schema,
    introspection: !production,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    // Shutdown is ours: close HTTP (draining requests), then the database.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    parseOptions: limits.parseOptions,
    validationRules: limits.validationRules,
    formatError,
    logger,
    plugins: [
      fastifyApolloDrainPlugin(app),
      errorPipelinePlugin(logger),
      ...limits.plugins,
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      ...(production ? [ApolloServerPluginLandingPageDisabled()] : []),
    ],
  });
}

type Credentials = { claims: TokenClaims | null } | { error: unknown };

async function credentialsOf(authenticator: Authenticator, authorization: string | undefined): Promise<Credentials> {
  try {
    return { claims: await authenticator.verify(authorization) };
  } catch (error) {
    return { error };
  }
}

/** One line per request, written when it is answered, instead of Fastify's two (received, then completed). */
class OneLinePerRequest extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const line = {
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      responseTimeMs: Math.round(reply.elapsedTime * 100) / 100,
    };
    if (error) reply.log.error({ ...line, err: error }, 'request errored');
    else reply.log.info(line, 'request completed');
  }
}
