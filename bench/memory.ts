import { existsSync, readFileSync } from 'node:fs';

export function mib(bytes: number): number {
  return Math.round(bytes / 2 ** 20);
}

export interface RssWatch {
  /** Stops sampling: the highest resident set seen, and the timeline's samples, in bytes. */
  stop(): { peak: number; timeline: number[] };
}

/**
 * Samples this process's resident set (the server's: it runs here) every 50 ms for its peak and, when asked, every
 * `timelineMs` for a timeline.
 */
export function watchRss(timelineMs?: number): RssWatch {
  let peak = process.memoryUsage.rss();
  const timeline: number[] = [];
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage.rss());
  }, 50);
  const recorder = timelineMs ? setInterval(() => timeline.push(process.memoryUsage.rss()), timelineMs) : undefined;
  return {
    stop() {
      clearInterval(sampler);
      clearInterval(recorder);
      return { peak: Math.max(peak, process.memoryUsage.rss()), timeline };
    },
  };
}

/** VmHWM: the process's peak resident set over its whole life (generation and EXPLAIN included). */
export function vmHwmMiB(): number {
  if (!existsSync('/proc/self/status')) return Number.NaN;
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : 0;
}
