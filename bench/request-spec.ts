/** What a load request is made of; shared with the load generator's process, so it imports nothing heavy. */
export interface RequestSpec {
  /** None: an anonymous request. */
  token?: string;
  body: string;
}

export function headersOf(spec: RequestSpec): Record<string, string> {
  return { 'content-type': 'application/json', ...(spec.token ? { authorization: `Bearer ${spec.token}` } : {}) };
}

/** Replaced by a request counter in each request's body. */
export const COUNTER = '__N__';

/** Substitutes the counter: a quoted `"__N__"` becomes a number, one inside a string becomes digits. */
export function withCounter(body: string, n: number): string {
  return body.includes(COUNTER) ? body.replaceAll(`"${COUNTER}"`, String(n)).replaceAll(COUNTER, String(n)) : body;
}
