import { randomUUID } from 'node:crypto';
import { errorOf, useApi } from '../support/api';
import { insertTemplates, listIds, uniqueTag, type TemplateRow, type TestUser } from '../support/factories';

type Field = 'UPDATED_AT' | 'CREATED_AT' | 'NAME' | 'USAGE_COUNT' | 'LAST_USED';
type Direction = 'ASC' | 'DESC';

const DEFAULT_DIRECTION: Record<Field, Direction> = {
  UPDATED_AT: 'DESC',
  CREATED_AT: 'DESC',
  NAME: 'ASC',
  USAGE_COUNT: 'DESC',
  LAST_USED: 'DESC',
};

const ORDERINGS: Array<{ field: Field; direction?: Direction }> = [
  { field: 'UPDATED_AT' },
  { field: 'UPDATED_AT', direction: 'ASC' },
  { field: 'CREATED_AT' },
  { field: 'NAME' },
  { field: 'NAME', direction: 'DESC' },
  { field: 'USAGE_COUNT' },
  { field: 'USAGE_COUNT', direction: 'ASC' },
  { field: 'LAST_USED' },
  { field: 'LAST_USED', direction: 'ASC' },
];

const NAMES = ['alpha', 'bravo', 'charlie', 'delta'];
const micros = (n: number) => String(n).padStart(6, '0');

