import { randomUUID } from 'node:crypto';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
  ApolloServerPluginUsageReportingDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import fastifyApollo, { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { OperationTypeNode, type GraphQLSchema } from 'graphql';
import type { Authenticator } from '../auth/authenticator';
import { usesLocalSecret } from '../auth/local-secret';
import type { TokenClaims } from '../auth/token-verifier';
import type { AppConfig } from '../config';
import type { Database } from '../db/database';
import { Sql } from '../db/sql';
import { createContext, type Context } from '../graphql/context';
import { READ_AFTER_HEADER, parseWalPosition, RoutedReader, type ReplicaSet, type WalPosition } from '../db/replicas';
import {
  BAD_REQUEST,
  contextCreationFailure,
  errorFormatter,
  errorPipelinePlugin,
  errorResponseBody,
  logRequestError,
  maskedError,
  RATE_LIMITED,
  requestError,
} from '../graphql/errors';
import { KnownOperationTypesRule } from '../graphql/known-operation-types';
import { queryLimits } from '../graphql/limits';
import { requestMetricsPlugin } from '../graphql/request-metrics';
import { buildAppSchema } from '../graphql/schema';
import type { Metrics } from '../metrics/metrics';
import { registerMetricsRoute } from './metrics-route';
import { RateLimiter } from './rate-limit';
import { TrendingWindowKeeper } from '../template/template-trending';
import { withTimeout } from './timeout';

export interface ServerDependencies {
  config: AppConfig;
  database: Database;
  authenticator: Authenticator;
  logger: FastifyBaseLogger;
  metrics: Metrics;
  /** True once the server is stopping: `/readyz` answers 503 from then on, whatever the database says. */
  stopping: () => boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The bearer token, verified once per request before rate limiting; `error` is answered by the context. */
    credentials?: Credentials;
    /** The WAL position the client's last write reached (`READ_AFTER_HEADER`): its reads must see it. */
    readAfter?: WalPosition;
  }
}

export const MAX_BODY_BYTES = 1024 * 1024;
const READINESS_TIMEOUT_MS = 2_000;

/**
 * The HTTP server: GraphQL at `config.graphqlPath`, `/healthz` (process up), `/readyz` (database reachable), and
 * `/metrics` unless they have a port of their own (`createMetricsServer`) or are not served.
 */
export async function createServer({
  config,
  database,
  authenticator,
  logger,
  metrics,
  stopping,
}: ServerDependencies): Promise<FastifyInstance> {
  const app = createFastify(logger);

  const limiter = new RateLimiter(config.rateLimits, Sql.of(database.orm.em), logger);
  app.addHook('onClose', async () => limiter.close());
  const trendingWindow = new TrendingWindowKeeper(database.orm.em, logger);
  app.addHook('onClose', async () => trendingWindow.close());
  app.addHook('onRequest', async (request, reply) => {
    if (request.routeOptions.url !== config.graphqlPath) return;
    request.credentials = await credentialsOf(authenticator, request);
    const claims = 'claims' in request.credentials ? request.credentials.claims : null;
    const decision = await limiter.take(request.ip, claims ? `sub:${claims.externalId}` : undefined);
    if (!decision.allowed) {
      metrics.rateLimitRefused(decision.scope);
      metrics.requestRefused(RATE_LIMITED, 'client_error');
      const refusal = requestError(RATE_LIMITED, `Too many requests: retry in ${decision.retryAfterSeconds} s`, {
        scope: decision.scope,
        retryAfterSeconds: decision.retryAfterSeconds,
      });
      return reply.code(429).header('retry-after', String(decision.retryAfterSeconds)).send(errorResponseBody(refusal));
    }
    const readAfter = request.headers[READ_AFTER_HEADER];
    if (readAfter === undefined) return;
    const position = typeof readAfter === 'string' ? parseWalPosition(readAfter.trim()) : null;
    if (position === null) {
      const refusal = requestError(BAD_REQUEST, `${READ_AFTER_HEADER} must be one WAL position as the server sent it, e.g. 0/16B3748`, {
        header: READ_AFTER_HEADER,
      });
      return reply.code(400).send(errorResponseBody(refusal));
    }
    request.readAfter = position;
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  app.get('/readyz', async (_request, reply) => {
    const ready = !stopping() && (await withTimeout(database.isReady(), READINESS_TIMEOUT_MS).catch(() => false));
    // Replicas never make the server unready: while none serves, the primary answers every read.
    const replicas = database.replicas ? { replicas: database.replicas.health() } : {};
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'unavailable', ...replicas });
  });
  if (config.metrics.served && config.metrics.port === undefined) registerMetricsRoute(app, metrics, config.metrics.token);

  const apollo = createGraphqlServer(
    app,
    await buildAppSchema(),
    { production: config.nodeEnv === 'production', signsOwnTokens: usesLocalSecret(config.auth) },
    logger,
    metrics,
    database.replicas,
  );
  await apollo.start();

  await app.register(fastifyApollo(apollo), {
    path: config.graphqlPath,
    context: async (request): Promise<Context> => {
      const credentials = request.credentials ?? (await credentialsOf(authenticator, request));
      if ('error' in credentials) throw contextCreationFailure(request.id, credentials.error);
      try {
        const reader = database.replicas ? new RoutedReader(database.replicas, request.readAfter ?? null) : database.reader;
        return createContext(request.id, credentials.claims, {
          em: database.orm.em.fork(),
          reader,
          authenticator,
          rateLimiter: limiter,
          settings: { requireEmailVerified: config.auth.requireEmailVerified },
        });
      } catch (error) {
        throw contextCreationFailure(request.id, error);
      }
    },
  });
  return app;
}

