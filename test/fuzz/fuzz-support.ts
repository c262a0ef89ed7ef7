import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import type { Api } from '../support/api';
import { validConfiguration, type TestUser } from '../support/factories';

/**
 * Shared pieces of the bad-input fuzz tests: hostile values, mutated configurations, a database fingerprint, and a
 * runner that sends each generated call over HTTP and judges the answer.
 */

/** Codes a client may get for a bad call; anything else (INTERNAL_SERVER_ERROR above all) is a defect. */
export const CLIENT_CODES = new Set([
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'CONFLICT',
  'FORBIDDEN',
  'UNAUTHENTICATED',
  'GRAPHQL_VALIDATION_FAILED',
  'GRAPHQL_PARSE_FAILED',
  'QUERY_TOO_COMPLEX',
  // A body refused before GraphQL sees it: one with a `__proto__` (or `constructor.prototype`) key.
  'BAD_REQUEST',
]);

export const FUZZ_SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Date.now() ^ (Math.random() * 2 ** 31);
export const FUZZ_RUNS = process.env.FUZZ_RUNS ? Number(process.env.FUZZ_RUNS) : 100;

/** Marks a variable to be left out of the request altogether (not sent as null). */
export const ABSENT = Symbol('absent');

/**
 * A JSON value nested `depth` levels deep. Deeper than JSON.stringify can go (a few thousand levels), so the request
 * body is written with placeholders instead, and the nesting spliced in as text.
 */
export class Deep {
  constructor(
    readonly depth: number,
    readonly kind: 'array' | 'object',
  ) {}

  text(): string {
    return this.kind === 'array'
      ? `${'['.repeat(this.depth)}${']'.repeat(this.depth)}`
      : `${'{"a":'.repeat(this.depth)}1${'}'.repeat(this.depth)}`;
  }

  toString(): string {
    return `<${this.kind} nested ${this.depth} deep>`;
  }
}

/** A string the size of `length`, built once per size (huge strings are expensive to generate character by character). */
export class Huge {
  constructor(
    readonly length: number,
    readonly char = 'x',
  ) {}

  value(): string {
    return this.char.repeat(this.length);
  }

  toString(): string {
    return `<${this.length} × ${JSON.stringify(this.char)}>`;
  }
}

/** The request body as text: Deep and Huge markers become their values, ABSENT keys disappear. */
export function requestBody(query: string, variables: Record<string, unknown>): string {
  const token = randomBytes(6).toString('hex');
  const deep: Deep[] = [];
  const text = JSON.stringify({ query, variables }, (_key, value) => {
    if (value === ABSENT) return undefined;
    if (value instanceof Huge) return value.value();
    if (value instanceof Deep) {
      deep.push(value);
      return `__deep_${token}_${deep.length - 1}__`;
    }
    return value;
  });
  return deep.reduce((body, value, index) => body.replace(`"__deep_${token}_${index}__"`, value.text()), text);
}

/** A short, readable rendering of generated variables for failure reports. */
export function describeValue(value: unknown): string {
  const text = JSON.stringify(value, (_key, v) => {
    if (v === ABSENT) return '<absent>';
    if (v instanceof Deep || v instanceof Huge) return String(v);
    if (typeof v === 'string' && v.length > 80) return `${v.slice(0, 40)}…<${v.length} chars>`;
    return v;
  });
  return text && text.length > 600 ? `${text.slice(0, 600)}…` : text;
}

// ---------------------------------------------------------------------------------------------------------------
// Hostile values

const SPECIAL_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\u0000\u0000\u0000',
  '\\u0000',
  '%00',
  '\ud800',
  'x\udfffy',
  '\udc00\ud800',
  '\ufeff',
  '\u202eevil',
  '\u200b',
  '👩‍👩‍👧‍👦',
  'Ω≈ç√∫˜µ≤≥÷',
  '田中さんにあげて下さい',
  '\n\t\r\f\b\v',
  "'; drop table users; --",
  "' or '1'='1",
  '%_\\',
  '${jndi:ldap://x}',
  '{{7*7}}',
  '__proto__',
  'constructor',
  'null',
  'undefined',
  'NaN',
  '-1',
  '1e999',
  '00000000-0000-0000-0000-000000000000',
  'ffffffff-ffff-ffff-ffff-ffffffffffff',
  'not-a-uuid',
];

