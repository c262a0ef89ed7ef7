import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FieldError } from '../../src/errors/domain-error';
import { printAppSchema } from '../../src/graphql/schema';
import { parseConfiguration } from '../../src/template/configuration-validator';
import { CONFIGURATION_SCHEMA_VERSION } from '../../src/template/template-document';
import { validConfiguration } from '../support/factories';

describe('schema.graphql', () => {
  it('is the schema the code builds (regenerate with `npm run schema:print`)', async () => {
    const committed = await readFile(path.resolve(__dirname, '../../schema.graphql'), 'utf8');
    expect(committed).toBe(await printAppSchema());
  });
});

// The generator itself is not imported: json-schema-to-typescript loads prettier with a native import(), which Jest's
// sandbox refuses. It runs as its own process, built by the setup.
const CONFIGURATION_TYPES_FILE = `configuration.v${CONFIGURATION_SCHEMA_VERSION}.d.ts`;

describe(`${CONFIGURATION_TYPES_FILE}`, () => {
  const root = path.resolve(__dirname, '../..');
  const run = promisify(execFile);

  it('holds the types of the configuration schema the server validates with (regenerate with `npm run schema:print`)', async () => {
    const { stdout } = await run(process.execPath, [path.join(root, 'dist/scripts/print-configuration-types.js')], { cwd: root });
    expect(await readFile(path.join(root, CONFIGURATION_TYPES_FILE), 'utf8')).toBe(stdout);
  });

  it('types what the server accepts: a valid configuration compiles, a framework the schema lacks does not', async () => {
    const valid = validConfiguration({ model: { type: 'xgboost', framework: 'xgboost', hyperparameters: { maxDepth: 6 } } });
    const errors: FieldError[] = [];
    parseConfiguration(valid, '', errors);
    expect(errors).toEqual([]);

    const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-types-'));
    try {
      const types = path.join(root, CONFIGURATION_TYPES_FILE.replace(/\.d\.ts$/, ''));
      await writeFile(
        path.join(dir, 'client.ts'),
        [
          `import type { ExperimentConfiguration } from ${JSON.stringify(types)};`,
          `export const valid: ExperimentConfiguration = ${JSON.stringify(valid)};`,
          `// @ts-expect-error: not a framework of the schema`,
          `export const wrong: ExperimentConfiguration = { ...valid, model: { type: 'x', framework: 'scikit' } };`,
          `// @ts-expect-error: dataset is required`,
          `export const partial: ExperimentConfiguration = { features: [], model: { type: 'x' } };`,
        ].join('\n'),
      );
      const tsc = path.join(root, 'node_modules/typescript/bin/tsc');
      const result = await run(process.execPath, [tsc, '--noEmit', '--strict', '--skipLibCheck', path.join(dir, 'client.ts')]).then(
        () => ({ code: 0, stdout: '' }),
        (error: { code: number; stdout: string }) => error,
      );
      expect(result).toEqual({ code: 0, stdout: '' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
