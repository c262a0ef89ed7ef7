import { isTimestampText, timestampTextSql } from '../../src/db/keyset';

describe('isTimestampText', () => {
  it.each([
    '2024-05-01T12:00:00.123456Z',
    '2024-05-01T00:00:00.000000Z',
    '2024-12-31T23:59:59.999999Z',
    '2024-02-29T08:30:00.000001Z', // leap year
    '2000-02-29T00:00:00.000000Z', // divisible by 400: leap
    '0001-01-01T00:00:00.000000Z', // PostgreSQL's first year
    '9999-12-31T23:59:59.999999Z',
  ])('accepts %s', (text) => {
    expect(isTimestampText(text)).toBe(true);
  });

  it.each([
    ['month 13', '2024-13-01T12:00:00.123456Z'],
    ['month 00', '2024-00-10T12:00:00.123456Z'],
    ['day 00', '2024-05-00T12:00:00.123456Z'],
    ['February 30', '2024-02-30T12:00:00.123456Z'],
    ['February 29 in a common year', '2023-02-29T12:00:00.123456Z'],
    ['February 29 in a century that is not a leap year', '1900-02-29T12:00:00.123456Z'],
    ['April 31', '2024-04-31T12:00:00.123456Z'],
    ['year 0000', '0000-01-01T00:00:00.000000Z'],
    ['hour 24', '2024-05-01T24:00:00.000000Z'],
    ['minute 60', '2024-05-01T12:60:00.000000Z'],
    ['second 60', '2024-05-01T12:00:60.000000Z'],
    ['milliseconds instead of microseconds', '2024-05-01T12:00:00.123Z'],
    ['no fraction', '2024-05-01T12:00:00Z'],
    ['nanoseconds', '2024-05-01T12:00:00.123456789Z'],
    ['an offset instead of Z', '2024-05-01T12:00:00.123456+02:00'],
    ['a zero offset instead of Z', '2024-05-01T12:00:00.123456+00:00'],
    ['no zone', '2024-05-01T12:00:00.123456'],
    ['a lower-case z', '2024-05-01T12:00:00.123456z'],
    ['a space instead of T', '2024-05-01 12:00:00.123456Z'],
    ['a five-digit year', '12024-05-01T12:00:00.123456Z'],
    ['a negative year', '-2024-05-01T12:00:00.123456Z'],
    ['surrounding whitespace', ' 2024-05-01T12:00:00.123456Z'],
    ['a trailing newline', '2024-05-01T12:00:00.123456Z\n'],
    ['the empty string', ''],
  ])('refuses %s', (_what, text) => {
    expect(isTimestampText(text)).toBe(false);
  });

  it.each([
    ['a number', Date.UTC(2024, 4, 1)],
    ['a Date', new Date('2024-05-01T12:00:00.123Z')],
    ['null', null],
    ['undefined', undefined],
    ['an array holding the text', ['2024-05-01T12:00:00.123456Z']],
  ])('refuses %s', (_what, value) => {
    expect(isTimestampText(value)).toBe(false);
  });
});

describe('timestampTextSql', () => {
  it('writes the column as UTC text with microseconds', () => {
    expect(timestampTextSql('t.created_at')).toBe(`to_char(t.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);
  });
});
