import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import pino from 'pino';
import { Sql, StatementRecorder } from '../../src/db/sql';
import { RateLimiter, STORE_RETRY_MS, type RateDecision } from '../../src/http/rate-limit';
import { RateLimitLeases } from '../../src/http/rate-limit-leases';
import { waitForRateLimitWindow } from '../support/rate-limit-window';
import { createTestDatabase, openTestOrm, type TestDatabase } from '../support/test-database';

/**
 * The shared rate limits against the test database: the lease statement (`RateLimitLeases`) and the limiter that
 * spends leased blocks in its process (`RateLimiter`). Each ORM stands for a server process: a pool of its own.
 */

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
const newKey = () => `user:${randomUUID()}`;

describe('shared rate limits', () => {
  let db: TestDatabase;
  const orms: MikroORM[] = [];
  /** The pools of three server processes. */
  let pools: Sql[];
  const recorder = new StatementRecorder();

  beforeAll(async () => {
    db = await createTestDatabase();
    for (let i = 0; i < 3; i++) orms.push(await openTestOrm(db));
    pools = orms.map((orm) => Sql.of(orm.em));
    recorder.attach();
  });

  afterAll(async () => {
    recorder.detach();
    for (const orm of orms) await orm.close(true);
    await db?.drop();
  });

  describe('leases (RateLimitLeases)', () => {
    it('grants a quota exactly once to leases racing from three processes: whole blocks, one partial, then nothing', async () => {
      await waitForRateLimitWindow(db, 10_000);
      const key = newKey();
      const stores = pools.map((sql) => new RateLimitLeases(sql, 60_000));
      const leases = (
        await Promise.all(stores.flatMap((store) => Array.from({ length: 20 }, () => store.lease([{ key, quota: 100, block: 7 }]))))
      ).flat();

      const grants = leases.map((lease) => lease.granted);
      expect(sum(grants)).toBe(100);
      expect(grants.filter((granted) => granted === 7)).toHaveLength(14);
      expect(grants.filter((granted) => granted === 2)).toHaveLength(1);
      expect(grants.filter((granted) => granted === 0)).toHaveLength(45);
      // Whatever a lease grants, it says what is left for every process after it.
      expect(Math.min(...leases.map((lease) => lease.remaining))).toBe(0);
      for (const lease of leases.filter((l) => l.granted === 0)) expect(lease.remaining).toBe(0);
      const rows = await db.query(`select quota, used from rate_limit_windows where quota = 100`);
      expect(rows).toEqual([{ quota: 100, used: 100 }]);
    });

    it('leases several keys in one statement, each against its own quota and block', async () => {
      const store = new RateLimitLeases(pools[0], 60_000);
      const [address, user] = [`ip:${randomUUID()}`, newKey()];
      const { result, trips } = await recorder.capture(() =>
        store.lease([
          { key: address, quota: 10, block: 3 },
          { key: user, quota: 5, block: 5 },
        ]),
      );
      expect(trips.flat()).toHaveLength(1);
      expect(result.map(({ granted, remaining }) => ({ granted, remaining }))).toEqual([
        { granted: 3, remaining: 7 },
        { granted: 5, remaining: 0 },
      ]);
      const [again] = await store.lease([{ key: user, quota: 5, block: 5 }]);
      expect(again).toMatchObject({ granted: 0, remaining: 0 });
    });

    it("says when the window ends, by the database's clock", async () => {
      const store = new RateLimitLeases(pools[0], 60_000);
      const [lease] = await store.lease([{ key: newKey(), quota: 5, block: 1 }]);
      const [row] = await db.query(`select (extract(epoch from statement_timestamp()) * 1000)::bigint % 60000 as into_window_ms`);
      expect(lease.windowMsLeft).toBeGreaterThan(0);
      expect(lease.windowMsLeft).toBeLessThanOrEqual(60_000);
      // The two clocks are read a few milliseconds apart.
      expect(Math.abs(lease.windowMsLeft - (60_000 - Number(row.into_window_ms)))).toBeLessThan(1_000);
    });

    it('starts each window afresh and deletes the windows that are over', async () => {
      const store = new RateLimitLeases(pools[0], 1_000);
      const key = newKey();
      let [first] = await store.lease([{ key, quota: 3, block: 3 }]);
      if (first.windowMsLeft < 300) {
        // Too close to the end of a window for the rest of the test: take the next one.
        await sleep(first.windowMsLeft + 20);
        [first] = await store.lease([{ key, quota: 3, block: 3 }]);
      }
      expect(first).toMatchObject({ granted: 3, remaining: 0 });
      expect((await store.lease([{ key, quota: 3, block: 3 }]))[0].granted).toBe(0);

      await sleep(first.windowMsLeft + 20);
      const [next] = await store.lease([{ key, quota: 3, block: 3 }]);
      expect(next).toMatchObject({ granted: 3, remaining: 0 });
      expect(next.windowMsLeft).toBeGreaterThan(500);
      const windows = `select count(*)::int as n from rate_limit_windows where quota = 3`;
      expect(await db.query(windows)).toEqual([{ n: 2 }]);

      await store.deleteOldWindows();
      expect(await db.query(windows)).toEqual([{ n: 1 }]);
      expect((await store.lease([{ key, quota: 3, block: 3 }]))[0].granted).toBe(0);
    });

    it('stores any key as a digest of a fixed size: a NUL or ten thousand characters in a subject cannot fail a lease', async () => {
      const store = new RateLimitLeases(pools[0], 60_000);
      const odd = [`user:nul\u0000inside-${randomUUID()}`, `user:${'x'.repeat(10_000)}${randomUUID()}`];
      const leases = await store.lease(odd.map((key) => ({ key, quota: 4, block: 2 })));
      expect(leases.map((lease) => lease.granted)).toEqual([2, 2]);
      const rows = await db.query<{ key: string }>(`select key from rate_limit_windows where quota = 4`);
      expect(rows.map((row) => row.key.length)).toEqual([43, 43]);
    });
  });

  describe('limiter (RateLimiter)', () => {
    const logs: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
    const limiterOf = (sql: Sql, perUserPerMinute: number) =>
      new RateLimiter({ perIpPerMinute: 0, perUserPerMinute, store: 'postgres' }, sql, logger);
    const limiters: RateLimiter[] = [];
    afterAll(() => limiters.forEach((limiter) => limiter.close()));

    it('holds one limit across two processes within a block each, concurrent requests of a process waiting for its one lease', async () => {
      await waitForRateLimitWindow(db, 15_000);
      const processes = [limiterOf(pools[0], 100), limiterOf(pools[1], 100)];
      limiters.push(...processes);
      const user = randomUUID();
      const { result: decisions, trips } = await recorder.capture(() =>
        Promise.all(Array.from({ length: 150 }, (_, i) => processes[i % 2].take('127.0.0.1', user))),
      );

      const admitted = decisions.filter((decision) => decision.allowed).length;
      // Blocks of 5 (a twentieth of 100): at most one left unspent per process.
      expect(admitted).toBeGreaterThanOrEqual(90);
      expect(admitted).toBeLessThanOrEqual(100);
      // A statement per block, not per request: 20 blocks, and at most one more per process to hear that none is left.
      const leases = trips.flat().filter((statement) => statement.sql.includes('rate_limit_windows'));
      expect(leases.length).toBeGreaterThanOrEqual(20);
      expect(leases.length).toBeLessThanOrEqual(22);
      const refusals = decisions.filter((decision): decision is Extract<RateDecision, { allowed: false }> => !decision.allowed);
      expect(refusals).toHaveLength(150 - admitted);
      const [row] = await db.query(`select (extract(epoch from statement_timestamp()) * 1000)::bigint % 60000 as into_window_ms`);
      const secondsLeft = Math.ceil((60_000 - Number(row.into_window_ms)) / 1000);
      for (const refusal of refusals) {
        expect(refusal.scope).toBe('user');
        expect(Math.abs(refusal.retryAfterSeconds - secondsLeft)).toBeLessThanOrEqual(1);
      }

      // A refusal known in the process costs no statement.
      const { result: refused, trips: none } = await recorder.capture(() => processes[0].take('127.0.0.1', user));
      expect(refused.allowed).toBe(false);
      expect(none).toEqual([]);
    });

    it('counts in its own process while the store fails, says so once, and shares the limit again once the store answers', async () => {
      const limiter = limiterOf(pools[2], 5);
      limiters.push(limiter);
      const before = logs.length;
      const linesSince = (message: string) => logs.slice(before).filter((line) => (JSON.parse(line) as { msg: string }).msg === message);
      await db.query(`alter table rate_limit_windows rename to rate_limit_windows_away`);
      let decisions: RateDecision[];
      try {
        const user = randomUUID();
        decisions = [];
        for (let i = 0; i < 8; i++) decisions.push(await limiter.take('127.0.0.1', user));
      } finally {
        await db.query(`alter table rate_limit_windows_away rename to rate_limit_windows`);
      }
      expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, true, true, true, false, false, false]);
      expect(decisions[5]).toMatchObject({ scope: 'user', retryAfterSeconds: expect.any(Number) });
      const unreachable = linesSince('rate limit store unreachable: each process counts the limits on its own until it answers');
      expect(unreachable).toHaveLength(1);
      expect(JSON.parse(unreachable[0])).toMatchObject({ level: 40, err: { code: '42P01' }, retryInMs: STORE_RETRY_MS });

      // Asked again once STORE_RETRY_MS have passed, and heard from.
      await sleep(STORE_RETRY_MS + 100);
      const { trips } = await recorder.capture(() => limiter.take('127.0.0.1', randomUUID()));
      expect(trips.flat().filter((statement) => statement.sql.includes('rate_limit_windows'))).toHaveLength(1);
      expect(linesSince('rate limit store answers again: limits are shared by every process')).toHaveLength(1);
      expect(linesSince('rate limit store unreachable: each process counts the limits on its own until it answers')).toHaveLength(1);
    });
  });
});
