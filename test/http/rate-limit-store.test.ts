import { randomUUID } from 'node:crypto';
import type { MikroORM } from '@mikro-orm/postgresql';
import pino from 'pino';
import { Sql, StatementRecorder } from '../../src/db/sql';
import { RateLimiter, REPORT_EVERY_MS, STORE_RETRY_MS, WINDOW_MS, type RateDecision } from '../../src/http/rate-limit';
import { RateLimitCounts, storedKeyOf } from '../../src/http/rate-limit-counts';
import { waitForRateLimitWindow } from '../support/rate-limit-window';
import { createTestDatabase, openTestOrm, type TestDatabase } from '../support/test-database';

/**
 * The shared rate limits against the test database: the counts every process reports (`RateLimitCounts`) and the
 * limiter that admits in its process and reports in batches (`RateLimiter`). Each ORM stands for a server process:
 * a pool of its own.
 */

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const newKey = () => `user:${randomUUID()}`;
const currentWindow = () => Date.now() - (Date.now() % WINDOW_MS);
const isReport = (sql: string) => sql.includes('rate_limit_windows');

describe('shared rate limits', () => {
  let db: TestDatabase;
  const orms: MikroORM[] = [];
  /** The pools of three server processes. */
  let pools: Sql[];
  const recorder = new StatementRecorder();
  const usedOf = async (key: string) =>
    (await db.query<{ used: number }>(`select used from rate_limit_windows where key = $1`, [storedKeyOf(key)])).map((row) => row.used);

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

  describe('counts (RateLimitCounts)', () => {
    it('adds every report of three processes racing on one key exactly once, each answering the total after it', async () => {
      const key = newKey();
      const window = currentWindow();
      const stores = pools.map((sql) => new RateLimitCounts(sql));
      const reports = await Promise.all(
        stores.flatMap((store) => Array.from({ length: 20 }, () => store.add(window, [{ key, requests: 3 }]))),
      );

      const totals = reports.map((report) => report.totals[0]).sort((a, b) => a - b);
      expect(totals).toEqual(Array.from({ length: 60 }, (_, i) => 3 * (i + 1)));
      expect(await usedOf(key)).toEqual([180]);
    });

    it('reports several keys in one statement, answering each total in the order asked', async () => {
      const store = new RateLimitCounts(pools[0]);
      const [address, user] = [`ip:${randomUUID()}`, newKey()];
      const window = currentWindow();
      const { result, trips } = await recorder.capture(() =>
        store.add(window, [
          { key: address, requests: 2 },
          { key: user, requests: 5 },
        ]),
      );
      expect(trips.flat()).toHaveLength(1);
      expect(result.totals).toEqual([2, 5]);
      const again = await store.add(window, [
        { key: user, requests: 1 },
        { key: address, requests: 1 },
      ]);
      expect(again.totals).toEqual([6, 3]);
    });

    it("counts each window apart, deletes the windows before a given one, and answers the database's clock", async () => {
      const store = new RateLimitCounts(pools[0]);
      const key = newKey();
      const window = currentWindow();
      await store.add(window - WINDOW_MS, [{ key, requests: 4 }]);
      const { totals, databaseNow } = await store.add(window, [{ key, requests: 1 }]);
      expect(totals).toEqual([1]);
      expect(await usedOf(key)).toEqual(expect.arrayContaining([4, 1]));
      // One machine, one clock: read a few milliseconds apart.
      expect(Math.abs(databaseNow - Date.now())).toBeLessThan(1_000);

      await store.deleteWindowsBefore(window);
      expect(await usedOf(key)).toEqual([1]);
    });

    it('stores any key as a digest of a fixed size: a NUL or ten thousand characters in a subject cannot fail a report', async () => {
      const store = new RateLimitCounts(pools[0]);
      const odd = [`user:nul\u0000inside-${randomUUID()}`, `user:${'x'.repeat(10_000)}${randomUUID()}`];
      const { totals } = await store.add(
        currentWindow(),
        odd.map((key) => ({ key, requests: 2 })),
      );
      expect(totals).toEqual([2, 2]);
      expect(odd.map(storedKeyOf).map((stored) => stored.length)).toEqual([43, 43]);
    });
  });

  describe('limiter (RateLimiter)', () => {
    const logs: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(line) });
    const limiters: RateLimiter[] = [];
    const limiterOf = (sql: Sql, perUserPerMinute: number) => {
      const limiter = new RateLimiter({ perIpPerMinute: 0, perUserPerMinute, userByEmailPerMinute: 0, store: 'postgres' }, sql, logger);
      limiters.push(limiter);
      return limiter;
    };
    afterAll(() => Promise.all(limiters.map((limiter) => limiter.close())));

    it('holds one limit across two processes within a block, reporting once per block and refusing with no statement', async () => {
      await waitForRateLimitWindow(db, 15_000);
      const processes = [limiterOf(pools[0], 100), limiterOf(pools[1], 100)];
      const user = randomUUID();
      const { result: decisions, trips } = await recorder.capture(() =>
        Promise.all(Array.from({ length: 150 }, (_, i) => processes[i % 2].take('127.0.0.1', user))),
      );

      const admitted = decisions.filter((decision) => decision.allowed).length;
      // Blocks of 5 (a twentieth of 100): the other process may admit one block before it hears the limit is spent.
      expect(admitted).toBeGreaterThanOrEqual(100);
      expect(admitted).toBeLessThanOrEqual(105);
      // A report per block, not per request.
      expect(trips.flat().filter((statement) => isReport(statement.sql)).length).toBeLessThanOrEqual(admitted / 5 + 2);
      const refusals = decisions.filter((decision): decision is Extract<RateDecision, { allowed: false }> => !decision.allowed);
      expect(refusals).toHaveLength(150 - admitted);
      const secondsLeft = Math.ceil((currentWindow() + WINDOW_MS - Date.now()) / 1000);
      for (const refusal of refusals) {
        expect(refusal.scope).toBe('user');
        expect(Math.abs(refusal.retryAfterSeconds - secondsLeft)).toBeLessThanOrEqual(1);
      }

      const { result: refused, trips: none } = await recorder.capture(() => processes[0].take('127.0.0.1', user));
      expect(refused.allowed).toBe(false);
      expect(none).toEqual([]);
      await Promise.all(processes.map((limiter) => limiter.close()));
      expect(await usedOf(`user:${user}`)).toEqual([admitted]);
    });

    it('admits at most a block in a process that has not heard yet that other processes spent the limit', async () => {
      await waitForRateLimitWindow(db, 10_000);
      const [first, late] = [limiterOf(pools[0], 100), limiterOf(pools[1], 100)];
      const user = randomUUID();
      for (let i = 0; i < 100; i++) expect((await first.take('127.0.0.1', user)).allowed).toBe(true);
      await first.close();
      const decisions: boolean[] = [];
      for (let i = 0; i < 10; i++) decisions.push((await late.take('127.0.0.1', user)).allowed);
      expect(decisions).toEqual([true, true, true, true, true, false, false, false, false, false]);
    });

    it('reports quiet keys every REPORT_EVERY_MS, all of them in one statement, none on the way of a request', async () => {
      await waitForRateLimitWindow(db, 10_000);
      const limiter = limiterOf(pools[2], 1_000);
      const users = Array.from({ length: 10 }, () => randomUUID());
      const { trips: whileAdmitting } = await recorder.capture(() => Promise.all(users.map((user) => limiter.take('127.0.0.1', user))));
      expect(whileAdmitting).toEqual([]);
      const { trips } = await recorder.capture(() => sleep(REPORT_EVERY_MS + 200));
      expect(trips.flat().filter((statement) => isReport(statement.sql))).toHaveLength(1);
      for (const user of users) expect(await usedOf(`user:${user}`)).toEqual([1]);
    });

    it('counts in its own process while the store fails, says so once, and reports what it admitted once the store answers', async () => {
      await waitForRateLimitWindow(db, 15_000);
      const limiter = limiterOf(pools[2], 7);
      const before = logs.length;
      const linesSince = (message: string) => logs.slice(before).filter((line) => (JSON.parse(line) as { msg: string }).msg === message);
      const unreachable = 'rate limit store unreachable: each process counts the limits on its own until it answers';
      const user = randomUUID();
      await db.query(`alter table rate_limit_windows rename to rate_limit_windows_away`);
      const decisions: RateDecision[] = [];
      try {
        for (let i = 0; i < 10; i++) decisions.push(await limiter.take('127.0.0.1', user));
      } finally {
        await db.query(`alter table rate_limit_windows_away rename to rate_limit_windows`);
      }
      expect(decisions.map((decision) => decision.allowed)).toEqual([...Array<boolean>(7).fill(true), false, false, false]);
      expect(decisions[7]).toMatchObject({ scope: 'user', retryAfterSeconds: expect.any(Number) });
      expect(linesSince(unreachable)).toHaveLength(1);
      expect(JSON.parse(linesSince(unreachable)[0])).toMatchObject({ level: 40, err: { code: '42P01' }, retryInMs: STORE_RETRY_MS });

      // Reported again once STORE_RETRY_MS have passed: the store then holds what the process admitted meanwhile.
      await sleep(STORE_RETRY_MS + REPORT_EVERY_MS + 200);
      expect(linesSince('rate limit store answers again: limits are shared by every process')).toHaveLength(1);
      expect(linesSince(unreachable)).toHaveLength(1);
      expect(await usedOf(`user:${user}`)).toEqual([7]);
    });
  });
});
