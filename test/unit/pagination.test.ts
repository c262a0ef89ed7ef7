import fc from 'fast-check';
import { ErrorCode, ValidationError } from '../../src/errors/domain-error';
import {
  checkPageSize,
  decodeCursor,
  encodeCursor,
  isTimestampText,
  keysetClauses,
  keysetPage,
  OrderDirection,
  type KeysetOrder,
} from '../../src/db/keyset';
import { SqlValues } from '../../src/db/sql';
import { connectionOf } from '../../src/graphql/connection';

const NEWEST_FIRST: KeysetOrder = {
  tag: 'CREATED_AT:DESC',
  key: 'x.created_at',
  cursorValue: 'x.created_text',
  fromCursor: (value) => `${value}::timestamptz`,
  isCursorValue: isTimestampText,
  direction: OrderDirection.DESC,
  id: 'x.id',
};

interface Row {
  id: string;
  createdAt: string;
}

/** A page of the domain as the GraphQL layer hands it to clients, from rows as a page query returns them. */
function connectionFrom(rows: Row[], first: number, totalCount: number) {
  const fetched = rows.map((row) => ({ ...row, cursor_value: row.createdAt, cursor_id: row.id }));
  return connectionOf(keysetPage(fetched, NEWEST_FIRST, first, totalCount, ({ id, createdAt }) => ({ id, createdAt })));
}

