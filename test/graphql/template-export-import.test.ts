import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { dataOf, errorOf, useApi } from '../support/api';
import { createTemplateViaApi, validConfiguration, type TestUser } from '../support/factories';

const EXPORT = 'query Export($id: ID!, $withHistory: Boolean) { exportTemplate(id: $id, withHistory: $withHistory) }';
const IMPORT = `mutation Import($document: JSONObject!, $isPublic: Boolean, $changeNote: String) {
  importTemplate(document: $document, isPublic: $isPublic, changeNote: $changeNote) {
    id name description category tags version isPublic configuration owner { id }
    versions { version changeNote }
  }
}`;
const UPDATE = `mutation($id: ID!, $input: UpdateTemplateInput!) { updateTemplate(id: $id, input: $input) { version } }`;

describe('exporting and importing templates', () => {
  const api = useApi();
  let owner: TestUser;
  let other: TestUser;
  let templateId: string;

  beforeAll(async () => {
    owner = await api.user('owner');
    other = await api.user('other');
    ({ id: templateId } = await createTemplateViaApi(api, owner, { name: 'Churn v1', tags: ['churn'], description: 'first' }));
    dataOf(
      await api.graphql(UPDATE, {
        as: owner,
        variables: { id: templateId, input: { name: 'Churn v2', configuration: validConfiguration({ model: { type: 'xgboost' } }) } },
      }),
    );
  });

  it('exports the content as a portable document, and every version oldest first when asked', async () => {
    const { exportTemplate: document } = dataOf(await api.graphql(EXPORT, { as: owner, variables: { id: templateId, withHistory: true } }));
    expect(document).toEqual({
      format: 'tessera.template',
      formatVersion: 1,
      configurationSchemaVersion: 2,
      source: { templateId, version: 2, exportedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
      name: 'Churn v2',
      description: 'first',
      category: 'CLASSIFICATION',
      tags: ['churn'],
      configuration: validConfiguration({ model: { type: 'xgboost' } }),
      history: [
        expect.objectContaining({
          version: 1,
          name: 'Churn v1',
          configuration: validConfiguration(),
          configurationSchemaVersion: 2,
          changeNote: 'Created',
        }),
        expect.objectContaining({
          version: 2,
          name: 'Churn v2',
          configuration: validConfiguration({ model: { type: 'xgboost' } }),
          configurationSchemaVersion: 2,
        }),
      ],
    });
    const { exportTemplate: latestOnly } = dataOf(await api.graphql(EXPORT, { as: owner, variables: { id: templateId } }));
    expect(latestOnly).not.toHaveProperty('history');
  });

  it('exports nothing the caller may not see: a private template answers like an unknown id', async () => {
    for (const as of [null, other]) {
      expect(dataOf(await api.graphql(EXPORT, { as, variables: { id: templateId } }))).toEqual({ exportTemplate: null });
    }
    expect(dataOf(await api.graphql(EXPORT, { as: other, variables: { id: '00000000-0000-4000-8000-000000000000' } }))).toEqual({
      exportTemplate: null,
    });
  });

  it('imports a document as a new private template of the caller, at version 1, noting where it came from', async () => {
    const { id: publicId } = await createTemplateViaApi(api, owner, { name: 'Shared recipe', isPublic: true, tags: ['a', 'b'] });
    const { exportTemplate: document } = dataOf(await api.graphql(EXPORT, { as: other, variables: { id: publicId, withHistory: true } }));
    const { importTemplate: imported } = dataOf(await api.graphql(IMPORT, { as: other, variables: { document } }));
    expect(imported).toEqual({
      id: expect.any(String),
      name: 'Shared recipe',
      description: document.description,
      category: 'CLASSIFICATION',
      tags: ['a', 'b'],
      version: 1,
      isPublic: false,
      configuration: document.configuration,
      owner: { id: other.id },
      versions: [{ version: 1, changeNote: `Imported from template ${publicId} version 1` }],
    });
    expect(imported.id).not.toBe(publicId);
  });

  it('refuses a document with every problem at once, each at its path inside the document', async () => {
    const response = await api.graphql(IMPORT, {
      as: owner,
      variables: {
        document: {
          format: 'other.format',
          formatVersion: 2,
          name: '',
          category: 'ASTROLOGY',
          colour: 'blue',
          configuration: { ...validConfiguration(), model: { framework: 'sklearn' } },
        },
      },
    });
    const error = errorOf(response);
    expect(error.code).toBe('BAD_USER_INPUT');
    expect(error.extensions.validationErrors.map((problem: { path: string }) => problem.path)).toEqual([
      '/document/format',
      '/document/formatVersion',
      '/document/colour',
      '/document/name',
      '/document/category',
      '/document/configuration/model/type',
    ]);
    const [{ count }] = await api.db.query(`select count(*)::int as count from experiment_templates where created_by = $1 and name = ''`, [
      owner.id,
    ]);
    expect(count).toBe(0);
  });

  it('imports for authenticated callers only', async () => {
    const { exportTemplate: document } = dataOf(await api.graphql(EXPORT, { as: owner, variables: { id: templateId } }));
    expect(errorOf(await api.graphql(IMPORT, { variables: { document } })).code).toBe('UNAUTHENTICATED');
  });

  describe('npm run templates', () => {
    const run = (args: string[], token?: string) =>
      promisify(execFile)(process.execPath, [path.resolve(__dirname, '../../dist/scripts/templates.js'), ...args], {
        env: { ...process.env, TESSERA_URL: api.url, ...(token ? { TESSERA_TOKEN: token } : {}) },
      });
    let dir: string;

    beforeAll(async () => {
      dir = await mkdtemp(path.join(os.tmpdir(), 'tessera-templates-'));
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('exports to standard output and imports from a file, as the token in TESSERA_TOKEN', async () => {
      const exported = await run(['export', templateId, '--history'], owner.token);
      const document = JSON.parse(exported.stdout);
      expect(document).toMatchObject({ format: 'tessera.template', name: 'Churn v2', history: [{ version: 1 }, { version: 2 }] });

      const file = path.join(dir, 'churn.json');
      await writeFile(file, exported.stdout);
      const imported = await run(['import', file], other.token);
      const newId = imported.stdout.trim();
      const { template } = dataOf(
        await api.graphql('query($id: ID!) { template(id: $id) { name owner { id } } }', { as: other, variables: { id: newId } }),
      );
      expect(template).toEqual({ name: 'Churn v2', owner: { id: other.id } });
    });

    it('says what is wrong with a document, field by field, and exits 1', async () => {
      const file = path.join(dir, 'broken.json');
      await writeFile(
        file,
        JSON.stringify({ format: 'tessera.template', formatVersion: 1, name: 'x', category: 'CLASSIFICATION', configuration: {} }),
      );
      const failure = await run(['import', file], owner.token).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failure?.code).toBe(1);
      expect(failure?.stderr).toContain('BAD_USER_INPUT');
      expect(failure?.stderr).toContain('/document/configuration/dataset');
    });

    it('refuses to import without a token, with the usage exit code', async () => {
      const failure = await run(['import', path.join(dir, 'churn.json')]).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failure).toMatchObject({ code: 2, stderr: expect.stringContaining('TESSERA_TOKEN') });
    });
  });
});
