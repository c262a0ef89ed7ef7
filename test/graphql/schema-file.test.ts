import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { FieldError } from '../../src/errors/domain-error';
import { printAppSchema } from '../../src/graphql/schema';
import { parseConfiguration } from '../../src/template/configuration-validator';
import { CONFIGURATION_SCHEMA_VERSIONS, LATEST_CONFIGURATION_SCHEMA_VERSION } from '../../src/template/configuration-schema';
import { validConfiguration } from '../support/factories';

describe('schema.graphql', () => {
  it('is the schema the code builds (regenerate with `npm run schema:print`)', async () => {
    const committed = await readFile(path.resolve(__dirname, '../../schema.graphql'), 'utf8');
    expect(committed).toBe(await printAppSchema());
  });
});

// The generator itself is not imported: json-schema-to-typescript loads prettier with a native import(), which Jest's
// sandbox refuses. It runs as its own process, built by the setup.
describe.each(CONFIGURATION_SCHEMA_VERSIONS)('configuration.v%i.d.ts', (version) => {
  const root = path.resolve(__dirname, '../..');
  const run = promisify(execFile);
  const typesFile = `configuration.v${version}.d.ts`;

  it('holds the types of that configuration schema version (regenerate with `npm run schema:print`)', async () => {
    const { stdout } = await run(process.execPath, [path.join(root, 'dist/scripts/print-configuration-types.js'), String(version)], {
      cwd: root,
    });
    expect(await readFile(path.join(root, typesFile), 'utf8')).toBe(stdout);
  });

  it('types what the server accepts at that version: a valid configuration compiles, a framework the schema lacks does not', async () => {
    const valid = validConfiguration({ model: { type: 'xgboost', framework: 'xgboost', hyperparameters: { maxDepth: 6 } } });
    const errors: FieldError[] = [];
    parseConfiguration(valid, '', errors, version);
    expect(errors).toEqual([]);

    const dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-types-'));
    try {
      const types = path.join(root, typesFile.replace(/\.d\.ts$/, ''));
      // Resources are a section of version 2 only: the types of version 1 refuse them, those of version 2 refuse them
      // among the parameters.
      const resources = { gpus: 2, memoryGb: 32 };
      await writeFile(
        path.join(dir, 'client.ts'),
        [
          `import type { ExperimentConfiguration } from ${JSON.stringify(types)};`,
          `export const valid: ExperimentConfiguration = ${JSON.stringify(valid)};`,
          `// @ts-expect-error: not a framework of the schema`,
          `export const wrong: ExperimentConfiguration = { ...valid, model: { type: 'x', framework: 'scikit' } };`,
          `// @ts-expect-error: dataset is required`,
          `export const partial: ExperimentConfiguration = { features: [], model: { type: 'x' } };`,
          ...(version === LATEST_CONFIGURATION_SCHEMA_VERSION
            ? [
                `export const withResources: ExperimentConfiguration = { ...valid, resources: ${JSON.stringify(resources)} };`,
                `// @ts-expect-error: resources are not parameters since version 2`,
                `export const inParameters: ExperimentConfiguration = { ...valid, parameters: ${JSON.stringify(resources)} };`,
              ]
            : [
                `// @ts-expect-error: no resources section before version 2`,
                `export const withResources: ExperimentConfiguration = { ...valid, resources: ${JSON.stringify(resources)} };`,
                `export const inParameters: ExperimentConfiguration = { ...valid, parameters: ${JSON.stringify(resources)} };`,
              ]),
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
