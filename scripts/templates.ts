import { readFile } from 'node:fs/promises';
import { loadConfig, loadDotEnv } from '../src/config';

const USAGE = `usage: npm run templates -- export <template id> [--history] > template.json
       npm run templates -- import <file.json> [--public] [--change-note "..."]

The server is TESSERA_URL (default http://127.0.0.1:$PORT/graphql); the caller is the bearer token in TESSERA_TOKEN
(needed to import; an export without one sees public templates only).`;

const EXPORT = 'query Export($id: ID!, $withHistory: Boolean!) { exportTemplate(id: $id, withHistory: $withHistory) }';
const IMPORT = `mutation Import($document: JSONObject!, $isPublic: Boolean!, $changeNote: String) {
  importTemplate(document: $document, isPublic: $isPublic, changeNote: $changeNote) { id name version }
}`;

class UsageError extends Error {}

interface GraphqlError {
  message: string;
  extensions?: { code?: string; validationErrors?: Array<{ path: string; message: string }> };
}

/** Templates to and from portable documents, through the running server's API, as any client would. */
async function main(): Promise<void> {
  const [command, subject, ...rest] = process.argv.slice(2);
  const flag = (name: string) => rest.includes(`--${name}`);
  const option = (name: string) => {
    const index = rest.indexOf(`--${name}`);
    return index >= 0 ? rest[index + 1] : undefined;
  };
  loadDotEnv();
  const url = process.env.TESSERA_URL ?? `http://127.0.0.1:${loadConfig().port}/graphql`;
  const token = process.env.TESSERA_TOKEN;

  if (command === 'export' && subject) {
    const { exportTemplate } = await graphql<{ exportTemplate: unknown }>(url, token, EXPORT, {
      id: subject,
      withHistory: flag('history'),
    });
    if (exportTemplate === null) throw new Error(`No template ${subject} that this caller may see`);
    process.stdout.write(`${JSON.stringify(exportTemplate, null, 2)}\n`);
    return;
  }
  if (command === 'import' && subject) {
    if (!token) throw new UsageError('TESSERA_TOKEN must hold a bearer token to import (npm run token -- you@example.com)');
    const document: unknown = JSON.parse(await readFile(subject, 'utf8'));
    const { importTemplate } = await graphql<{ importTemplate: { id: string; name: string; version: number } }>(url, token, IMPORT, {
      document,
      isPublic: flag('public'),
      changeNote: option('change-note') ?? null,
    });
    process.stdout.write(`${importTemplate.id}\n`);
    process.stderr.write(`imported "${importTemplate.name}" as template ${importTemplate.id}, version ${importTemplate.version}\n`);
    return;
  }
  throw new UsageError(USAGE);
}

async function graphql<T>(url: string, token: string | undefined, query: string, variables: Record<string, unknown>): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: GraphqlError[] };
  if (body.errors?.length) throw new Error(body.errors.map(describe).join('\n'));
  return body.data!;
}

function describe(error: GraphqlError): string {
  const fields = error.extensions?.validationErrors?.map(({ path, message }) => `\n  ${path}: ${message}`).join('') ?? '';
  return `${error.extensions?.code ?? 'ERROR'}: ${error.message}${fields}`;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(error instanceof UsageError ? 2 : 1);
});
