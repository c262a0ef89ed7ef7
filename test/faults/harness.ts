import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { signLocalToken } from '../../src/auth/local-secret';
import type { AppConfig } from '../../src/config';
import { createTestDatabase, type TestDatabase } from '../support/test-database';
import { TEST_DB_CONFIG } from '../support/test-database-config';
import { clusterPids, signal } from './cluster-processes';
import type { ClusterCommand, ControllerReply, ControllerRequest, StartedCluster } from './fault-controller';

export { signal };

/**
 * Fault-injection harness: a PostgreSQL cluster that can be stopped, restarted on the same port and frozen, and the
 * real server (`node dist/src/main.js`, built by the Jest global setup) as a process of its own pointed at it.
 */

export const ROOT = path.resolve(__dirname, '../..');
export const FAULT_JWT_SECRET = 'tessera-faults-secret-0123456789-abcdefghij';

/** Short timeouts, so a fault shows within seconds; every bound in these tests is derived from them. */
export const FAULT_DB_TIMEOUTS = { acquireMs: 1_500, connectMs: 1_000, statementMs: 2_000 };

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `promise`'s value, or 'timeout' after `ms` (leaving no timer behind). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The cluster's controller (test/faults/fault-controller.ts), compiled by the Jest global setup. */
const CONTROLLER = path.join(ROOT, 'dist/test/faults/fault-controller.js');