/** `/metrics` alone, for `METRICS_PORT`: a port a firewall can keep to the scrapers. */
export function createMetricsServer(logger: FastifyBaseLogger, metrics: Metrics, token: string | undefined): FastifyInstance {
  const app = createFastify(logger);
  registerMetricsRoute(app, metrics, token);
  return app;
}

function createFastify(logger: FastifyBaseLogger): FastifyInstance {
  const app = Fastify({
    loggerInstance: logger,
    genReqId: () => randomUUID(),
    bodyLimit: MAX_BODY_BYTES,
    logController: new OneLinePerRequest(),
  });
  app.addContentTypeParser('application/json', { parseAs: 'string' }, jsonBodyParser(app));
  // Whatever Fastify refuses before GraphQL sees the request (a body that is not JSON, too large, of another type) is
  // answered in GraphQL's shape with a code; anything else that fails outside GraphQL is masked like a resolver's fault.
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      const refusal = requestError(BAD_REQUEST, error.message);
      logRequestError(logger, refusal, { requestId: request.id }, 'request failed');
      return reply.code(status).send(errorResponseBody(refusal));
    }
    logRequestError(logger, error, { requestId: request.id }, 'request failed');
    return reply.code(500).send(errorResponseBody(maskedError(request.id)));
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
  { production, signsOwnTokens }: { production: boolean; signsOwnTokens: boolean },
  logger: FastifyBaseLogger,
  metrics: Metrics,
  replicas?: ReplicaSet,
): ApolloServer<Context> {
  const limits = queryLimits(schema, (limit) => metrics.queryLimitRejected(limit));
  return new ApolloServer<Context>({
    schema,
    introspection: !production,
    csrfPrevention: true,
    allowBatchedHttpRequests: false,
    // Shutdown is ours: close HTTP (draining requests), then the database.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: false,
    parseOptions: limits.parseOptions,
    validationRules: [KnownOperationTypesRule, ...limits.validationRules],
    formatError: errorFormatter({ suggestions: !production }),
    logger,
    plugins: [
      fastifyApolloDrainPlugin(app),
      errorPipelinePlugin(logger),
      requestMetricsPlugin(metrics),
      ...limits.plugins,
      ...(replicas ? [readRoutingPlugin(replicas, logger)] : []),
      ApolloServerPluginCacheControlDisabled(),
      ApolloServerPluginUsageReportingDisabled(),
      ApolloServerPluginInlineTraceDisabled(),
      production ? ApolloServerPluginLandingPageDisabled() : sandboxLandingPage(signsOwnTokens),
    ],
  });
}

/**
 * With replicas: a query's reads may leave the primary once it is known to be a query, and the answer of a request
 * that wrote (a mutation, or a query whose caller's row was written) carries the primary's WAL position after it (`READ_AFTER_HEADER`), for the client to send back so that its next
 * reads see what it wrote wherever they are served.
 */
function readRoutingPlugin(replicas: ReplicaSet, logger: FastifyBaseLogger): ApolloServerPlugin<Context> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation, contextValue }) {
          if (operation?.operation === OperationTypeNode.QUERY && contextValue.reader instanceof RoutedReader)
            contextValue.reader.readsOnly();
        },
        async willSendResponse({ operation, response, contextValue }) {
          const wrote =
            operation?.operation === OperationTypeNode.MUTATION ||
            (contextValue.reader instanceof RoutedReader && contextValue.reader.wroteOutsideMutation);
          if (!wrote) return;
          try {
            response.http.headers.set(READ_AFTER_HEADER, await replicas.primaryPosition());
          } catch (error) {
            // Without the position the client's next reads may miss this write on a replica: worth an operator's look.
            logger.error({ err: error }, `no ${READ_AFTER_HEADER} for a mutation: the primary's WAL position could not be read`);
          }
        },
      };
    },
  };
}

/**
 * Apollo Sandbox, outside production, with the `Authorization` header ready for a token (where to get one in its
 * value) and without the telemetry it would otherwise send to Apollo from the developer's browser.
 */
function sandboxLandingPage(signsOwnTokens: boolean) {
  const token = signsOwnTokens ? 'a token from: npm run token -- you@example.com' : 'a token from the identity provider';
  return ApolloServerPluginLandingPageLocalDefault({
    embed: { runTelemetry: false },
    headers: { Authorization: `Bearer <${token}>` },
  });
}

type Credentials = { claims: TokenClaims | null } | { error: unknown };

type JsonBodyParser = (request: FastifyRequest, body: string, done: (error: Error | null, value?: unknown) => void) => void;

/**
 * Fastify's JSON parser, which refuses a `__proto__` key and a `constructor` holding `prototype` (they could reach an
 * object's prototype in code that merges the input) but calls that "not valid JSON" too: the two are told apart here.
 */
function jsonBodyParser(app: FastifyInstance): JsonBodyParser {
  const parseWithoutPrototypeKeys = app.getDefaultJsonParser('error', 'error') as JsonBodyParser;
  return (request, body, done) =>
    parseWithoutPrototypeKeys(request, body, (error, value) => {
      if (!error) return done(null, value);
      if ((error as FastifyError).code !== 'FST_ERR_CTP_INVALID_JSON_BODY') return done(error);
      done(
        badRequest(
          isJson(body) ? 'Body must not hold a "__proto__" key or a "constructor" key holding "prototype"' : 'Body is not valid JSON',
        ),
      );
    });
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function badRequest(message: string): Error {
  return Object.assign(new Error(message), { statusCode: 400 });
}

async function credentialsOf(authenticator: Authenticator, request: FastifyRequest): Promise<Credentials> {
  try {
    // Every header as sent: Node keeps only the first of repeated Authorization headers in `headers`.
    return { claims: await authenticator.verify(request.raw.headersDistinct.authorization) };
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
