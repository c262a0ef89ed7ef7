import { ValidationError, type FieldError } from '../errors/domain-error';

/**
 * The one convention for client input: a `parse*` function takes the raw value and its JSON-pointer path, pushes one
 * FieldError per problem into `errors`, and returns the value in its checked type (undefined when it is invalid).
 * The caller parses every field, then calls `throwIfInvalid` once, so the client hears of every problem at once.
 */
export type { FieldError };

export function throwIfInvalid(errors: FieldError[], message?: string): void {
  if (errors.length > 0) throw new ValidationError(errors, message);
}

/** One JSON-pointer segment (RFC 6901): `~` and `/` escaped. */
export function escapePointerSegment(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
