import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../src/config';

type Env = Record<string, string | undefined>;

/** The problems `loadConfig` reports for `env`; fails the test when it accepts it. */
function problemsOf(env: Env): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError, but loadConfig accepted the environment');
}

const SECRET = 's'.repeat(32);
const DATABASE_URL = 'postgres://tessera:pw@pgbouncer.internal:6432/tessera';
const DATABASE_MIGRATION_URL = 'postgres://tessera_owner:pw@db.internal:5432/tessera';
const REPLICA_1 = 'postgres://tessera:pw@replica-1.internal:5432/tessera';
const REPLICA_2 = 'postgresql://tessera:pw@replica-2.internal:5432/tessera';
const METRICS_TOKEN = 'm'.repeat(32);

describe('loadConfig', () => {
  it('has defaults for everything with an empty environment', () => {
    expect(loadConfig({})).toStrictEqual({
      nodeEnv: 'development',
      host: '127.0.0.1',
      port: 4000,
      graphqlPath: '/graphql',
      workers: 1,
      databaseUrl: undefined,
      databaseMigrationUrl: undefined,
      databaseReplicaUrls: [],
      dataDir: path.resolve('.data'),
      db: {
        pooler: 'none',
        poolMax: 10,
        statementTimeoutMs: 5_000,
        lockTimeoutMs: 2_000,
        acquireTimeoutMs: 3_000,
        connectTimeoutMs: 5_000,
        replicaMaxLagMs: 2_000,
      },
      auth: {
        jwtSecret: undefined,
        jwksUrl: undefined,
        issuer: undefined,
        audience: undefined,
        requireEmailVerified: false,
        rolesClaim: 'roles',
        staffRole: 'admin',
        teamsClaim: undefined,
      },
      rateLimits: { perIpPerMinute: 1_200, perUserPerMinute: 600, userByEmailPerMinute: 30, store: 'postgres' },
      logLevel: 'info',
      metrics: { served: true, port: undefined, token: undefined },
      shutdown: { graceMs: 0, timeoutMs: 20_000 },
    });
  });

  it('reads the environment it is given, not process.env', () => {
    expect(process.env.NODE_ENV).toBe('test');
    expect(loadConfig({}).nodeEnv).toBe('development');
  });

  it('takes blank and whitespace-only variables as unset, and trims values', () => {
    const config = loadConfig({ HOST: '   ', PORT: '', DB_POOL_MAX: ' 25 ', LOG_LEVEL: '\tdebug\n', JWT_ISSUER: '  ' });
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(4000);
    expect(config.db.poolMax).toBe(25);
    expect(config.logLevel).toBe('debug');
    expect(config.auth.issuer).toBeUndefined();
  });

  it('reads every variable', () => {
    expect(
      loadConfig({
        NODE_ENV: 'production',
        HOST: '0.0.0.0',
        PORT: '8080',
        DATABASE_URL,
        DATABASE_MIGRATION_URL,
        DATABASE_REPLICA_URLS: ` ${REPLICA_1}, ${REPLICA_2} `,
        DATABASE_POOLER: 'pgbouncer',
        DATA_DIR: '/var/lib/tessera',
        WORKERS: '5',
        DB_POOL_MAX: '50',
        DB_STATEMENT_TIMEOUT_MS: '10000',
        DB_LOCK_TIMEOUT_MS: '500',
        DB_ACQUIRE_TIMEOUT_MS: '1000',
        DB_CONNECT_TIMEOUT_MS: '2000',
        DB_REPLICA_MAX_LAG_MS: '750',
        JWT_SECRET: SECRET,
        JWT_ISSUER: 'https://issuer.example',
        JWT_AUDIENCE: 'tessera',
        REQUIRE_EMAIL_VERIFIED: 'true',
        ROLES_CLAIM: 'groups',
        STAFF_ROLE: 'tessera-staff',
        TEAMS_CLAIM: 'groups',
        RATE_LIMIT_PER_IP_PER_MINUTE: '0',
        RATE_LIMIT_PER_USER_PER_MINUTE: '1000000',
        RATE_LIMIT_USER_BY_EMAIL_PER_MINUTE: '5',
        RATE_LIMIT_STORE: 'memory',
        LOG_LEVEL: 'warn',
        METRICS_PORT: '9464',
        METRICS_TOKEN: METRICS_TOKEN,
        SHUTDOWN_GRACE_MS: '10000',
        SHUTDOWN_TIMEOUT_MS: '25000',
      }),
    ).toStrictEqual({
      nodeEnv: 'production',
      host: '0.0.0.0',
      port: 8080,
      graphqlPath: '/graphql',
      workers: 5,
      databaseUrl: DATABASE_URL,
      databaseMigrationUrl: DATABASE_MIGRATION_URL,
      databaseReplicaUrls: [REPLICA_1, REPLICA_2],
      dataDir: '/var/lib/tessera',
      db: {
        pooler: 'pgbouncer',
        poolMax: 10,
        statementTimeoutMs: 10_000,
        lockTimeoutMs: 500,
        acquireTimeoutMs: 1_000,
        connectTimeoutMs: 2_000,
        replicaMaxLagMs: 750,
      },
      auth: {
        jwtSecret: SECRET,
        jwksUrl: undefined,
        issuer: 'https://issuer.example',
        audience: 'tessera',
        requireEmailVerified: true,
        rolesClaim: 'groups',
        staffRole: 'tessera-staff',
        teamsClaim: 'groups',
      },
      rateLimits: { perIpPerMinute: 0, perUserPerMinute: 1_000_000, userByEmailPerMinute: 5, store: 'memory' },
      logLevel: 'warn',
      metrics: { served: true, port: 9464, token: METRICS_TOKEN },
      shutdown: { graceMs: 10_000, timeoutMs: 25_000 },
    });
  });

  describe('workers', () => {
    const production = { NODE_ENV: 'production', DATABASE_URL, JWT_SECRET: SECRET };

    it('runs one process in development and one per core in production, 10 connections each by default', () => {
      expect(loadConfig({})).toMatchObject({ workers: 1, db: { poolMax: 10 } });
      expect(loadConfig(production)).toMatchObject({ workers: os.availableParallelism(), db: { poolMax: 10 } });
    });

    it("divides DB_POOL_MAX, the whole server's connections, among the workers", () => {
      expect(loadConfig({ WORKERS: '4', DB_POOL_MAX: '42' })).toMatchObject({ workers: 4, db: { poolMax: 10 } });
      expect(loadConfig({ ...production, WORKERS: '3', DB_POOL_MAX: '3' })).toMatchObject({ workers: 3, db: { poolMax: 1 } });
    });

    it('refuses fewer connections than workers, and a worker count outside 1 to 128', () => {
      expect(problemsOf({ WORKERS: '4', DB_POOL_MAX: '3' })).toEqual([
        'DB_POOL_MAX (3) must be at least WORKERS (4): each worker needs a connection',
      ]);
      expect(problemsOf({ WORKERS: '0' })).toEqual(['WORKERS must be an integer between 1 and 128 (got "0")']);
      expect(problemsOf({ WORKERS: '129' })).toEqual(['WORKERS must be an integer between 1 and 128 (got "129")']);
    });
  });

  describe('metrics', () => {
    const production = { NODE_ENV: 'production', DATABASE_URL, JWT_SECRET: SECRET };

    it("serves them on the server's own port outside production, and in production only where configured", () => {
      expect(loadConfig({}).metrics).toStrictEqual({ served: true, port: undefined, token: undefined });
      expect(loadConfig({ NODE_ENV: 'test' }).metrics.served).toBe(true);
      expect(loadConfig(production).metrics).toStrictEqual({ served: false, port: undefined, token: undefined });
      expect(loadConfig({ ...production, METRICS_PORT: '9464' }).metrics).toStrictEqual({ served: true, port: 9464, token: undefined });
      expect(loadConfig({ ...production, METRICS_TOKEN }).metrics).toStrictEqual({ served: true, port: undefined, token: METRICS_TOKEN });
      expect(loadConfig({ METRICS_PORT: '0' }).metrics.port).toBe(0);
    });

    it('refuses a short token, a port out of range, and the port GraphQL uses', () => {
      expect(problemsOf({ METRICS_TOKEN: 'short' })).toEqual(['METRICS_TOKEN must be at least 32 characters']);
      expect(problemsOf({ METRICS_PORT: '65536' })).toEqual(['METRICS_PORT must be an integer between 0 and 65535 (got "65536")']);
      expect(problemsOf({ PORT: '4000', METRICS_PORT: '4000' })).toEqual(['METRICS_PORT must differ from PORT (both 4000)']);
      expect(loadConfig({ PORT: '0', METRICS_PORT: '0' }).metrics.port).toBe(0);
    });
  });

  describe('shutdown', () => {
    const production = { NODE_ENV: 'production', DATABASE_URL, JWT_SECRET: SECRET };

    it('serves through a grace of 5 s in production and none elsewhere, and gives up 20 s after the grace', () => {
      expect(loadConfig(production).shutdown).toStrictEqual({ graceMs: 5_000, timeoutMs: 25_000 });
      expect(loadConfig({ NODE_ENV: 'test' }).shutdown).toStrictEqual({ graceMs: 0, timeoutMs: 20_000 });
      expect(loadConfig({ SHUTDOWN_GRACE_MS: '300' }).shutdown).toStrictEqual({ graceMs: 300, timeoutMs: 20_300 });
      expect(loadConfig({ ...production, SHUTDOWN_TIMEOUT_MS: '8000' }).shutdown).toStrictEqual({ graceMs: 5_000, timeoutMs: 8_000 });
    });

    it('refuses a deadline that leaves no time after the grace', () => {
      expect(problemsOf({ SHUTDOWN_GRACE_MS: '5000', SHUTDOWN_TIMEOUT_MS: '5000' })).toEqual([
        'SHUTDOWN_TIMEOUT_MS (5000) must exceed SHUTDOWN_GRACE_MS (5000): requests are answered after the grace',
      ]);
    });
  });

  it('resolves a relative DATA_DIR against the working directory', () => {
    expect(loadConfig({ DATA_DIR: 'var/pg' }).dataDir).toBe(path.resolve('var/pg'));
  });

  describe('integers', () => {
    it.each([
      ['PORT', 0, 65535, (c: ReturnType<typeof loadConfig>) => c.port],
      ['DB_POOL_MAX', 1, 500, (c: ReturnType<typeof loadConfig>) => c.db.poolMax],
      ['DB_STATEMENT_TIMEOUT_MS', 100, 600_000, (c: ReturnType<typeof loadConfig>) => c.db.statementTimeoutMs],
      ['DB_LOCK_TIMEOUT_MS', 10, 600_000, (c: ReturnType<typeof loadConfig>) => c.db.lockTimeoutMs],
      ['DB_ACQUIRE_TIMEOUT_MS', 100, 120_000, (c: ReturnType<typeof loadConfig>) => c.db.acquireTimeoutMs],
      ['DB_CONNECT_TIMEOUT_MS', 100, 120_000, (c: ReturnType<typeof loadConfig>) => c.db.connectTimeoutMs],
      ['DB_REPLICA_MAX_LAG_MS', 0, 3_600_000, (c: ReturnType<typeof loadConfig>) => c.db.replicaMaxLagMs],
      ['RATE_LIMIT_PER_IP_PER_MINUTE', 0, 1_000_000, (c: ReturnType<typeof loadConfig>) => c.rateLimits.perIpPerMinute],
      ['RATE_LIMIT_PER_USER_PER_MINUTE', 0, 1_000_000, (c: ReturnType<typeof loadConfig>) => c.rateLimits.perUserPerMinute],
      ['RATE_LIMIT_USER_BY_EMAIL_PER_MINUTE', 0, 1_000_000, (c: ReturnType<typeof loadConfig>) => c.rateLimits.userByEmailPerMinute],
      ['SHUTDOWN_GRACE_MS', 0, 600_000, (c: ReturnType<typeof loadConfig>) => c.shutdown.graceMs],
      ['SHUTDOWN_TIMEOUT_MS', 1_000, 3_600_000, (c: ReturnType<typeof loadConfig>) => c.shutdown.timeoutMs],
    ])('%s takes %p to %p and refuses what lies outside', (name, min, max, read) => {
      expect(read(loadConfig({ [name]: String(min) }))).toBe(min);
      expect(read(loadConfig({ [name]: String(max) }))).toBe(max);
      for (const raw of [String(min - 1), String(max + 1)]) {
        expect(problemsOf({ [name]: raw })).toEqual([`${name} must be an integer between ${min} and ${max} (got "${raw}")`]);
      }
    });

    it.each(['abc', '80.5', '80px', 'NaN', 'Infinity'])('refuses PORT=%p as not an integer', (raw) => {
      expect(problemsOf({ PORT: raw })).toEqual([`PORT must be an integer between 0 and 65535 (got "${raw}")`]);
    });

    it('quotes the trimmed value in the problem', () => {
      expect(problemsOf({ DB_POOL_MAX: '  0  ' })).toEqual(['DB_POOL_MAX must be an integer between 1 and 500 (got "0")']);
    });
  });

  describe('enumerations', () => {
    it.each(['development', 'production', 'test'] as const)('takes NODE_ENV=%s', (nodeEnv) => {
      const env: Env = { NODE_ENV: nodeEnv, DATABASE_URL, JWT_SECRET: SECRET };
      expect(loadConfig(env).nodeEnv).toBe(nodeEnv);
    });

    it('refuses any other NODE_ENV, case included', () => {
      expect(problemsOf({ NODE_ENV: 'staging' })).toEqual(['NODE_ENV must be one of development, production, test (got "staging")']);
      expect(problemsOf({ NODE_ENV: 'Production' })).toEqual(['NODE_ENV must be one of development, production, test (got "Production")']);
    });

    it.each(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])('takes LOG_LEVEL=%s', (level) => {
      expect(loadConfig({ LOG_LEVEL: level }).logLevel).toBe(level);
    });

    it('takes DATABASE_POOLER=pgbouncer with DATABASE_URL, and refuses other poolers', () => {
      expect(loadConfig({ DATABASE_URL, DATABASE_POOLER: 'pgbouncer' }).db.pooler).toBe('pgbouncer');
      expect(problemsOf({ DATABASE_URL, DATABASE_POOLER: 'pgpool' })).toEqual([
        'DATABASE_POOLER must be one of none, pgbouncer (got "pgpool")',
      ]);
    });

    it('counts rate limits in PostgreSQL by default, in each process with RATE_LIMIT_STORE=memory, and refuses other stores', () => {
      expect(loadConfig({}).rateLimits.store).toBe('postgres');
      expect(loadConfig({ RATE_LIMIT_STORE: 'memory' }).rateLimits.store).toBe('memory');
      expect(problemsOf({ RATE_LIMIT_STORE: 'redis' })).toEqual(['RATE_LIMIT_STORE must be one of postgres, memory (got "redis")']);
    });

    it('trusts addresses a token does not say are verified unless REQUIRE_EMAIL_VERIFIED=true, and refuses other values', () => {
      expect(loadConfig({}).auth.requireEmailVerified).toBe(false);
      expect(loadConfig({ REQUIRE_EMAIL_VERIFIED: 'false' }).auth.requireEmailVerified).toBe(false);
      expect(loadConfig({ REQUIRE_EMAIL_VERIFIED: 'true' }).auth.requireEmailVerified).toBe(true);
      expect(problemsOf({ REQUIRE_EMAIL_VERIFIED: 'yes' })).toEqual(['REQUIRE_EMAIL_VERIFIED must be true or false (got "yes")']);
    });

    it('refuses any other LOG_LEVEL', () => {
      expect(problemsOf({ LOG_LEVEL: 'verbose' })).toEqual([
        'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "verbose")',
      ]);
    });
  });

  describe('URLs', () => {
    it.each(['postgres://u:p@h:5432/d', 'postgresql://h/d'])('takes DATABASE_URL=%s as given', (url) => {
      expect(loadConfig({ DATABASE_URL: url }).databaseUrl).toBe(url);
    });

    it('refuses a DATABASE_URL of another protocol, or not a URL at all', () => {
      expect(problemsOf({ DATABASE_URL: 'mysql://h/d' })).toEqual(['DATABASE_URL must use postgres: or postgresql: (got "mysql:")']);
      expect(problemsOf({ DATABASE_URL: 'db.internal:5432' })).toEqual([
        'DATABASE_URL must use postgres: or postgresql: (got "db.internal:")',
      ]);
      expect(problemsOf({ DATABASE_URL: 'not a url' })).toEqual(['DATABASE_URL is not a valid URL']);
    });

    it('takes DATABASE_MIGRATION_URL beside DATABASE_URL, and refuses one of another protocol', () => {
      expect(loadConfig({ DATABASE_URL, DATABASE_MIGRATION_URL }).databaseMigrationUrl).toBe(DATABASE_MIGRATION_URL);
      expect(problemsOf({ DATABASE_URL, DATABASE_MIGRATION_URL: 'mysql://h/d' })).toEqual([
        'DATABASE_MIGRATION_URL must use postgres: or postgresql: (got "mysql:")',
      ]);
    });

    it('refuses a pooler, a migration URL or replicas without DATABASE_URL: the embedded database is reached directly', () => {
      expect(problemsOf({ DATABASE_POOLER: 'pgbouncer', DATABASE_MIGRATION_URL, DATABASE_REPLICA_URLS: REPLICA_1 })).toEqual([
        'DATABASE_POOLER needs DATABASE_URL (the embedded database is reached directly)',
        'DATABASE_REPLICA_URLS needs DATABASE_URL (replicas stream from a primary the server reaches by URL)',
        'DATABASE_MIGRATION_URL needs DATABASE_URL (the embedded database migrates itself)',
      ]);
    });

    it('reads DATABASE_REPLICA_URLS as a comma-separated list, names a bad entry by position and never echoes it', () => {
      expect(loadConfig({ DATABASE_URL, DATABASE_REPLICA_URLS: `${REPLICA_1},,` }).databaseReplicaUrls).toEqual([REPLICA_1]);
      expect(problemsOf({ DATABASE_URL, DATABASE_REPLICA_URLS: `${REPLICA_1},mysql://u:secret@h/d,u:secret@` })).toEqual([
        'DATABASE_REPLICA_URLS (URL 2) must use postgres: or postgresql: (got "mysql:")',
        'DATABASE_REPLICA_URLS (URL 3) must use postgres: or postgresql: (got "u:")',
      ]);
      expect(problemsOf({ DATABASE_URL, DATABASE_REPLICA_URLS: 'not a url' })).toEqual([
        'DATABASE_REPLICA_URLS (URL 1) is not a valid URL',
      ]);
    });

    it.each(['https://issuer.example/.well-known/jwks.json', 'http://localhost:8080/jwks'])('takes JWT_JWKS_URL=%s', (url) => {
      expect(loadConfig({ JWT_JWKS_URL: url }).auth.jwksUrl).toBe(url);
    });

    it('refuses a JWT_JWKS_URL of another protocol, or not a URL at all', () => {
      expect(problemsOf({ JWT_JWKS_URL: 'ftp://issuer.example/jwks' })).toEqual(['JWT_JWKS_URL must use https: or http: (got "ftp:")']);
      expect(problemsOf({ JWT_JWKS_URL: '/jwks.json' })).toEqual(['JWT_JWKS_URL is not a valid URL']);
    });
  });

  describe('JWT settings', () => {
    it('takes a JWT_SECRET of 32 characters and refuses one of 31', () => {
      expect(loadConfig({ JWT_SECRET: SECRET }).auth.jwtSecret).toBe(SECRET);
      expect(problemsOf({ JWT_SECRET: 's'.repeat(31) })).toEqual(['JWT_SECRET must be at least 32 characters']);
    });

    it('refuses JWT_SECRET together with JWT_JWKS_URL', () => {
      expect(problemsOf({ JWT_SECRET: SECRET, JWT_JWKS_URL: 'https://issuer.example/jwks' })).toEqual([
        'set JWT_SECRET or JWT_JWKS_URL, not both',
      ]);
    });

    it('reports a short JWT_SECRET and its JWT_JWKS_URL companion together', () => {
      expect(problemsOf({ JWT_SECRET: 'short', JWT_JWKS_URL: 'https://issuer.example/jwks' })).toEqual([
        'JWT_SECRET must be at least 32 characters',
        'set JWT_SECRET or JWT_JWKS_URL, not both',
      ]);
    });
  });

  describe('roles', () => {
    it('refuses a ROLES_CLAIM that names a claim with a meaning of its own', () => {
      expect(problemsOf({ ROLES_CLAIM: 'sub' })).toEqual([
        'ROLES_CLAIM must not name a claim the token already uses for something else (got "sub")',
      ]);
      expect(problemsOf({ ROLES_CLAIM: 'email' })).toHaveLength(1);
    });

    it("refuses a STAFF_ROLE equal to the service tokens' role", () => {
      expect(problemsOf({ STAFF_ROLE: 'service' })).toEqual(['STAFF_ROLE must differ from "service", the service tokens\' role']);
    });
  });

  describe('production', () => {
    it('requires DATABASE_URL and a way to verify tokens', () => {
      expect(problemsOf({ NODE_ENV: 'production' })).toEqual([
        'DATABASE_URL is required in production',
        'JWT_SECRET or JWT_JWKS_URL is required in production',
      ]);
      expect(problemsOf({ NODE_ENV: 'production', JWT_SECRET: SECRET })).toEqual(['DATABASE_URL is required in production']);
      expect(problemsOf({ NODE_ENV: 'production', DATABASE_URL })).toEqual(['JWT_SECRET or JWT_JWKS_URL is required in production']);
    });

    it('takes either JWT_SECRET or JWT_JWKS_URL', () => {
      expect(loadConfig({ NODE_ENV: 'production', DATABASE_URL, JWT_SECRET: SECRET }).auth).toStrictEqual({
        jwtSecret: SECRET,
        jwksUrl: undefined,
        issuer: undefined,
        audience: undefined,
        requireEmailVerified: false,
        rolesClaim: 'roles',
        staffRole: 'admin',
        teamsClaim: undefined,
      });
      expect(loadConfig({ NODE_ENV: 'production', DATABASE_URL, JWT_JWKS_URL: 'https://issuer.example/jwks' }).auth).toStrictEqual({
        jwtSecret: undefined,
        jwksUrl: 'https://issuer.example/jwks',
        issuer: undefined,
        audience: undefined,
        requireEmailVerified: false,
        rolesClaim: 'roles',
        staffRole: 'admin',
        teamsClaim: undefined,
      });
    });

    it('requires nothing of the sort outside production', () => {
      expect(loadConfig({ NODE_ENV: 'development' }).databaseUrl).toBeUndefined();
      expect(loadConfig({ NODE_ENV: 'test' }).auth.jwtSecret).toBeUndefined();
    });

    it('does not apply when NODE_ENV is misspelt: that alone is reported', () => {
      expect(problemsOf({ NODE_ENV: 'prod' })).toEqual(['NODE_ENV must be one of development, production, test (got "prod")']);
    });
  });

  describe('ConfigError', () => {
    it('reports every problem at once, in the order the variables are read', () => {
      expect(problemsOf({ PORT: 'abc', DB_POOL_MAX: '0' })).toEqual([
        'PORT must be an integer between 0 and 65535 (got "abc")',
        'DB_POOL_MAX must be an integer between 1 and 500 (got "0")',
      ]);
    });

    it('lists all problems of a thoroughly broken production environment', () => {
      expect(
        problemsOf({
          NODE_ENV: 'production',
          PORT: '-1',
          DB_LOCK_TIMEOUT_MS: '9',
          JWT_SECRET: 'too short',
          JWT_JWKS_URL: 'file:///etc/jwks.json',
          LOG_LEVEL: 'loud',
        }),
      ).toEqual([
        'PORT must be an integer between 0 and 65535 (got "-1")',
        'DB_LOCK_TIMEOUT_MS must be an integer between 10 and 600000 (got "9")',
        'JWT_JWKS_URL must use https: or http: (got "file:")',
        'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "loud")',
        'JWT_SECRET must be at least 32 characters',
        'set JWT_SECRET or JWT_JWKS_URL, not both',
        'DATABASE_URL is required in production',
      ]);
    });

    it('is an Error named ConfigError whose message lists the problems', () => {
      expect(() => loadConfig({ PORT: 'abc', DB_POOL_MAX: '0' })).toThrow(
        expect.objectContaining({
          name: 'ConfigError',
          message:
            'Invalid configuration:\n' +
            '- PORT must be an integer between 0 and 65535 (got "abc")\n' +
            '- DB_POOL_MAX must be an integer between 1 and 500 (got "0")',
        }),
      );
      expect(() => loadConfig({ PORT: 'abc' })).toThrow(ConfigError);
      expect(() => loadConfig({ PORT: 'abc' })).toThrow(Error);
    });
  });
});
