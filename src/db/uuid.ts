const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids come from clients: anything that is not a UUID cannot name a row, and must never reach SQL as one. */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/**
 * A client's id as PostgreSQL writes it (lower case), or undefined when it is not a UUID. `A0…` and `a0…` name the same
 * row in SQL, but not in the maps that match rows to what was asked for, nor in comparisons with ids read back.
 */
export function canonicalUuid(value: unknown): string | undefined {
  return isUuid(value) ? value.toLowerCase() : undefined;
}
