import type { AppConfig } from '../../src/config';

export const TEMPLATE_DATABASE = 'tessera_test_template';

export const TEST_DB_CONFIG: AppConfig['db'] = {
  pooler: 'none',
  poolMax: 20,
  statementTimeoutMs: 30_000,
  lockTimeoutMs: 10_000,
  acquireTimeoutMs: 20_000,
  connectTimeoutMs: 10_000,
  replicaMaxLagMs: 2_000,
};
