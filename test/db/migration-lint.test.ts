import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { writeMigrationSql } from '../../scripts/migration-sql';

const ROOT = path.resolve(__dirname, '../..');

describe('migration SQL', () => {
  it('passes squawk with the accepted findings listed in .squawk.toml', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-migration-sql-'));
    try {
      const files = await writeMigrationSql(dir);
      expect(files.length).toBeGreaterThanOrEqual(8);
      const squawk = path.join(ROOT, 'node_modules/.bin/squawk');
      const run = await promisify(execFile)(squawk, ['--config', path.join(ROOT, '.squawk.toml'), '--reporter', 'json', ...files], {
        cwd: ROOT,
      }).catch((error: { stdout: string; code: number }) => ({ stdout: error.stdout, code: error.code }));
      const violations = JSON.parse(run.stdout || '[]') as Array<{ file: string; rule_name: string; message: string }>;
      expect(violations.map((v) => `${path.basename(v.file)}: ${v.rule_name}: ${v.message}`)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
