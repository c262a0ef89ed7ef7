import { rm } from 'node:fs/promises';

export default async function globalTeardown(): Promise<void> {
  await globalThis.__tesseraTestDatabase?.stop();
  if (globalThis.__tesseraTestDatabaseDir) await rm(globalThis.__tesseraTestDatabaseDir, { recursive: true, force: true });
}