/** Short strings that have broken parsers, databases or renderers somewhere. */
export const nastyString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...SPECIAL_STRINGS) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.string({ maxLength: 8 }), fc.constantFrom('\u0000', '\ud800', '\udc00', '\ud83d'), fc.string({ maxLength: 8 }))
      .map(([a, b, c]) => a + b + c),
  },
);

/** Strings around and far beyond the limits (255 for names, 10,000 for descriptions, 256 KiB, the 1 MiB body). */
export const hugeString: fc.Arbitrary<Huge> = fc
  .tuple(fc.constantFrom(256, 1_001, 2_049, 10_001, 70_000, 300_000, 1_100_000), fc.constantFrom('x', 'é', '😀', ' ', '\u0000'))
  .map(([length, char]) => new Huge(length, char));

export const deepValue: fc.Arbitrary<Deep> = fc
  .tuple(fc.constantFrom(63, 65, 200, 5_000, 100_000), fc.constantFrom('array' as const, 'object' as const))
  .map(([depth, kind]) => new Deep(depth, kind));

export const oddNumber: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(-1, 0, -0, 0.5, 1.5, 2 ** 31, 2 ** 31 - 1, -(2 ** 31) - 1, 2 ** 53 + 2, 1e308, -1e308, 5e-324, 1e-7),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.integer(),
);

/** Any JSON value, with hostile strings and keys mixed in. */
export const anyJson: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    oddNumber,
    fc.string({ maxLength: 10 }),
    nastyString,
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), nastyString), tie('value'), { maxKeys: 4 }),
  ),
})).value;

/** A value of the wrong type for nearly any field. */
export const wrongType: fc.Arbitrary<unknown> = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  oddNumber,
  fc.array(anyJson, { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), anyJson, { maxKeys: 3 }),
);

/** Anything hostile: wrong types, strange strings, huge strings, deep nesting. */
export const hostile: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: wrongType },
  { weight: 4, arbitrary: nastyString },
  { weight: 1, arbitrary: hugeString },
  { weight: 1, arbitrary: deepValue },
);

/** Text for a name-like field: usually plausible, often hostile. */
export const textValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 30 }) },
  { weight: 3, arbitrary: nastyString },
  { weight: 1, arbitrary: hugeString },
  { weight: 2, arbitrary: wrongType },
);

/** A UUID-shaped or not-at-all-shaped id, or one of the given real ones. */
export function idValue(real: string[]): fc.Arbitrary<unknown> {
  const mangled = real.flatMap((id) => [id.toUpperCase(), `${id}\u0000`, ` ${id}`, id.slice(0, -1), `${id}'`, id.replace(/-/g, '')]);
  return fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...real) },
    { weight: 2, arbitrary: fc.uuid() },
    { weight: 2, arbitrary: fc.constantFrom(...mangled) },
    { weight: 2, arbitrary: nastyString },
    { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.constant(null), fc.boolean(), fc.array(fc.uuid(), { maxLength: 2 })) },
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Mutated configurations

type Mutation =
  | { op: 'delete'; at: number[] }
  | { op: 'replace'; at: number[]; value: unknown }
  | { op: 'add'; at: number[]; key: string; value: unknown }
  | { op: 'toArray'; at: number[] };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }) }),
  fc.record({ op: fc.constant('replace' as const), at: fc.array(fc.nat(), { minLength: 1, maxLength: 4 }), value: hostile }),
  fc.record({
    op: fc.constant('add' as const),
    at: fc.array(fc.nat(), { maxLength: 3 }),
    key: fc.oneof(fc.string({ maxLength: 10 }), nastyString),
    value: fc.oneof(anyJson, hostile),
  }),
  fc.record({ op: fc.constant('toArray' as const), at: fc.array(fc.nat(), { maxLength: 3 }) }),
);

function isContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  return typeof value === 'object' && value !== null && !(value instanceof Deep) && !(value instanceof Huge);
}

