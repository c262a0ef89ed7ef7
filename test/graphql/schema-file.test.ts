import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { printAppSchema } from '../../src/graphql/schema';

describe('schema.graphql', () => {
  it('is the schema the code builds (regenerate with `npm run schema:print`)', async () => {
    const committed = await readFile(path.resolve(__dirname, '../../schema.graphql'), 'utf8');
    expect(committed).toBe(await printAppSchema());
  });
});
