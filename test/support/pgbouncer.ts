import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { findFreePort } from '../../src/db/embedded-database';

/**
 * A real PgBouncer in transaction mode in front of an embedded cluster, as production would run it: the tests' and the
 * bench's (its scale phase).
 */
export interface PgBouncer {
  /** `database` on the cluster, reached through PgBouncer. */
  url(database: string): string;
  /** PgBouncer's admin console (`SHOW POOLS`...). */
  adminUrl: string;
  /** Server connections per database and user: fewer than the server's pool, so clients share them. */
  poolSize: number;
  /** Its process, whose CPU time the bench counts. */
  pid: number;
  stop(): Promise<void>;
}

export const PGBOUNCER_MISSING = 'pgbouncer is not installed: apt-get install -y pgbouncer (.ci/run installs it when missing)';

/** Where Debian's package puts it; `.ci/run` installs it. The tests and the bench install nothing themselves. */
export function findPgBouncer(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).concat('/usr/sbin')) {
    const candidate = path.join(dir, 'pgbouncer');
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Starts PgBouncer for every database of the cluster at `serverUrl`, clients admitted without a password. */
export async function startPgBouncer(serverUrl: string, poolSize = 4): Promise<PgBouncer> {
  const binary = findPgBouncer();
  if (!binary) throw new Error(PGBOUNCER_MISSING);
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-pgbouncer-'));
  // PgBouncer refuses to run as root; it reads its files as the unprivileged user the test cluster runs as.
  const runsAsRoot = process.getuid?.() === 0;
  if (runsAsRoot) await chmod(dir, 0o755);
  const port = await findFreePort();
  // The password is PgBouncer's for logging in to the cluster; its own clients are trusted.
  await writeFile(path.join(dir, 'userlist.txt'), `"${user}" "${decodeURIComponent(server.password).replace(/"/g, '""')}"\n`, {
    mode: 0o644,
  });
  await writeFile(
    path.join(dir, 'pgbouncer.ini'),
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'unix_socket_dir =',
      'auth_type = trust',
      `auth_file = ${path.join(dir, 'userlist.txt')}`,
      `admin_users = ${user}`,
      'pool_mode = transaction',
      `default_pool_size = ${poolSize}`,
      'max_client_conn = 500',
      '',
    ].join('\n'),
  );

  const child = spawn(binary, [...(runsAsRoot ? ['-u', 'postgres'] : []), path.join(dir, 'pgbouncer.ini')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitForListener(port, exited, () => output.join(''));
  } catch (error) {
    await stop();
    throw error;
  }

  const urlOf = (database: string) => `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  return { url: urlOf, adminUrl: urlOf('pgbouncer'), poolSize, pid: child.pid!, stop };
}

async function waitForListener(port: number, exited: Promise<void>, output: () => string): Promise<void> {
  let gone = false;
  void exited.then(() => (gone = true));
  const deadline = Date.now() + 10_000;
  while (!gone && Date.now() < deadline) {
    const listening = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (listening) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`pgbouncer did not start listening on ${port}:\n${output()}`);
}
