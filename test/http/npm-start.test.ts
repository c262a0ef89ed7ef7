import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '../..');

/** Waits until the server prints its GraphQL URL, collecting its output for the failure message. */
function waitForUrl(child: ChildProcess, output: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      const match = /Tessera GraphQL API: (http:\/\/\S+)/.exec(output.join(''));
      if (match) resolve(match[1]);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.on('exit', (code) => reject(new Error(`server exited early with ${code}:\n${output.join('')}`)));
  });
}

describe('npm start on a fresh data directory', () => {
  let dataDir: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-start-'));
  });
  afterAll(async () => {
    // The whole process group: npm, its shell and the server, whatever state the test left them in.
    if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts its embedded database, answers /readyz and { __typename }, accepts `npm run token` tokens, and stops cleanly on SIGTERM', async () => {
    const output: string[] = [];
    child = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      env: { ...process.env, DATA_DIR: dataDir, PORT: '0', NODE_ENV: 'development', DATABASE_URL: '', JWT_SECRET: '', LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const graphqlUrl = await waitForUrl(child, output);
    const base = new URL(graphqlUrl).origin;

    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready' });

    const response = await fetch(graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });

    // The development token command signs with the secret the server made under the data directory. A token names the
    // user only when --name says so: one without never renames them.
    const tokenFor = async (...args: string[]) => {
      const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'token', '--', 'dev@example.test', ...args], {
        cwd: ROOT,
        env: { ...process.env, DATA_DIR: dataDir, NODE_ENV: 'development', JWT_SECRET: '' },
      });
      return stdout.trim();
    };
    const me = async (token: string) => {
      const response = await fetch(graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ me { email displayName } }' }),
      });
      return response.json();
    };
    // On a built tree the commands compile nothing: the build's record is left as it was.
    const builtAt = statSync(path.join(ROOT, 'dist/.tsbuildinfo')).mtimeMs;
    const [named, plain] = await Promise.all([tokenFor('--name', 'Dev Lovelace'), tokenFor()]);
    expect(statSync(path.join(ROOT, 'dist/.tsbuildinfo')).mtimeMs).toBe(builtAt);
    expect(await me(named)).toEqual({ data: { me: { email: 'dev@example.test', displayName: 'Dev Lovelace' } } });
    expect(await me(plain)).toEqual({ data: { me: { email: 'dev@example.test', displayName: 'Dev Lovelace' } } });
    expect(output.join('')).toContain('npm run token -- you@example.com');

    // npm forwards the signal to the server process, which drains and exits 0.
    const exited = new Promise<number | null>((resolve) => child!.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  }, 120_000);
});

describe('WORKERS=2 on a fresh data directory', () => {
  let dataDir: string;
  let child: ChildProcess | undefined;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'tessera-workers-'));
  });
  afterAll(async () => {
    if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it('starts the embedded database once in the primary, serves from two workers, and stops them and it on SIGTERM', async () => {
    const output: string[] = [];
    child = spawn(process.execPath, ['dist/src/main.js'], {
      cwd: ROOT,
      env: {
        ...process.env,
        WORKERS: '2',
        DATA_DIR: dataDir,
        PORT: '0',
        NODE_ENV: 'development',
        DATABASE_URL: '',
        JWT_SECRET: '',
        LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    // The banner comes from the primary once every worker listens.
    const graphqlUrl = await waitForUrl(child, output);
    for (let i = 0; i < 4; i++) {
      const response = await fetch(graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
    }
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(true);

    const exited = new Promise<number | null>((resolve) => child!.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);

    const lines = output
      .join('')
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { pid: number; msg: string });
    const pidsLogging = (message: string) => new Set(lines.filter((line) => line.msg === message).map((line) => line.pid));
    const primary = [child.pid];
    expect([...pidsLogging('starting embedded PostgreSQL in ' + path.join(dataDir, 'pg'))]).toEqual(primary);
    const workers = pidsLogging('Tessera is serving GraphQL');
    expect(workers.size).toBe(2);
    expect(workers.has(child.pid!)).toBe(false);
    // Both workers drained, then the primary stopped PostgreSQL, which removes its pid file on a clean shutdown.
    expect(pidsLogging('stopped')).toEqual(new Set([...workers, child.pid]));
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  }, 120_000);
});
