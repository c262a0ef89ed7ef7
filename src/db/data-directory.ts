import { readFileSync } from 'node:fs';
import { link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readPostmaster, type Postmaster } from './embedded-database';

/**
 * The data directory's embedded PostgreSQL has one owner: the process that started it (the server, its primary with
 * WORKERS=N, or a command run while no server is), recorded in `<dataDir>/owner.json` for as long as it runs. Another
 * server refuses to start on the directory; commands connect to the owner's cluster instead of starting a second
 * postmaster. A record whose process is gone (killed, crashed) is stale and taken over.
 */

const OWNER_FILE = 'owner.json';

/** How long a postmaster left behind is given for a fast shutdown (it writes a checkpoint) before an immediate one. */
const ORPHAN_FAST_SHUTDOWN_MS = 20_000;
const ORPHAN_IMMEDIATE_SHUTDOWN_MS = 5_000;

export interface DataDirectoryOwner {
  pid: number;
  /** What it is, in words a person recognises: `a Tessera server`, `npm run seed`. */
  command: string;
  /** The kernel's start time of that process, so that a pid used again by another process is not taken for it. */
  processStart?: string;
}

export const SERVER_COMMAND = 'a Tessera server';

export class DataDirectoryInUseError extends Error {
  constructor(
    readonly dataDir: string,
    readonly owner: DataDirectoryOwner,
  ) {
    const whatToDo =
      owner.command === SERVER_COMMAND ? `stop it first (Ctrl-C where it runs, or kill ${owner.pid})` : 'wait until it finishes';
    super(
      `${owner.command} (pid ${owner.pid}) is already using the data directory ${dataDir}: ${whatToDo}, or give this one its own DATA_DIR`,
    );
    this.name = 'DataDirectoryInUseError';
  }
}

export interface DataDirectoryClaim {
  /** Gives the directory up, unless another process has taken it over meanwhile. */
  release(): Promise<void>;
}

/**
 * Makes this process the directory's owner, as `command`; throws DataDirectoryInUseError while another live process
 * owns it. The record is written whole under a temporary name and linked into place, which fails if one exists: two
 * processes starting together cannot both own the directory.
 */
export async function claimDataDirectory(dataDir: string, command: string): Promise<DataDirectoryClaim> {
  await mkdir(dataDir, { recursive: true });
  const file = path.join(dataDir, OWNER_FILE);
  const me: DataDirectoryOwner = { pid: process.pid, command, processStart: processStart(process.pid) };
  const draft = `${file}.${process.pid}`;
  await writeFile(draft, `${JSON.stringify(me)}\n`);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(draft, file);
        return { release: () => releaseIfOwned(file, me) };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const owner = await readOwner(file);
      if (owner && isRunning(owner)) throw new DataDirectoryInUseError(dataDir, owner);
      if (attempt > 0) throw new Error(`could not take over the data directory ${dataDir}: ${file} stays in the way`);
      // Left by a process that is gone (killed before it could give the directory up): the directory is free.
      await rm(file, { force: true });
    }
  } finally {
    await rm(draft, { force: true });
  }
}

async function readOwner(file: string): Promise<DataDirectoryOwner | undefined> {
  try {
    const owner = JSON.parse(await readFile(file, 'utf8')) as DataDirectoryOwner;
    return Number.isInteger(owner.pid) ? owner : undefined;
  } catch {
    return undefined;
  }
}

async function releaseIfOwned(file: string, me: DataDirectoryOwner): Promise<void> {
  const owner = await readOwner(file);
  if (owner?.pid === me.pid && owner.processStart === me.processStart) await rm(file, { force: true });
}

function isRunning(owner: DataDirectoryOwner): boolean {
  if (!processExists(owner.pid)) return false;
  const start = processStart(owner.pid);
  return owner.processStart === undefined || start === undefined || start === owner.processStart;
}

/**
 * A postmaster of this data directory that runs while no process owns the directory: its owner was killed (`kill -9`,
 * a crash) before it could stop it. It holds the directory's lock and port, so the next start would fail on it.
 */
export function findOrphanedPostmaster(dataDir: string): Postmaster | undefined {
  const postmaster = readPostmaster(dataDir);
  if (!postmaster || !processExists(postmaster.pid)) return undefined;
  // postmaster.pid may be stale and its pid used again: only a postgres started on this very directory is ours.
  const commandLine = processCommandLine(postmaster.pid);
  return commandLine?.includes(path.join(dataDir, 'pg')) ? postmaster : undefined;
}

/**
 * Stops a postmaster left behind, as `pg_ctl stop` would: a fast shutdown (SIGINT: sessions end, a checkpoint is
 * written, nothing committed is lost), then an immediate one (SIGQUIT: recovery replays the WAL on the next start) if it
 * takes too long. Adopting it instead would leave the server watching a process it did not start, with an earlier
 * run's settings; a fresh start costs about a second.
 */
export async function stopOrphanedPostmaster(orphan: Postmaster): Promise<void> {
  for (const [signal, waitMs] of [
    ['SIGINT', ORPHAN_FAST_SHUTDOWN_MS],
    ['SIGQUIT', ORPHAN_IMMEDIATE_SHUTDOWN_MS],
  ] as const) {
    try {
      process.kill(orphan.pid, signal);
    } catch {
      return;
    }
    const deadline = Date.now() + waitMs;
    while (processExists(orphan.pid)) {
      if (Date.now() > deadline) break;
      await sleep(50);
    }
    if (!processExists(orphan.pid)) return;
  }
  throw new Error(
    `the PostgreSQL left running in ${orphan.databaseDir} (pid ${orphan.pid}) does not stop: kill ${orphan.pid}, then start again`,
  );
}

/** Whether `pid` is a process that has not ended (a zombie waiting for its parent to reap it has). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, under another user (the `postgres` OS user, when Tessera runs as root).
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  return procStat(pid)?.state !== 'Z';
}

/** The kernel's start time of `pid` (Linux); undefined where /proc cannot tell. */
function processStart(pid: number): string | undefined {
  return procStat(pid)?.startTime;
}

function procStat(pid: number): { state: string; startTime: string } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // pid (comm) state ppid ...: comm may hold spaces and parentheses, so the fields are read after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], startTime: fields[19] };
  } catch {
    return undefined;
  }
}

function processCommandLine(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
}
