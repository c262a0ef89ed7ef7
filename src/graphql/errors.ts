import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { FastifyBaseLogger } from 'fastify';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { DomainError, ErrorCode } from '../errors/domain-error';
import type { Context } from './context';

/**
 * The one error pipeline: what a client sees of any failure, and what the log keeps of it.
 * - Domain errors become GraphQL errors through one exhaustive switch (a new code without an answer does not compile).
 * - Errors of the client's own request (parse, validation, variables, limits, persisted queries) pass with their code.
 * - Everything else (database, bug, a failure while building the context or identifying the caller) is masked: the
 *   client gets INTERNAL_SERVER_ERROR and the request id to quote.
 * `isClientError` tells the two apart, for the log and for anything else that counts them: client errors are logged
 * at info without a stack, server faults at error with their cause.
 */

export const INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR';
export const RATE_LIMITED = 'RATE_LIMITED';
export const QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX';
export const BAD_REQUEST = 'BAD_REQUEST';
/** An automatic persisted query whose SHA-256 is not that of its text (Apollo Router's code for the same refusal). */
export const PERSISTED_QUERY_HASH_MISMATCH = 'PERSISTED_QUERY_HASH_MISMATCH';

/** Codes of the client's own mistakes; their messages name only the client's request. */
const CLIENT_ERROR_CODES: ReadonlySet<string> = new Set([
  ...Object.values(ErrorCode),
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  BAD_REQUEST,
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  PERSISTED_QUERY_HASH_MISMATCH,
  'OPERATION_RESOLUTION_FAILURE',
  QUERY_TOO_COMPLEX,
  RATE_LIMITED,
]);

/**
 * Refusals of a request Apollo makes without a code (its wording, from `processGraphQLRequest`), which would read as
 * server faults; test/graphql/error-pipeline.test.ts fails when an upgrade changes the wording.
 */
const APOLLO_UNCODED_REFUSALS: ReadonlyMap<string, string> = new Map([
  ['provided sha does not match query', PERSISTED_QUERY_HASH_MISMATCH],
  ['Unsupported persisted query version', BAD_REQUEST],
]);

/** Whether the code an answer carries names a mistake of the client's: the one list, for the log and the metrics. */
export function isClientErrorCode(code: unknown): code is string {
  return typeof code === 'string' && CLIENT_ERROR_CODES.has(code);
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
    case ErrorCode.RateLimited:
      return new GraphQLError(error.message, { extensions, originalError: error });
    case ErrorCode.Unauthenticated:
      // A request refused as a whole (a bad token) is answered 401; in a field the error sits beside other data.
      return new GraphQLError(error.message, { extensions: { ...extensions, http: { status: 401 } }, originalError: error });
    default:
      return assertUnreachable(error.code);
  }
}

/** An error of the request itself, refused before execution (its body, its rate, its cost). */
export function requestError(
  code: typeof BAD_REQUEST | typeof RATE_LIMITED | typeof QUERY_TOO_COMPLEX,
  message: string,
  details: Record<string, unknown> = {},
) {
  return new GraphQLError(message, { extensions: { ...details, code } });
}

const MASKED_MESSAGE = 'Internal server error';

/** What a client sees of a server fault outside GraphQL execution: the request id to quote, nothing of the cause. */
export function maskedError(requestId: string): GraphQLError {
  return new GraphQLError(MASKED_MESSAGE, { extensions: { code: INTERNAL_SERVER_ERROR, requestId } });
}

/** The body of a response that carries only `error`, for answers sent outside GraphQL execution (400, 413, 429, 500). */
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

/** The code a client gets for an error of its own making; undefined for a server fault. */
function clientCodeOf(error: unknown): string | undefined {
  const cause = causeOf(error);
  if (cause instanceof DomainError) return cause.code;
  if (cause instanceof ContextCreationError || typeof error !== 'object' || error === null) return undefined;
  const { extensions, message, path } = error as GraphQLFormattedError;
  const code = extensions?.code;
  if (typeof code === 'string') return isClientErrorCode(code) ? code : undefined;
  // Only a request-level error of Apollo's own: one a resolver threw has a path or wraps its cause.
  if (error instanceof GraphQLError && !error.originalError && !path) return APOLLO_UNCODED_REFUSALS.get(message);
  return undefined;
}

/**
 * Whether an error is the client's doing (its request, its input, its token, its rate) rather than the server's:
 * for any error the pipeline sees, raw or formatted for the client.
 */
export function isClientError(error: unknown): boolean {
  return clientCodeOf(error) !== undefined;
}

/**
 * graphql-js's "Did you mean ...?" in any of its forms: field, argument, type and enum value names, an inline fragment.
 * Names cannot hold a `?`, so the sentence ends at the first one.
 */
const SUGGESTION = / ?Did you mean [^?]*\?/g;

export interface ErrorFormatOptions {
  /** Whether messages may suggest names from the schema; off in production, where the schema is not published. */
  suggestions: boolean;
}

/** Apollo's `formatError`: the last step of every error on its way to a client. */
export function errorFormatter({ suggestions }: ErrorFormatOptions) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const clientError = formatError(formatted, error);
    return suggestions ? clientError : { ...clientError, message: clientError.message.replace(SUGGESTION, '') };
  };
}

function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const cause = causeOf(error);
  if (cause instanceof DomainError) {
    const { message, extensions } = graphqlErrorOf(cause).toJSON();
    const { http: _http, ...clientExtensions } = extensions ?? {};
    return { message, locations: formatted.locations, path: formatted.path, extensions: clientExtensions };
  }
  const code = clientCodeOf(error);
  if (code !== undefined) {
    const { stacktrace: _stacktrace, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions: { ...extensions, code } };
  }
  const requestId = cause instanceof ContextCreationError ? cause.requestId : formatted.extensions?.requestId;
  return {
    message: MASKED_MESSAGE,
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: INTERNAL_SERVER_ERROR, ...(typeof requestId === 'string' ? { requestId } : {}) },
  };
}

interface RequestFields {
  requestId?: string;
  operation?: string | null;
  path?: ReadonlyArray<string | number> | null;
}

/**
 * One log line per error: a client's mistake at info, with its code and the message the client got (what an operator
 * needs to help that client); a server fault at error, with its cause and stack (what an operator must act on).
 */
export function logRequestError(logger: FastifyBaseLogger, error: unknown, fields: RequestFields, serverFault: string): void {
  const code = clientCodeOf(error);
  if (code === undefined) logger.error({ ...fields, err: causeOf(error) }, serverFault);
  else logger.info({ ...fields, code, message: error instanceof Error ? error.message : String(error) }, 'client error');
}

/** Logs every error of a request, as structured fields, and stamps the request id on every masked error. */
export function errorPipelinePlugin(logger: FastifyBaseLogger): ApolloServerPlugin<Context> {
  return {
    async contextCreationDidFail({ error }) {
      const cause = causeOf(error);
      const fields = cause instanceof ContextCreationError ? { requestId: cause.requestId } : {};
      logRequestError(logger, cause instanceof ContextCreationError ? cause.cause : error, fields, 'request failed before execution');
    },
    async requestDidStart() {
      return {
        async didEncounterErrors({ errors, contextValue, operationName }) {
          for (const error of errors) {
            logRequestError(
              logger,
              error,
              { requestId: contextValue.requestId, operation: operationName ?? null, path: error.path ?? null },
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