describe('templates pagination over HTTP', () => {
  const api = useApi();

  interface World {
    viewer: TestUser;
    tag: string;
    /** What the viewer may list, in no particular order. */
    visibleIds: string[];
    filter: { tags: { allOf: string[] } };
  }

  /**
   * 45 templates the viewer may list (own, shared, public) with many ties in every sort key, some differing only in
   * microseconds, and 6 the viewer may not list (hidden, or deactivated by someone else or by the viewer).
   */
  async function world(): Promise<World> {
    const [viewer, other] = await Promise.all([api.user('viewer'), api.user('other')]);
    const tag = uniqueTag();
    const visible: TemplateRow[] = Array.from({ length: 45 }, (_, i) => ({
      ownerId: i % 3 === 0 ? viewer.id : other.id,
      sharedWith: i % 3 === 1 ? [viewer.id] : [],
      isPublic: i % 3 === 2,
      tags: [tag],
      name: NAMES[i % NAMES.length],
      usageCount: i % 5,
      lastUsed: i % 4 === 0 ? null : `2025-01-01 00:00:00.${micros(i % 6)}+00`,
      updatedAt: `2025-02-01 00:00:00.${micros(i % 7)}+00`,
      createdAt: `2025-03-01 00:00:${String(i % 9).padStart(2, '0')}+00`,
    }));
    const hidden: TemplateRow[] = [
      { ownerId: other.id, tags: [tag] },
      { ownerId: other.id, tags: [tag], sharedWith: [viewer.id], isActive: false },
      { ownerId: other.id, tags: [tag], isPublic: true, isActive: false },
      { ownerId: viewer.id, tags: [tag], isActive: false },
      { ownerId: other.id, tags: [tag], name: 'alpha' },
      { ownerId: other.id, tags: [tag], sharedWith: [], usageCount: 3 },
    ];
    const ids = await insertTemplates(api, [...visible, ...hidden]);
    return { viewer, tag, visibleIds: ids.slice(0, visible.length), filter: { tags: { allOf: [tag] } } };
  }

  /** The order the API must produce, worked out here from the stored values: the sort key, then the id. */
  async function expectedOrder(ids: string[], field: Field, direction: Direction): Promise<string[]> {
    const text = (column: string) => `coalesce(to_char(${column} at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.US'), '')`;
    const rows = await api.db.query(
      `select id, name, usage_count, ${text('updated_at')} as updated_at, ${text('created_at')} as created_at,
              ${text('last_used')} as last_used
       from experiment_templates where id = any($1::uuid[])`,
      [ids],
    );
    const keyOf: Record<Field, (row: Record<string, any>) => string | number> = {
      UPDATED_AT: (row) => row.updated_at,
      CREATED_AT: (row) => row.created_at,
      NAME: (row) => row.name,
      USAGE_COUNT: (row) => row.usage_count,
      // Never used ('' here) sorts as the oldest.
      LAST_USED: (row) => row.last_used,
    };
    const sign = direction === 'ASC' ? 1 : -1;
    const compare = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
    return rows.sort((a, b) => sign * (compare(keyOf[field](a), keyOf[field](b)) || compare(a.id, b.id))).map((row) => row.id);
  }

  /** Every page, in order, checking each page's size, next-page flag and total. */
  async function walk(
    viewer: TestUser,
    args: { filter: unknown; orderBy: unknown; first: number },
    between?: (pagesSoFar: string[][]) => Promise<void>,
  ) {
    const pages: string[][] = [];
    let after: string | null = null;
    for (;;) {
      const page = await listIds(api, viewer, { ...args, after }, { withTotal: false });
      pages.push(page.ids);
      expect(page.ids.length).toBeLessThanOrEqual(args.first);
      if (!page.hasNextPage) break;
      expect(page.ids).toHaveLength(args.first);
      after = page.endCursor;
      await between?.(pages);
      if (pages.length > 200) throw new Error('pagination does not end');
    }
    return pages;
  }

  it.each(ORDERINGS.map((orderBy) => [`${orderBy.field} ${orderBy.direction ?? '(default direction)'}`, orderBy] as const))(
    'walks every visible template exactly once, in order: %s',
    async (_label, orderBy) => {
      const { viewer, visibleIds, filter } = await world();
      const expected = await expectedOrder(visibleIds, orderBy.field, orderBy.direction ?? DEFAULT_DIRECTION[orderBy.field]);

      // Page size 1 puts a page boundary between every two tied rows; the reversed directions, which share all their
      // code with the default ones but the comparison, get the two bigger sizes only, to keep the file fast.
      const sizes = orderBy.direction ? [7, 20] : [1, 7, 20];
      // The walks only read, so they may run side by side.
      await Promise.all(
        sizes.map(async (first) => {
          const pages = await walk(viewer, { filter, orderBy, first });
          expect(pages.flat()).toEqual(expected);
          expect(pages).toHaveLength(Math.ceil(expected.length / first));
        }),
      );
      expect((await listIds(api, viewer, { filter, orderBy, first: 5 })).totalCount).toBe(45);
    },
  );

  // Rows added at step n sort before everything (`before`) or after everything, rows added earlier included (`after`).
  it.each<{ field: Field; before: (n: number) => string; after: (n: number) => string }>([
    {
      field: 'UPDATED_AT',
      before: (n: number) => `2030-01-01 00:00:${String(n).padStart(2, '0')}+00`,
      after: (n: number) => `2000-01-01 00:00:${String(60 - n).padStart(2, '0')}+00`,
    },
    { field: 'NAME', before: (n: number) => `aaa ${String(99 - n)}`, after: (n: number) => `zzz ${String(n).padStart(2, '0')}` },
  ])('neither repeats nor skips rows when templates are added and removed between pages: $field', async ({ field, before, after }) => {
    const { viewer, visibleIds, filter, tag } = await world();
    const expected = await expectedOrder(visibleIds, field, DEFAULT_DIRECTION[field]);
    const early: string[] = [];
    const late: string[] = [];
    const sortsAs = (value: string): Partial<TemplateRow> => (field === 'NAME' ? { name: value } : { updatedAt: value });

    const pages = await walk(viewer, { filter, orderBy: { field }, first: 7 }, async (pagesSoFar) => {
      // One new row sorting before the cursor (must not show up), one after it (must show up, once).
      const [first, last] = await insertTemplates(api, [
        { ownerId: viewer.id, tags: [tag], ...sortsAs(before(pagesSoFar.length)) },
        { ownerId: viewer.id, tags: [tag], ...sortsAs(after(pagesSoFar.length)) },
      ]);
      early.push(first);
      late.push(last);
      // And the row the cursor points at goes away: the cursor carries its values, so the walk goes on regardless.
      await api.db.query('delete from experiment_templates where id = $1', [pagesSoFar.at(-1)!.at(-1)]);
    });

    const seen = pages.flat();
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => expected.includes(id))).toEqual(expected);
    expect(seen.filter((id) => early.includes(id))).toEqual([]);
    expect(new Set(seen.filter((id) => late.includes(id)))).toEqual(new Set(late));
    expect(late.length).toBeGreaterThan(3);
  });

  describe('bad paging arguments', () => {
    const cursor = (values: unknown[]) => Buffer.from(JSON.stringify(values)).toString('base64url');
    const LIST =
      'query($first: Int, $after: String, $orderBy: TemplateOrder) { templates(first: $first, after: $after, orderBy: $orderBy) { totalCount edges { node { id } } } }';

    it('refuses page sizes outside 1..100 at /first', async () => {
      const viewer = await api.user('viewer');
      for (const first of [0, -1, 101]) {
        const error = errorOf(await api.graphql(LIST, { as: viewer, variables: { first } }));
        expect(error.code).toBe('BAD_USER_INPUT');
        expect(error.extensions.validationErrors).toEqual([{ path: '/first', message: expect.any(String) }]);
      }
    });

    it('refuses malformed, tampered and foreign cursors at /after, without reaching the database', async () => {
      const { viewer, filter } = await world();
      const byName = await listIds(api, viewer, { filter, orderBy: { field: 'NAME' }, first: 2 });
      const id = randomUUID();
      const bad: Array<[string, string, unknown?]> = [
        ['garbage', 'not a cursor at all'],
        ['short', cursor(['UPDATED_AT:DESC', id])],
        ['other ordering', byName.endCursor!],
        ['other direction', byName.endCursor!, { field: 'NAME', direction: 'DESC' }],
        ['bad timestamp', cursor(['UPDATED_AT:DESC', '2025-13-45T00:00:00.000000Z', id])],
        ['SQL in a timestamp', cursor(['UPDATED_AT:DESC', "2025-01-01'; drop table users; --", id])],
        ['bad id', cursor(['UPDATED_AT:DESC', '2025-01-01T00:00:00.000000Z', 'x'])],
        ['bad count', cursor(['USAGE_COUNT:DESC', 1e12, id]), { field: 'USAGE_COUNT' }],
        ['count as text', cursor(['USAGE_COUNT:DESC', '1', id]), { field: 'USAGE_COUNT' }],
      ];
      const statementsBefore = api.logs.length;
      for (const [label, after, orderBy] of bad) {
        const response = await api.graphql(LIST, { as: viewer, variables: { after, orderBy: orderBy ?? null } });
        const error = errorOf(response);
        expect({ label, code: error.code, validationErrors: error.extensions.validationErrors }).toEqual({
          label,
          code: 'BAD_USER_INPUT',
          validationErrors: [{ path: '/after', message: expect.any(String) }],
        });
      }
      expect(api.logs.slice(statementsBefore).join('\n')).not.toMatch(/"level":50/);
    });
  });
});
