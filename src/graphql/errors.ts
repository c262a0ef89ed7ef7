import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { FastifyBaseLogger } from 'fastify';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { DomainError, ErrorCode } from '../errors/domain-error';
import type { Context } from './context';

/**
 * The one error pipeline: what a client sees of any failure, and what the log keeps of it.
 * - Domain errors become GraphQL errors through one exhaustive switch (a new code without an answer does not compile).
 * - Errors of the client's own query (parse, validation, limits) pass with their code.
 * - Everything else (database, bug, a failure while building the context or identifying the caller) is logged with
 *   the request id and masked: the client gets INTERNAL_SERVER_ERROR and the request id to quote.
 */

export const INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR';
export const RATE_LIMITED = 'RATE_LIMITED';
export const QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX';
export const BAD_REQUEST = 'BAD_REQUEST';

/** Codes GraphQL and Apollo give to the client's own mistakes; their messages name only the client's query. */
const CLIENT_ERROR_CODES: ReadonlySet<string> = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  BAD_REQUEST,
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  QUERY_TOO_COMPLEX,
]);

/**
 * Whose fault an error is, by the code its answer carries: `formatError` masks every fault of the server as
 * INTERNAL_SERVER_ERROR, so any other code names a mistake of the client's (its query, its input, its token, its rate).
 */
export function faultOfCode(code: unknown): 'client' | 'server' {
  return code === INTERNAL_SERVER_ERROR ? 'server' : 'client';
}

export function assertUnreachable(value: never): never {
  throw new Error(`unhandled case: ${String(value)}`);
}

/** The client's view of a domain error: its code, message and details, and the HTTP status where it has one. */
export function graphqlErrorOf(error: DomainError): GraphQLError {
  const extensions = { ...error.details, code: error.code };
  switch (error.code) {
    case ErrorCode.BadUserInput:
    case ErrorCode.Forbidden:
    case ErrorCode.NotFound:
    case ErrorCode.Conflict:
      return new GraphQLError(error.message, { extensions, originalError: error });
    case ErrorCode.Unauthenticated:
      // A request refused as a whole (a bad token) is answered 401; in a field the error sits beside other data.
      return new GraphQLError(error.message, { extensions: { ...extensions, http: { status: 401 } }, originalError: error });
    default:
      return assertUnreachable(error.code);
  }
}

/** An error of the request itself, refused before execution (rate limit, query cost, a malformed header). */
export function requestError(
  code: typeof RATE_LIMITED | typeof QUERY_TOO_COMPLEX | typeof BAD_REQUEST,
  message: string,
  details: Record<string, unknown>,
) {
  return new GraphQLError(message, { extensions: { ...details, code } });
}

/** The body of a response that carries only `error`, for answers sent outside GraphQL execution (429). */
export function errorResponseBody(error: GraphQLError): { errors: GraphQLFormattedError[] } {
  return { errors: [error.toJSON()] };
}

/** Raised while building a request's context; carries the request id, which a failed context cannot. */
export class ContextCreationError extends Error {
  constructor(
    readonly requestId: string,
    override readonly cause: unknown,
  ) {
    super('context creation failed');
    this.name = 'ContextCreationError';
  }
}

/** What the context function throws when it fails: a domain error as the client's answer, anything else masked. */
export function contextCreationFailure(requestId: string, error: unknown): Error {
  return error instanceof DomainError ? graphqlErrorOf(error) : new ContextCreationError(requestId, error);
}

/** The error behind Apollo's wrappers: a resolver's error, or what the context function threw. */
function causeOf(error: unknown): unknown {
  let cause = unwrapResolverError(error);
  while (cause instanceof GraphQLError && cause.originalError) cause = cause.originalError;
  return cause;
}

function isClientError(formatted: GraphQLFormattedError): boolean {
  const code = formatted.extensions?.code;
  return typeof code === 'string' && CLIENT_ERROR_CODES.has(code);
}

/** Apollo's `formatError`: the last step of every error on its way to a client. */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const cause = causeOf(error);
  if (cause instanceof DomainError) {
    const { message, extensions } = graphqlErrorOf(cause).toJSON();
    const { http: _http, ...clientExtensions } = extensions ?? {};
    return { message, locations: formatted.locations, path: formatted.path, extensions: clientExtensions };
  }
  if (!(cause instanceof ContextCreationError) && isClientError(formatted)) {
    const { stacktrace: _stacktrace, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  const requestId = cause instanceof ContextCreationError ? cause.requestId : formatted.extensions?.requestId;
  return {
    message: 'Internal server error',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: INTERNAL_SERVER_ERROR, ...(typeof requestId === 'string' ? { requestId } : {}) },
  };
}

/** Logs what clients only see masked, as structured fields, and stamps the request id on every masked error. */
export function errorPipelinePlugin(logger: FastifyBaseLogger): ApolloServerPlugin<Context> {
  return {
    async contextCreationDidFail({ error }) {
      const cause = causeOf(error);
      if (cause instanceof DomainError) return;
      if (cause instanceof ContextCreationError) {
        logger.error({ err: cause.cause, requestId: cause.requestId }, 'request failed before execution');
      } else {
        logger.error({ err: cause }, 'request failed before execution');
      }
    },
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue, operationName }) {
          for (const error of errors) {
            const cause = causeOf(error);
            if (cause instanceof DomainError || isClientError(error)) continue;
            logger.error(
              { err: cause, requestId: contextValue.requestId, operation: operationName ?? null, path: error.path ?? null },
              'request failed',
            );
          }
        },
        async willSendResponse({ response, contextValue }) {
          if (response.body.kind !== 'single') return;
          for (const error of response.body.singleResult.errors ?? []) {
            if (error.extensions?.code === INTERNAL_SERVER_ERROR) {
              (error.extensions as Record<string, unknown>).requestId = contextValue.requestId;
            }
          }
        },
      };
    },
  };
}
