import fc from 'fast-check';
import { ErrorCode, ValidationError } from '../../src/errors/domain-error';
import { checkPageSize, decodeCursor, encodeCursor, pageFrom } from '../../src/db/keyset';
import { connectionOf } from '../../src/graphql/connection';

/** A page of the domain as the GraphQL layer hands it to clients. */
function connectionFrom<T>(rows: T[], first: number, cursorOf: (row: T) => unknown[], totalCount: number) {
  return connectionOf(pageFrom(rows, first, cursorOf, totalCount));
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

describe('connectionFrom', () => {
  interface Row {
    id: string;
    createdAt: string;
  }
  const row = (n: number): Row => ({ id: `id-${n}`, createdAt: `2024-05-0${n}T00:00:00.000000Z` });
  const cursorOf = (r: Row) => [r.createdAt, r.id];

  it('keeps only `first` edges when the extra row is there, and tells there is a next page', () => {
    const rows = [row(1), row(2), row(3)];
    const connection = connectionFrom(rows, 2, cursorOf, 7);
    expect(connection).toEqual({
      edges: [
        { node: rows[0], cursor: encodeCursor(['2024-05-01T00:00:00.000000Z', 'id-1']) },
        { node: rows[1], cursor: encodeCursor(['2024-05-02T00:00:00.000000Z', 'id-2']) },
      ],
      totalCount: 7,
      pageInfo: {
        hasNextPage: true,
        hasPreviousPage: false,
        startCursor: encodeCursor(['2024-05-01T00:00:00.000000Z', 'id-1']),
        endCursor: encodeCursor(['2024-05-02T00:00:00.000000Z', 'id-2']),
      },
    });
    expect(connection.edges[0].node).toBe(rows[0]);
  });

  it('gives cursors that decode back to the sort key of their row', () => {
    const { pageInfo } = connectionFrom([row(1), row(2), row(3)], 2, cursorOf, 3);
    expect(decodeCursor(pageInfo.startCursor!, 2)).toEqual(['2024-05-01T00:00:00.000000Z', 'id-1']);
    expect(decodeCursor(pageInfo.endCursor!, 2)).toEqual(['2024-05-02T00:00:00.000000Z', 'id-2']);
  });

  it('makes no cursor of the extra row', () => {
    const spy = jest.fn(cursorOf);
    connectionFrom([row(1), row(2), row(3)], 2, spy, 3);
    expect(spy.mock.calls.map(([r]) => r.id)).toEqual(['id-1', 'id-2']);
  });

  it('has no next page when exactly `first` rows came back', () => {
    const connection = connectionFrom([row(1), row(2)], 2, cursorOf, 2);
    expect(connection.edges.map((edge) => edge.node.id)).toEqual(['id-1', 'id-2']);
    expect(connection.pageInfo).toEqual({
      hasNextPage: false,
      hasPreviousPage: false,
      startCursor: encodeCursor(cursorOf(row(1))),
      endCursor: encodeCursor(cursorOf(row(2))),
    });
  });

  it('has the same start and end cursor on a page of one', () => {
    const { pageInfo } = connectionFrom([row(4)], 5, cursorOf, 1);
    expect(pageInfo).toEqual({
      hasNextPage: false,
      hasPreviousPage: false,
      startCursor: encodeCursor(cursorOf(row(4))),
      endCursor: encodeCursor(cursorOf(row(4))),
    });
  });

  it('gives null cursors and no next page on an empty page', () => {
    expect(connectionFrom<Row>([], 20, cursorOf, 0)).toEqual({
      edges: [],
      totalCount: 0,
      pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
    });
  });
});
