import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// CPU accounting reads Linux's /proc; elsewhere the figures are NaN and the report shows "?".
const HAS_PROC = existsSync('/proc/stat');

/** Kernel clock ticks per second for /proc/<pid>/stat times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** The postmaster of the cluster whose data directory is `pgDir`. */
export function postmasterPid(pgDir: string): number {
  return Number(readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

function stat(pid: string): { ppid: number; own: number; children: number } | null {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name is in parentheses and may hold spaces: fields are counted after its closing one.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(fields[1]), own: Number(fields[11]) + Number(fields[12]), children: Number(fields[13]) + Number(fields[14]) };
  } catch {
    return null;
  }
}

/**
 * CPU milliseconds used so far by a process and all its descendants: a PostgreSQL cluster (the postmaster, its backends,
 * walwriter...), a server's primary and its workers. Each process counts its own time and that of its children that
 * already exited (its cutime/cstime once they are reaped).
 */
export function processTreeCpuMs(root: number): number {
  if (!HAS_PROC) return Number.NaN;
  const processes = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const process = stat(entry);
    if (process) processes.set(Number(entry), { ppid: process.ppid, ticks: process.own + process.children });
  }
  let ticks = 0;
  const inTree = (pid: number): boolean => pid === root || (pid > 1 && processes.has(pid) && inTree(processes.get(pid)!.ppid));
  for (const [pid, process] of processes) if (inTree(pid)) ticks += process.ticks;
  return (ticks * 1000) / TICKS_PER_SECOND;
}

export function processCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** CPU milliseconds the whole machine spent busy (all cores, every process), from /proc/stat. */
export function machineBusyMs(): number {
  if (!HAS_PROC) return Number.NaN;
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return ((user + nice + system + irq + softirq + steal) * 1000) / TICKS_PER_SECOND;
}
