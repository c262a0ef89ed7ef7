import { performance } from 'node:perf_hooks';
import type { ApolloServerPlugin } from '@apollo/server';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { OPERATION_LABELS, type Metrics, type Outcome } from '../metrics/metrics';
import type { Context } from './context';
import { INTERNAL_SERVER_ERROR, isClientErrorCode } from './errors';

/**
 * Counts every request Apollo answers by operation and outcome, times those that reach its request pipeline, and
 * counts the errors of each answer by code. Nothing per field: Apollo wraps no resolver for it.
 */
export function requestMetricsPlugin(metrics: Metrics): ApolloServerPlugin<Context> {
  // Apollo answers these with the error's own code, or masked (formatError) when it has none.
  const refused = (error: Error) => {
    const code = error instanceof GraphQLError && typeof error.extensions.code === 'string' ? error.extensions.code : INTERNAL_SERVER_ERROR;
    metrics.requestRefused(code, outcomeOf(code));
  };
  return {
    // Refused before the pipeline: CSRF prevention, a request without a query (BAD_REQUEST).
    async invalidRequestWasReceived({ error }) {
      refused(error);
    },
    // A bad token (UNAUTHENTICATED), or a failure of the server's.
    async contextCreationDidFail({ error }) {
      refused(error);
    },
    async requestDidStart() {
      const startedAt = performance.now();
      return {
        async willSendResponse({ response, operation, operationName }) {
          const body = response.body;
          const errors = body.kind === 'single' ? body.singleResult.errors : body.initialResult.errors;
          const outcome = errors ? outcomeOfErrors(metrics, errors) : 'ok';
          // `operation` is set once the document is parsed, valid and names an operation that exists.
          const label = operation ? (operationName ?? OPERATION_LABELS.anonymous) : OPERATION_LABELS.unresolved;
          metrics.requestAnswered(label, outcome, (performance.now() - startedAt) / 1000);
        },
      };
    },
  };
}

/** Counts each error by code; the request's outcome is the worst of them. */
function outcomeOfErrors(metrics: Metrics, errors: readonly GraphQLFormattedError[]): Outcome {
  let outcome: Outcome = 'ok';
  for (const error of errors) {
    const code = typeof error.extensions?.code === 'string' ? error.extensions.code : INTERNAL_SERVER_ERROR;
    metrics.errorAnswered(code);
    if (outcome !== 'server_error') outcome = outcomeOf(code);
  }
  return outcome;
}

export function outcomeOf(code: string): Exclude<Outcome, 'ok'> {
  return isClientErrorCode(code) ? 'client_error' : 'server_error';
}
