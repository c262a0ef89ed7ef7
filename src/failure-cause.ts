import { inspect } from 'node:util';

/**
 * A failure's cause in one readable line, for start-up and the commands: its message, then the causes it carries. An
 * error without a message says what it holds instead: the errors inside an AggregateError (node-postgres connecting
 * to each address of a host), its code, its name; a rejection with nothing says so.
 */
export function describeFailure(error: unknown): string {
  const messages: string[] = [];
  let current: unknown = error;
  while (current !== undefined && messages.length < 5) {
    messages.push(ownMessage(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return messages.join(': ').replace(/\s*\n\s*/g, '; ') || 'it failed without saying why';
}

/** Errors of the code itself rather than of its surroundings: where they were thrown matters as much as what they say. */
export function isProgrammingError(error: unknown): error is Error {
  return error instanceof TypeError || error instanceof ReferenceError || error instanceof RangeError || error instanceof SyntaxError;
}

function ownMessage(error: unknown): string {
  if (error instanceof AggregateError && !error.message) return [...new Set(error.errors.map(ownMessage))].join('; ');
  if (error instanceof Error) return error.message || (error as NodeJS.ErrnoException).code || error.name;
  return error === null || error === undefined ? 'it failed without saying why' : inspect(error, { breakLength: Infinity });
}
