import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { DomainError } from '../errors/domain-error';
import { QUERY_TOO_COMPLEX } from './limits';

export const INTERNAL_SERVER_ERROR = 'INTERNAL_SERVER_ERROR';

/** Codes GraphQL and Apollo give to the client's own mistakes; their messages name only the client's query. */
const CLIENT_ERROR_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
  'OPERATION_RESOLUTION_FAILURE',
  'UNAUTHENTICATED',
  'FORBIDDEN',
  QUERY_TOO_COMPLEX,
]);

/**
 * The one place errors become what clients see: domain errors keep their code, message and details; the client's
 * own query errors pass; anything else (database, bug) is masked. Its cause is logged with the request id instead.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (original instanceof DomainError) {
    return {
      message: original.message,
      locations: formatted.locations,
      path: formatted.path,
      extensions: { ...original.details, code: original.code },
    };
  }
  const code = formatted.extensions?.code;
  if (typeof code === 'string' && CLIENT_ERROR_CODES.has(code)) {
    const { stacktrace: _stacktrace, ...extensions } = formatted.extensions ?? {};
    return { ...formatted, extensions };
  }
  const requestId = formatted.extensions?.requestId;
  return {
    message: 'Internal server error',
    locations: formatted.locations,
    path: formatted.path,
    extensions: { code: INTERNAL_SERVER_ERROR, ...(typeof requestId === 'string' ? { requestId } : {}) },
  };
}

export function isMaskedError(formatted: GraphQLFormattedError): boolean {
  return formatted.extensions?.code === INTERNAL_SERVER_ERROR;
}