/** Applies one mutation to `root` in place, walking `at` (indices modulo the keys there) as far as containers go. */
function applyMutation(root: Record<string, unknown>, m: Mutation): void {
  let parent: Record<string, unknown> | unknown[] = root;
  let key: string | number | undefined;
  for (const step of m.at) {
    const node: unknown = key === undefined ? parent : (parent as Record<string, unknown>)[key as string];
    if (!isContainer(node)) break;
    const keys = Array.isArray(node) ? node.map((_v, i) => i) : Object.keys(node);
    if (keys.length === 0) break;
    if (key !== undefined) parent = node;
    key = keys[step % keys.length];
  }
  const target = key === undefined ? parent : (parent as Record<string, unknown>)[key as string];
  switch (m.op) {
    case 'delete':
      if (key === undefined) return;
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      return;
    case 'replace':
      if (key !== undefined) (parent as Record<string, unknown>)[key as string] = m.value;
      return;
    case 'add':
      if (isContainer(target) && !Array.isArray(target)) target[m.key] = m.value;
      else if (Array.isArray(target)) target.push(m.value);
      return;
    case 'toArray':
      if (key !== undefined) (parent as Record<string, unknown>)[key as string] = [target];
      return;
  }
}

/** A configuration from `validConfiguration()`, with 0 to 4 random mutations: usually invalid, sometimes not. */
export const mutatedConfiguration: fc.Arbitrary<Record<string, unknown>> = fc.array(mutation, { maxLength: 4 }).map((mutations) => {
  const configuration = structuredClone(validConfiguration()) as unknown as Record<string, unknown>;
  for (const m of mutations) applyMutation(configuration, m);
  return configuration;
});

/** A JSON object for a JSONObject argument: a mutated configuration, any object, or something that is not one. */
export const objectValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: mutatedConfiguration },
  { weight: 2, arbitrary: fc.dictionary(fc.oneof(fc.string({ maxLength: 8 }), nastyString), anyJson, { maxKeys: 5 }) },
  { weight: 1, arbitrary: fc.constant({}) },
  { weight: 1, arbitrary: fc.record({ a: deepValue }) },
  { weight: 1, arbitrary: fc.record({ blob: hugeString }) },
  { weight: 2, arbitrary: hostile },
);

/**
 * A record from `base` (a record, or an arbitrary of records) with at most `maxChanges` of its keys changed: left out,
 * or replaced by their alternative; sometimes with unknown keys added. Mostly-valid inputs with one or two bad fields
 * reach deeper than wholly random ones. `alternatives` may name keys absent from `base`, for optional fields.
 */
export function variantOf(
  base: Record<string, unknown> | fc.Arbitrary<Record<string, unknown>>,
  alternatives: Record<string, fc.Arbitrary<unknown>>,
  options: { maxChanges?: number; extraKeys?: boolean } = {},
): fc.Arbitrary<Record<string, unknown>> {
  const baseArbitrary = base instanceof fc.Arbitrary ? base : fc.constant(base);
  const keys = Object.keys(alternatives);
  const replacements = fc.record(
    Object.fromEntries(
      keys.map((key) => [key, fc.oneof({ weight: 1, arbitrary: fc.constant(ABSENT) }, { weight: 4, arbitrary: alternatives[key] })]),
    ),
  );
  const extra =
    options.extraKeys === false
      ? fc.constant({})
      : fc.oneof(
          { weight: 9, arbitrary: fc.constant({}) },
          { weight: 1, arbitrary: fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 2 }) },
        );
  return fc
    .tuple(baseArbitrary, fc.subarray(keys, { maxLength: options.maxChanges ?? 2 }), replacements, extra)
    .map(([record, changed, replacement, more]) => {
      const result: Record<string, unknown> = { ...more, ...record };
      for (const key of changed) result[key] = replacement[key];
      for (const key of Object.keys(result)) if (result[key] === ABSENT) delete result[key];
      return result;
    });
}

// ---------------------------------------------------------------------------------------------------------------
// Sending and judging

export interface SendResult {
  status: number;
  body: { data?: Record<string, unknown> | null; errors?: Array<{ message: string; extensions?: Record<string, unknown> }> } | null;
  text: string;
  ms: number;
}