/** The error `fn` throws; fails the test when it returns. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw, but the call returned');
}

function expectValidationError(error: unknown, path: string, message: string): void {
  expect(error).toBeInstanceOf(ValidationError);
  expect(error).toMatchObject({ code: ErrorCode.BadUserInput, message, validationErrors: [{ path, message }] });
}

const NOT_A_CURSOR = 'is not a cursor of this list (it may belong to another ordering)';
const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

describe('encodeCursor / decodeCursor', () => {
  it.each([
    ['a timestamp and a uuid', ['2024-05-01T12:00:00.123456Z', '6f1c1a52-3b43-4c1e-9d7a-1f4a8c0e5b21']],
    ['unicode text', ['Ünïcødé ✓', '日本語', '👩‍🔬 emoji', 'quotes " and \\ backslashes']],
    ['numbers', [0, -1, 42, 3.14159, Number.MAX_SAFE_INTEGER, -1e-7]],
    ['null and booleans', [null, true, false]],
    ['an empty list', []],
  ])('round-trips %s', (_what, values) => {
    expect(decodeCursor(encodeCursor(values), values.length)).toEqual(values);
  });

  it('round-trips any list of JSON scalars', () => {
    const scalar = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 30 }),
      // Any code point but NUL, built directly: fast-check's own 'binary' unit takes over a second to set up.
      fc.string({ unit: fc.integer({ min: 1, max: 0x10ffff }).map((code) => String.fromCodePoint(code)), maxLength: 30 }),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }).map((n) => (Object.is(n, -0) ? 0 : n)),
      fc.boolean(),
      fc.constant(null),
    );
    fc.assert(
      fc.property(fc.array(scalar, { maxLength: 5 }), (values) => {
        expect(decodeCursor(encodeCursor(values), values.length)).toEqual(values);
      }),
    );
  });

  it('writes URL-safe text only', () => {
    // Bytes that standard base64 would write as "+" and "/", and padding.
    const cursor = encodeCursor(['\u00fb\u00ff?>', 'ab']);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it.each([
    ['has fewer values than the ordering', encodeCursor(['2024-05-01T12:00:00.123456Z'])],
    ['has more values than the ordering', encodeCursor(['2024-05-01T12:00:00.123456Z', 'id', 'extra'])],
    ['is empty', ''],
    ['is not base64url', '!!!***'],
    ['is not JSON', base64url('not json')],
    ['is truncated JSON', base64url('["2024-05-01T12:00:00.123456Z", "id"')],
    ['is a JSON object', base64url('{"0":"a","1":"b","length":2}')],
    ['is a JSON string', base64url('"ab"')],
    ['is JSON null', base64url('null')],
  ])('refuses a cursor that %s, at /after', (_what, cursor) => {
    expectValidationError(
      thrownBy(() => decodeCursor(cursor, 2)),
      '/after',
      NOT_A_CURSOR,
    );
  });

  it('reports a refused cursor at the path it is given', () => {
    expectValidationError(
      thrownBy(() => decodeCursor(base64url('{}'), 2, '/experiments/after')),
      '/experiments/after',
      NOT_A_CURSOR,
    );
  });
});

describe('checkPageSize', () => {
  it.each([1, 2, 20, 99, 100])('accepts %p and returns it', (first) => {
    expect(checkPageSize(first)).toBe(first);
  });

  it.each([0, -1, 101, 1.5, NaN, Infinity, -Infinity])('refuses %p at /first', (first) => {
    expectValidationError(
      thrownBy(() => checkPageSize(first)),
      '/first',
      'must be an integer from 1 to 100',
    );
  });

  it('takes a lower limit when given one', () => {
    expect(checkPageSize(50, 50)).toBe(50);
    expectValidationError(
      thrownBy(() => checkPageSize(51, 50)),
      '/first',
      'must be an integer from 1 to 50',
    );
  });
});

describe('keysetClauses', () => {
  const ID = '00000000-0000-4000-8000-000000000001';

  it('orders by the key and the id, and fetches one row more than the page to tell whether there is a next one', () => {
    const values = new SqlValues();
    // The limit is in the text (a plan PostgreSQL can keep needs to know it), the page size being checked first.
    expect(keysetClauses(NEWEST_FIRST, { first: 20 }, values)).toEqual({
      first: 20,
      after: null,
      orderBy: 'x.created_at DESC, x.id DESC',
      limit: '21',
    });
    expect(values.values).toEqual([]);
    expect(() => keysetClauses(NEWEST_FIRST, { first: 1e6 }, values)).toThrow('must be an integer from 1 to 100');
  });

  it('continues strictly after the cursor, with its values bound, never in the SQL text', () => {
    const values = new SqlValues();
    values.bind('an earlier value');
    const after = encodeCursor(['CREATED_AT:DESC', '2024-05-01T12:00:00.123456Z', ID]);
    expect(keysetClauses(NEWEST_FIRST, { first: 5, after }, values).after).toBe('(x.created_at, x.id) < ($2::timestamptz, $3::uuid)');
    expect(values.values).toEqual(['an earlier value', '2024-05-01T12:00:00.123456Z', ID]);
  });

  it('compares upwards in ascending order', () => {
    const ascending = { ...NEWEST_FIRST, tag: 'CREATED_AT:ASC', direction: OrderDirection.ASC };
    const after = encodeCursor(['CREATED_AT:ASC', '2024-05-01T12:00:00.123456Z', ID]);
    expect(keysetClauses(ascending, { first: 5, after }, new SqlValues()).after).toContain(') > (');
  });

  it.each([
    ['of another ordering', encodeCursor(['NAME:ASC', '2024-05-01T12:00:00.123456Z', ID])],
    ['with a key value of the wrong type', encodeCursor(['CREATED_AT:DESC', 'yesterday', ID])],
    ['with an id that is not a UUID', encodeCursor(['CREATED_AT:DESC', '2024-05-01T12:00:00.123456Z', 'id-1'])],
    ['of the old two-value shape', encodeCursor(['2024-05-01T12:00:00.123456Z', ID])],
  ])('refuses a cursor %s at the path given', (_case, after) => {
    const values = new SqlValues();
    expectValidationError(
      thrownBy(() => keysetClauses(NEWEST_FIRST, { first: 5, after }, values, '/experiments/after')),
      '/experiments/after',
      NOT_A_CURSOR,
    );
  });
});

describe('keysetPage', () => {
  const row = (n: number): Row => ({ id: `id-${n}`, createdAt: `2024-05-0${n}T00:00:00.000000Z` });
  const cursorOf = (r: Row) => ['CREATED_AT:DESC', r.createdAt, r.id];

  it('keeps only `first` edges when the extra row is there, and tells there is a next page', () => {
    const rows = [row(1), row(2), row(3)];
    const connection = connectionFrom(rows, 2, 7);
    expect(connection).toEqual({
      edges: [
        { node: rows[0], cursor: encodeCursor(cursorOf(rows[0])) },
        { node: rows[1], cursor: encodeCursor(cursorOf(rows[1])) },
      ],
      totalCount: 7,
      pageInfo: {
        hasNextPage: true,
        hasPreviousPage: false,
        startCursor: encodeCursor(cursorOf(rows[0])),
        endCursor: encodeCursor(cursorOf(rows[1])),
      },
    });
  });

  it('gives cursors that decode back to the ordering, the sort key and the id of their row', () => {
    const { pageInfo } = connectionFrom([row(1), row(2), row(3)], 2, 3);
    expect(decodeCursor(pageInfo.startCursor!, 3)).toEqual(['CREATED_AT:DESC', '2024-05-01T00:00:00.000000Z', 'id-1']);
    expect(decodeCursor(pageInfo.endCursor!, 3)).toEqual(['CREATED_AT:DESC', '2024-05-02T00:00:00.000000Z', 'id-2']);
  });

  it('makes no node of the extra row', () => {
    const nodeOf = jest.fn((r: Row & { cursor_value: unknown; cursor_id: string }) => r.id);
    const fetched = [row(1), row(2), row(3)].map((r) => ({ ...r, cursor_value: r.createdAt, cursor_id: r.id }));
    keysetPage(fetched, NEWEST_FIRST, 2, 3, nodeOf);
    expect(nodeOf.mock.calls.map(([r]) => r.id)).toEqual(['id-1', 'id-2']);
  });

  it('has no next page when exactly `first` rows came back', () => {
    const connection = connectionFrom([row(1), row(2)], 2, 2);
    expect(connection.edges.map((edge) => edge.node.id)).toEqual(['id-1', 'id-2']);
    expect(connection.pageInfo).toEqual({
      hasNextPage: false,
      hasPreviousPage: false,
      startCursor: encodeCursor(cursorOf(row(1))),
      endCursor: encodeCursor(cursorOf(row(2))),
    });
  });

  it('has the same start and end cursor on a page of one', () => {
    const { pageInfo } = connectionFrom([row(4)], 5, 1);
    expect(pageInfo).toEqual({
      hasNextPage: false,
      hasPreviousPage: false,
      startCursor: encodeCursor(cursorOf(row(4))),
      endCursor: encodeCursor(cursorOf(row(4))),
    });
  });

  it('gives null cursors and no next page on an empty page', () => {
    expect(connectionFrom([], 20, 0)).toEqual({
      edges: [],
      totalCount: 0,
      pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
    });
  });
});
