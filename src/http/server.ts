import { randomUUID } from 'node:crypto';
import { ApolloServer, HeaderMap, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { GraphQLError } from 'graphql';
import type { Authenticator } from '../auth/authenticator';
import type { TokenClaims } from '../auth/token-verifier';
import type { AppConfig } from '../config';
import type { Database } from '../db/database';
import { DomainError } from '../errors/domain-error';
import type { Context } from '../graphql/context';
import { formatError, INTERNAL_SERVER_ERROR, isMaskedError } from '../graphql/error-formatting';
import { createLoaders } from '../graphql/loaders';
import { queryLimits } from '../graphql/limits';
import { buildAppSchema } from '../graphql/schema';
import { RateLimiter } from './rate-limit';

export interface ServerDependencies {
  config: AppConfig;
  database: Database;
  authenticator: Authenticator;
  logger: FastifyBaseLogger;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The bearer token, verified once per request before rate limiting; `error` is answered as 401 by GraphQL. */
    credentials?: { claims: TokenClaims | null; error?: unknown };
  }
}

export const RATE_LIMITED = 'RATE_LIMITED';
export const MAX_BODY_BYTES = 1024 * 1024;
const READINESS_TIMEOUT_MS = 2_000;

/** The HTTP server: GraphQL at `config.graphqlPath`, `/healthz` (process up) and `/readyz` (database reachable). */
export async function createServer({ config, database, authenticator, logger }: ServerDependencies): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: logger,
    genReqId: () => randomUUID(),
    bodyLimit: MAX_BODY_BYTES,
  });
  let shuttingDown = false;
  app.addHook('onClose', async () => {
    shuttingDown = true;
  });

  const limiter = new RateLimiter(config.rateLimits);
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.url !== config.graphqlPath) return;
    try {
      request.credentials = { claims: await authenticator.verify(request.headers.authorization) };
    } catch (error) {
      request.credentials = { claims: null, error };
    }
    const claims = request.credentials.claims;
    const decision = await limiter.take(request.ip, claims ? `sub:${claims.externalId}` : undefined);
    if (decision.allowed) return;
    return reply
      .code(429)
      .header('retry-after', String(decision.retryAfterSeconds))
      .send({
        errors: [
          {
            message: `Too many requests: retry in ${decision.retryAfterSeconds} s`,
            extensions: { code: RATE_LIMITED, scope: decision.scope, retryAfterSeconds: decision.retryAfterSeconds },
          },
        ],
      });
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = !shuttingDown && (await withTimeout(database.isReady(), READINESS_TIMEOUT_MS).catch(() => false));
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable' });
  });

  const production = config.nodeEnv === 'production';
  const schema = await buildAppSchema();
  const limits = queryLimits(schema, production);
  const apollo = new ApolloServer<Context>({
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
      errorLoggingPlugin(),
      ...limits.plugins,
      identifyCallerPlugin(authenticator),
      ...(production ? [ApolloServerPluginLandingPageDisabled()] : []),
    ],
  });
  await apollo.start();

  await app.register(fastifyApollo(apollo), {
    path: config.graphqlPath,
    context: async (request): Promise<Context> => {
      try {
        const { claims, error } = request.credentials ?? { claims: await authenticator.verify(request.headers.authorization) };
        if (error) throw error as Error;
        const em = database.orm.em.fork();
        return { requestId: request.id, em, claims, actor: null, loaders: createLoaders(em, null) };
      } catch (error) {
        if (error instanceof DomainError) {
          throw new GraphQLError(error.message, { extensions: { code: error.code, http: { status: 401 } } });
        }
        request.log.error({ err: error, requestId: request.id }, `request ${request.id} failed before resolving`);
        throw new GraphQLError('Internal server error', {
          extensions: { code: INTERNAL_SERVER_ERROR, requestId: request.id, http: { status: 500 } },
        });
      }
    },
  });
  return app;
}

/**
 * Looks the caller up only once the operation has passed parsing, validation and every limit, so a rejected query
 * costs no SQL at all. Hooked at `responseForOperation`, the last step before execution.
 */
function identifyCallerPlugin(authenticator: Authenticator): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async responseForOperation({ contextValue, logger }) {
          try {
            contextValue.actor = await authenticator.identify(contextValue.em, contextValue.claims);
            contextValue.loaders = createLoaders(contextValue.em, contextValue.actor);
            return null;
          } catch (error) {
            logger.error(`request ${contextValue.requestId} failed identifying the caller: ${String(error)}`);
            return {
              http: { status: 500, headers: new HeaderMap() },
              body: {
                kind: 'single',
                singleResult: {
                  errors: [
                    { message: 'Internal server error', extensions: { code: INTERNAL_SERVER_ERROR, requestId: contextValue.requestId } },
                  ],
                },
              },
            };
          }
        },
      };
    },
  };
}

/** Logs what the client will only see masked, under the request id it is given to quote. */
function errorLoggingPlugin(): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue, logger }) {
          for (const error of errors) {
            const cause = error.originalError ?? error;
            if (!(cause instanceof DomainError) && !error.extensions?.code?.toString().startsWith('GRAPHQL_')) {
              logger.error(
                `request ${contextValue?.requestId} failed: ${JSON.stringify({ path: error.path, error: String(cause), stack: cause.stack })}`,
              );
            }
          }
        },
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single') return;
          for (const error of response.body.singleResult.errors ?? []) {
            if (isMaskedError(error) && contextValue?.requestId) {
              (error.extensions as Record<string, unknown>).requestId = contextValue.requestId;
            }
          }
        },
      };
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error) => {
        clearTimeout(timer);
        reject(error as Error);
      },
    );
  });
}