export async function send(api: Api, query: string, variables: Record<string, unknown>, as: TestUser | null): Promise<SendResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (as) headers.authorization = `Bearer ${as.token}`;
  const started = performance.now();
  const response = await fetch(api.url, { method: 'POST', headers, body: requestBody(query, variables) });
  const text = await response.text();
  let body: SendResult['body'] = null;
  try {
    body = JSON.parse(text);
  } catch {
    // judged below: a body that is not JSON
  }
  return { status: response.status, body, text, ms: performance.now() - started };
}

/** What must never show in a message: SQL, database errors, source locations, a stack overflow. */
const LEAK =
  /\b(select|insert|update|delete)\b[^"]*\b(from|into|set|where)\b|violates|syntax error|relation "|invalid byte sequence|unsupported Unicode|call stack|at .*\.(ts|js):\d+/i;

export interface Verdict {
  accepted: boolean;
  /** The error codes seen, or the HTTP status for a body cap answer. */
  codes: string[];
  problem?: string;
}

/** Data, or a client error; never a 5xx, an INTERNAL_SERVER_ERROR, a leak of SQL or a stack, or a malformed answer. */
export function judge(result: SendResult, field: string, nullable = false): Verdict {
  const { status, body } = result;
  if (status === 413) return { accepted: false, codes: ['HTTP_413'] };
  if (status >= 500) return { accepted: false, codes: [`HTTP_${status}`], problem: `HTTP ${status}: ${result.text.slice(0, 300)}` };
  if (status < 200 || status >= 500) return { accepted: false, codes: [], problem: `HTTP ${status}` };
  if (!body || typeof body !== 'object') return { accepted: false, codes: [], problem: `not a JSON body: ${result.text.slice(0, 200)}` };
  const codes = (body.errors ?? []).map((error) => String(error.extensions?.code));
  const unexpected = (body.errors ?? []).filter((error) => !CLIENT_CODES.has(String(error.extensions?.code)));
  if (unexpected.length > 0) {
    return {
      accepted: false,
      codes,
      problem: `HTTP ${status}, ${unexpected.map((e) => `${String(e.extensions?.code)}: ${e.message}`).join('; ')}`,
    };
  }
  const leaked = (body.errors ?? []).find((error) => LEAK.test(error.message));
  if (leaked) return { accepted: false, codes, problem: `leaky message: ${leaked.message.slice(0, 200)}` };
  const accepted = body.data?.[field] !== undefined && body.data?.[field] !== null;
  if (!accepted && codes.length === 0 && !(nullable && body.data?.[field] === null))
    return { accepted, codes, problem: `no data and no error: ${result.text.slice(0, 200)}` };
  if (accepted && status !== 200) return { accepted, codes, problem: `data with HTTP ${status}` };
  return { accepted, codes };
}

/** A cheap fingerprint of everything a mutation could write: row counts and an md5 of each table's rows. */
export async function fingerprint(api: Api): Promise<Record<string, string>> {
  const [row] = await api.db.query(`
    select
      (select count(*) || ':' || md5(coalesce(string_agg(t::text, '|' order by t.id), '')) from experiment_templates t) as templates,
      (select count(*) || ':' || md5(coalesce(string_agg(v::text, '|' order by v.id), '')) from experiment_template_versions v) as versions,
      (select count(*) || ':' || md5(coalesce(string_agg(s::text, '|' order by s.template_id, s.user_id), '')) from experiment_template_shares s) as shares,
      (select count(*) || ':' || md5(coalesce(string_agg(e::text, '|' order by e.id), '')) from ml_experiments e) as experiments,
      (select sum(usage_count) || ':' || md5(coalesce(string_agg(t.id || '=' || t.usage_count || '@' || coalesce(t.last_used::text, '-'), '|' order by t.id), ''))
         from experiment_templates t) as usage`);
  return row as Record<string, string>;
}

export interface FuzzCall {
  variables: Record<string, unknown>;
  as: TestUser | null;
  /** Set when preparing the call wrote to the database: the last fingerprint is stale. */
  changed?: boolean;
}

export interface FuzzSpec<P> {
  /** The mutation (or query) field judged: accepted when the answer holds it. */
  field: string;
  query: string;
  plan: fc.Arbitrary<P>;
  /** Turns a generated plan into a call; may create what the call needs (a fresh template to delete...). */
  prepare(plan: P): Promise<FuzzCall> | FuzzCall;
  /** Whether null without an error is a fine answer (a query for something the caller may not see). */
  nullable?: boolean;
  /** Whether the call may write at all; queries skip the fingerprint. */
  writes?: boolean;
  numRuns?: number;
}

export interface FuzzReport {
  field: string;
  runs: number;
  accepted: number;
  rejected: number;
  codes: Record<string, number>;
  failures: Array<{ call: string; problem: string }>;
  maxMs: number;
  /** Time spent in requests and in fingerprints, for keeping the file fast. */
  requestMs: number;
  checkMs: number;
}

/**
 * Sends `numRuns` generated calls one after another and judges each: the answer (see `judge`) and, for a rejected
 * call, that the database fingerprint did not move. Failures are collected, not thrown, so the report counts them all.
 */
export async function fuzz<P>(api: Api, spec: FuzzSpec<P>): Promise<FuzzReport> {
  const report: FuzzReport = {
    field: spec.field,
    runs: 0,
    accepted: 0,
    rejected: 0,
    codes: {},
    failures: [],
    maxMs: 0,
    requestMs: 0,
    checkMs: 0,
  };
  const writes = spec.writes ?? true;
  let known: Record<string, string> | undefined;
  const plans = fc.sample(spec.plan, { numRuns: spec.numRuns ?? FUZZ_RUNS, seed: FUZZ_SEED ^ hashOf(spec.field) });
  for (const plan of plans) {
    const call = await spec.prepare(plan);
    if (call.changed) known = undefined;
    let checkStarted = performance.now();
    const before = writes ? (known ?? (await fingerprint(api))) : undefined;
    report.checkMs += performance.now() - checkStarted;
    let verdict: Verdict;
    try {
      const result = await send(api, spec.query, call.variables, call.as);
      report.maxMs = Math.max(report.maxMs, result.ms);
      report.requestMs += result.ms;
      verdict = judge(result, spec.field, spec.nullable);
    } catch (error) {
      verdict = { accepted: false, codes: [], problem: `request failed: ${(error as Error).message}` };
    }
    report.runs += 1;
    if (verdict.accepted) report.accepted += 1;
    else report.rejected += 1;
    for (const code of verdict.codes) report.codes[code] = (report.codes[code] ?? 0) + 1;
    let problem = verdict.problem;
    if (writes && !verdict.accepted) {
      checkStarted = performance.now();
      const after = await fingerprint(api);
      report.checkMs += performance.now() - checkStarted;
      const moved = Object.keys(after).filter((table) => after[table] !== before![table]);
      if (moved.length > 0 && !problem) problem = `rejected (${verdict.codes.join(', ')}) but changed ${moved.join(', ')}`;
      known = after;
    } else {
      known = undefined;
    }
    if (problem) report.failures.push({ call: `as ${call.as ? 'user' : 'anonymous'} ${describeValue(call.variables)}`, problem });
  }
  const codes = Object.entries(report.codes)
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  console.log(
    `fuzz ${spec.field}: ${report.runs} runs, ${report.accepted} accepted, ${report.rejected} rejected (${codes || 'none'}), ` +
      `${report.failures.length} failures, max ${report.maxMs.toFixed(0)} ms (requests ${report.requestMs.toFixed(0)} ms, ` +
      `checks ${report.checkMs.toFixed(0)} ms), seed ${FUZZ_SEED}`,
  );
  return report;
}

/** The failures in a readable form, for the assertion message; at most a few of each kind of problem. */
export function failuresOf(report: FuzzReport): string[] {
  const seen = new Map<string, number>();
  const shown: string[] = [];
  for (const failure of report.failures) {
    const kind = failure.problem.replace(/[0-9a-f-]{36}/g, '<id>').slice(0, 120);
    const count = (seen.get(kind) ?? 0) + 1;
    seen.set(kind, count);
    if (count <= 2) shown.push(`${failure.problem}\n    call: ${failure.call}`);
  }
  return shown;
}

function hashOf(text: string): number {
  let hash = 0;
  for (const char of text) hash = (hash * 31 + char.charCodeAt(0)) | 0;
  return hash;
}
