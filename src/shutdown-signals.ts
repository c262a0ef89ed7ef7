import { performance } from 'node:perf_hooks';
import type pino from 'pino';

/**
 * How long after a drain begins a SIGTERM or SIGINT counts as the same stop delivered again, not a second one. Stopping
 * `npm start` by its process group (as process managers and terminals do: Ctrl-C is SIGINT to the whole group) signals
 * the server directly and again through npm, which forwards what it got, milliseconds apart; a person or a supervisor
 * insisting does so seconds later.
 */
export const REPEATED_SIGNAL_WINDOW_MS = 1_000;

export interface Shutdown {
  /** Starts the drain for a reason that is not a signal (the primary's message, workers that keep dying); once. */
  drain(reason: string): void;
}

/**
 * SIGTERM and SIGINT stop the process. The first, or `drain`, starts `onDrain`; a signal within
 * REPEATED_SIGNAL_WINDOW_MS of that start changes nothing; a later one is deliberate: the process exits at once, code 1.
 */
export function stopOnSignals(logger: pino.Logger, onDrain: (reason: string) => void): Shutdown {
  let drainStartedAt: number | undefined;
  const drain = (reason: string) => {
    if (drainStartedAt !== undefined) return;
    drainStartedAt = performance.now();
    onDrain(reason);
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (drainStartedAt === undefined) return drain(signal);
    const msSinceDrain = Math.round(performance.now() - drainStartedAt);
    if (msSinceDrain < REPEATED_SIGNAL_WINDOW_MS) {
      logger.info({ signal, msSinceDrain }, 'signal repeated while draining: still draining');
      return;
    }
    logger.warn({ signal, msSinceDrain }, 'second signal: exiting now');
    process.exit(1);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return { drain };
}

/**
 * Exits with code 1 once `ms` have passed since the stop began, logging what it still waited for: a stop that hangs
 * (a request that never ends, a database that never answers) must still end before whatever supervises the process
 * kills it.
 */
export function exitAtDeadline(logger: pino.Logger, ms: number, unfinished: () => object): void {
  setTimeout(() => {
    logger.error({ timeoutMs: ms, ...unfinished() }, 'shutdown deadline passed: exiting');
    process.exit(1);
  }, ms).unref();
}