/** Durability is worthless for a cluster thrown away after the test. */
const SETTINGS = { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' };

export interface Cluster {
  /** URL of the migrated `tessera` database. */
  url: string;
  port: number;
  dir: string;
  /** Stops PostgreSQL (fast shutdown: sessions are terminated). */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** The postmaster and every process it forked (backends, checkpointer, ...). */
  pids(): number[];
  /** Stops the cluster and its controller, whatever state they are in. */
  dispose(): Promise<void>;
}

export async function startCluster(dir: string, dbConfig: AppConfig['db']): Promise<Cluster> {
  const controller = spawn(process.execPath, [CONTROLLER], { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let nextId = 0;
  const call = (command: ClusterCommand) =>
    new Promise<StartedCluster | undefined>((resolve, reject) => {
      const id = ++nextId;
      const onMessage = (message: ControllerReply) => {
        if (message.id !== id) return;
        controller.off('message', onMessage);
        controller.off('exit', onExit);
        if (message.ok) resolve(message.started);
        else reject(new Error(`cluster ${command.command} failed: ${message.error}`));
      };
      const onExit = (code: number | null) => reject(new Error(`cluster controller exited with ${code} during ${command.command}`));
      controller.on('message', onMessage);
      controller.once('exit', onExit);
      const request: ControllerRequest = { id, ...command };
      controller.send(request);
    });

  let started: StartedCluster | undefined;
  try {
    started = await call({ command: 'start', dir, migrate: dbConfig, settings: SETTINGS });
    if (!started) throw new Error('cluster start answered without its address');
  } catch (error) {
    controller.kill('SIGKILL');
    throw error;
  }
  const port = started.port;
  const pids = () => clusterPids(dir);
  return {
    url: started.url,
    port,
    dir,
    pids,
    async stop() {
      await call({ command: 'stop' });
    },
    async start() {
      await call({ command: 'start', dir, port, settings: SETTINGS });
    },
    async dispose() {
      // A frozen cluster would never stop: thaw it first.
      for (const pid of pids()) signal(pid, 'SIGCONT');
      if (controller.connected) {
        await within(
          call({ command: 'stop' }).catch(() => undefined),
          10_000,
        );
        controller.disconnect();
      }
      if (controller.exitCode === null) controller.kill('SIGKILL');
      // Whatever survived the controller (it is not the postmaster's parent under every runner).
      for (const pid of pids()) signal(pid, 'SIGKILL');
    },
  };
}

export interface ServerProcess {
  child: ChildProcess;
  graphqlUrl: string;
  origin: string;
  output: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Kills the whole process group unless it exited already. */
  kill(): void;
}

/** What src/main.ts logs, with the URL, once it listens. */
const SERVING_MESSAGE = 'Tessera is serving GraphQL';

/** How the server is started: its own command, or `npm start` as a developer or a process manager runs it. */
export type StartCommand = 'node' | 'npm start';

/**
 * `node dist/src/main.js` (or `npm start`) against `databaseUrl`, in a process group of its own; resolves once it logs
 * its URL, from every worker when `env.WORKERS` asks for several.
 */
export async function startServer(
  databaseUrl: string,
  dataDir: string,
  env: Record<string, string> = {},
  command: StartCommand = 'node',
): Promise<ServerProcess> {
  const output: string[] = [];
  const [file, args] = command === 'node' ? [process.execPath, ['dist/src/main.js']] : ['npm', ['start', '--silent']];
  const child = spawn(file, args, {
    cwd: ROOT,
    env: {
      ...process.env,
      DATABASE_URL: databaseUrl,
      DATA_DIR: dataDir,
      PORT: '0',
      HOST: '127.0.0.1',
      NODE_ENV: 'development',
      JWT_SECRET: FAULT_JWT_SECRET,
      // The URL is logged at info.
      LOG_LEVEL: 'info',
      RATE_LIMIT_PER_IP_PER_MINUTE: '0',
      RATE_LIMIT_PER_USER_PER_MINUTE: '0',
      DB_POOL_MAX: '10',
      DB_ACQUIRE_TIMEOUT_MS: String(FAULT_DB_TIMEOUTS.acquireMs),
      DB_CONNECT_TIMEOUT_MS: String(FAULT_DB_TIMEOUTS.connectMs),
      DB_STATEMENT_TIMEOUT_MS: String(FAULT_DB_TIMEOUTS.statementMs),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  // From the structured log line, not the banner: that is printed only outside production.
  const workers = Number(env.WORKERS ?? 1);
  const graphqlUrl = await new Promise<string>((resolve, reject) => {
    let pending = '';
    let serving = 0;
    const onData = (chunk: Buffer) => {
      const lines = (pending + chunk.toString()).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const url = servingUrl(line);
        if (url === undefined || ++serving < workers) continue;
        child.stdout.off('data', onData);
        resolve(url);
        return;
      }
    };
    child.stdout.on('data', onData);
    void exited.then(({ code }) => reject(new Error(`server exited early with ${code}:\n${output.join('')}`)));
  });
  return {
    child,
    graphqlUrl,
    origin: new URL(graphqlUrl).origin,
    output,
    exited,
    kill() {
      if (child.pid && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Gone already.
        }
      }
    },
  };
}

/** The `url` of a JSON log line announcing the server, or undefined for any other line. */
function servingUrl(line: string): string | undefined {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return undefined;
  }
  const { msg, url } = (entry ?? {}) as { msg?: unknown; url?: unknown };
  return msg === SERVING_MESSAGE && typeof url === 'string' ? url : undefined;
}

/** The JSON lines a server process (and its workers) logged. */
export function logLines(server: ServerProcess): Array<Record<string, any>> {
  return server.output
    .join('')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, any>];
      } catch {
        return [];
      }
    });
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run --silent <args>` in the project, as a developer runs it, to its end (a non-zero exit is a result too). */
export function runNpm(args: string[], env: Record<string, string>): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface FaultServerOptions {
  /** Names the scratch directory. */
  name: string;
  /**
   * 'own cluster': a PostgreSQL cluster of the file's own, migrated, which the test may stop, restart and freeze.
   * 'shared': a database of the file's own on the run's PostgreSQL, for faults of the server rather than the database.
   */
  database: 'own cluster' | 'shared';
  /** Server environment over the harness's (NODE_ENV, ...). */
  env?: Record<string, string>;
}

export interface FaultServer {
  /** Scratch directory: the server's DATA_DIR, and the data directory of an own cluster. */
  dir: string;
  server: ServerProcess;
}

/**
 * The server as a process of its own on a database of the file's own, for the file's lifetime. Everything is killed
 * and removed afterwards, however the test left it (a stopped or frozen cluster, an exited server).
 */
export function useFaultServer(options: FaultServerOptions & { database: 'own cluster' }): FaultServer & { cluster: Cluster };
export function useFaultServer(options: FaultServerOptions & { database: 'shared' }): FaultServer;
export function useFaultServer(options: FaultServerOptions): FaultServer & { cluster?: Cluster } {
  const fixture = {} as FaultServer & { cluster?: Cluster };
  let shared: TestDatabase | undefined;
  beforeAll(async () => {
    fixture.dir = await mkdtemp(path.join(os.tmpdir(), `tessera-fault-${options.name}-`));
    let databaseUrl: string;
    if (options.database === 'own cluster') {
      fixture.cluster = await startCluster(fixture.dir, TEST_DB_CONFIG);
      databaseUrl = fixture.cluster.url;
    } else {
      shared = await createTestDatabase();
      databaseUrl = shared.url;
    }
    fixture.server = await startServer(databaseUrl, fixture.dir, options.env);
  }, 60_000);
  afterAll(async () => {
    fixture.server?.kill();
    await fixture.cluster?.dispose();
    await shared?.drop();
    if (fixture.dir) await rm(fixture.dir, { recursive: true, force: true });
  }, 30_000);
  return fixture;
}

export function tokenFor(email: string): Promise<string> {
  return signLocalToken({ secret: FAULT_JWT_SECRET, email });
}

export interface Outcome {
  startedAt: number;
  ms: number;
  /** HTTP status, or undefined when no response came (reset, refused, client timeout). */
  status?: number;
  body?: any;
  text?: string;
  /** Network failure or client-side timeout. */
  error?: string;
}

export const ME_QUERY = '{ me { id } }';

/** One GraphQL POST, with a client-side deadline so a hung server shows as an error rather than a hung test. */
export async function graphql(url: string, token: string, query = ME_QUERY, deadlineMs = 20_000): Promise<Outcome> {
  const startedAt = Date.now();
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query }),
      signal: AbortSignal.timeout(deadlineMs),
    });
    const text = await response.text();
    let body: any;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { startedAt, ms: Date.now() - startedAt, status: response.status, body, text };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return {
      startedAt,
      ms: Date.now() - startedAt,
      error: `${(error as Error).name}: ${(error as Error).message}${cause ? ` (${cause})` : ''}`,
    };
  }
}

export function isOk(outcome: Outcome): boolean {
  return outcome.status === 200 && typeof outcome.body?.data?.me?.id === 'string' && !outcome.body.errors;
}

/** Words that would betray the database behind a masked error. */
const LEAKS = /select|insert|update|users|external_id|postgres|ECONNREFUSED|ECONNRESET|timeout|knex|pool|connection|terminat|stack/i;

/** The masked answer: INTERNAL_SERVER_ERROR, the fixed message and a request id, nothing from the database. */
export function isMaskedFailure(outcome: Outcome): boolean {
  if (outcome.status === undefined || !outcome.body?.errors?.length) return false;
  if (outcome.body.data?.me) return false;
  return outcome.body.errors.every(
    (error: any) =>
      error.message === 'Internal server error' &&
      error.extensions?.code === 'INTERNAL_SERVER_ERROR' &&
      typeof error.extensions?.requestId === 'string' &&
      Object.keys(error.extensions).every((key) => key === 'code' || key === 'requestId') &&
      !LEAKS.test(JSON.stringify(error)),
  );
}

/** `concurrency` clients sending `{ me { id } }` back to back (with a short pause) until stopped. */
export function startLoad(url: string, token: string, concurrency: number, pauseMs = 10) {
  const outcomes: Outcome[] = [];
  let running = true;
  const workers = Array.from({ length: concurrency }, async () => {
    while (running) {
      outcomes.push(await graphql(url, token));
      await sleep(pauseMs);
    }
  });
  return {
    outcomes,
    async stop() {
      running = false;
      await Promise.all(workers);
      return outcomes;
    },
  };
}

export async function readyz(origin: string): Promise<{ status?: number; ms: number; error?: string }> {
  const startedAt = Date.now();
  try {
    const response = await fetch(`${origin}/readyz`, { signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    return { status: response.status, ms: Date.now() - startedAt };
  } catch (error) {
    return { ms: Date.now() - startedAt, error: String(error) };
  }
}

/** Polls `check` every `intervalMs` until it holds; resolves with the milliseconds it took, or rejects past `limitMs`. */
export async function waitFor(check: () => Promise<boolean>, limitMs: number, intervalMs = 100): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await check()) return Date.now() - start;
    if (Date.now() - start > limitMs) throw new Error(`condition not met within ${limitMs} ms`);
    await sleep(intervalMs);
  }
}

export function summarize(outcomes: Outcome[]) {
  const ok = outcomes.filter(isOk).length;
  const masked = outcomes.filter(isMaskedFailure).length;
  const statuses: Record<string, number> = {};
  for (const outcome of outcomes) {
    const key = outcome.status === undefined ? `error:${outcome.error}` : String(outcome.status);
    statuses[key] = (statuses[key] ?? 0) + 1;
  }
  const maxMs = outcomes.reduce((max, outcome) => Math.max(max, outcome.ms), 0);
  return { sent: outcomes.length, ok, masked, other: outcomes.length - ok - masked, statuses, maxMs };
}

export interface HttpOutcome {
  status?: number;
  body?: any;
  /** The response arrived whole (Content-Length or final chunk). */
  complete: boolean;
  error?: string;
  finishedAt?: number;
  /** The answer said `Connection: close`: the server closes the connection after it. */
  closesConnection?: boolean;
}

/**
 * A POST whose headers go out at once with `Expect: 100-continue` and whose body waits for `send()`. Node's HTTP server
 * answers `100 Continue` just before it hands the request to Fastify, so `accepted` resolving means the server holds the
 * request: it is in flight from then on, until its body arrives and its answer is sent.
 */
export function heldRequest(url: string, token: string) {
  const body = JSON.stringify({ query: ME_QUERY });
  let accept!: () => void;
  const accepted = new Promise<void>((resolve) => (accept = resolve));
  const request = http.request(url, {
    method: 'POST',
    agent: false,
    headers: {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
      authorization: `Bearer ${token}`,
      expect: '100-continue',
    },
  });
  request.on('continue', accept);
  const result = outcomeOf(request);
  request.flushHeaders();
  return { accepted, result, send: () => request.end(body) };
}

export function outcomeOf(request: http.ClientRequest): Promise<HttpOutcome> {
  return new Promise((resolve) => {
    request.setTimeout(20_000, () => request.destroy(new Error('client timeout')));
    request.on('error', (error: NodeJS.ErrnoException) => resolve({ complete: false, error: error.code ?? error.message }));
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', (error) => resolve({ status: response.statusCode, complete: false, error: error.message }));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let body: any;
        try {
          body = JSON.parse(text);
        } catch {
          body = undefined;
        }
        resolve({
          status: response.statusCode,
          body,
          complete: response.complete,
          finishedAt: Date.now(),
          closesConnection: response.headers.connection === 'close',
        });
      });
    });
  });
}

/** A `{ me { id } }` answered whole with the caller's id. */
export const isCompleteOk = (o: HttpOutcome) =>
  o.complete && o.status === 200 && typeof o.body?.data?.me?.id === 'string' && !o.body.errors;

/** How a request of a keep-alive client ended: answered (by status), refused a connection, or cut without an answer. */
export type LoadAnswer = 'ok' | 'refused' | 'cut' | `status ${number}`;

export interface LoadRequest extends HttpOutcome {
  client: number;
  sentAt: number;
  /** Sent on a connection an earlier request of the client used. */
  reusedConnection: boolean;
  answer: LoadAnswer;
}

function answerOf(outcome: HttpOutcome): LoadAnswer {
  if (outcome.error === 'ECONNREFUSED') return 'refused';
  if (outcome.status === undefined || !outcome.complete) return 'cut';
  return isCompleteOk(outcome) ? 'ok' : `status ${outcome.status}`;
}

/**
 * `clients` clients, each with one keep-alive connection (opened again whenever the server closes it), sending
 * `{ me { id } }` back to back with a short pause, as a load balancer's pooled connections do. A client stops once a
 * connection is refused (it would go to another instance) or when told to.
 */
export function startKeepAliveLoad(url: string, token: string, clients: number, pauseMs = 5) {
  const body = JSON.stringify({ query: ME_QUERY });
  const requests: LoadRequest[] = [];
  let running = true;
  const agents = Array.from({ length: clients }, () => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const done = Promise.all(
    agents.map(async (agent, client) => {
      while (running) {
        const sentAt = Date.now();
        const request = http.request(url, {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` },
        });
        const result = outcomeOf(request);
        request.end(body);
        const outcome = await result;
        const answer = answerOf(outcome);
        requests.push({ ...outcome, client, sentAt, reusedConnection: request.reusedSocket, answer });
        if (answer === 'refused') return;
        await sleep(pauseMs);
      }
    }),
  );
  return {
    requests,
    /** Resolves once every client stopped: refused, or told to stop. */
    done,
    async stop() {
      running = false;
      await done;
      for (const agent of agents) agent.destroy();
      return requests;
    },
  };
}

/** How many requests ended each way. */
export function countAnswers(requests: readonly LoadRequest[]): Partial<Record<LoadAnswer, number>> {
  const counts: Partial<Record<LoadAnswer, number>> = {};
  for (const { answer } of requests) counts[answer] = (counts[answer] ?? 0) + 1;
  return counts;
}
