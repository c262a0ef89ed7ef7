/** Fakes the clock (`Date`) alone from `now` on: timers, promises and I/O run as usual, so servers and jose still work. */
export function fakeClockOnly(now: number | Date): void {
  jest.useFakeTimers({
    now,
    doNotFake: [
      'hrtime',
      'nextTick',
      'performance',
      'queueMicrotask',
      'setImmediate',
      'clearImmediate',
      'setInterval',
      'clearInterval',
      'setTimeout',
      'clearTimeout',
    ],
  });
}
