import { ValidationError, type FieldError } from '../errors/domain-error';

/** How a usage series groups days: UTC days, ISO weeks (Monday to Sunday), calendar months. */
export enum UsageBucket {
  DAY = 'DAY',
  WEEK = 'WEEK',
  MONTH = 'MONTH',
}

/** A series as asked for: UTC days as `YYYY-MM-DD`, both ends included. */
export interface UsageRange {
  from: string;
  to: string;
  bucket: UsageBucket;
}

/** Experiments created from a template in one bucket: `start` is the bucket's first day, whether or not in the range. */
export interface UsagePoint {
  start: string;
  experiments: number;
}

/** Five years of days, leap days included: at most 1,827 buckets (of days), 262 of weeks, 61 of months. */
export const USAGE_MAX_DAYS = 5 * 365 + 2;

const DAY_MS = 24 * 3600 * 1000;
const DATE_PATTERN = /^(\d{4})-(\d{2})-(\d{2})$/;
const EARLIEST = Date.UTC(1970, 0, 1);

/** The range's problems at `/from`, `/to` and `/bucket`, all at once, as every input's are. */
export function parseUsageRange(from: unknown, to: unknown, bucket: unknown): UsageRange {
  const errors: FieldError[] = [];
  const start = parseDay(from, '/from', errors);
  const end = parseDay(to, '/to', errors);
  if (!Object.values(UsageBucket).includes(bucket as UsageBucket)) errors.push({ path: '/bucket', message: 'must be DAY, WEEK or MONTH' });
  if (start !== undefined && end !== undefined) {
    if (end < start) errors.push({ path: '/to', message: 'must not be before from' });
    else if ((end - start) / DAY_MS + 1 > USAGE_MAX_DAYS)
      errors.push({ path: '/to', message: `must be at most ${USAGE_MAX_DAYS} days from from` });
  }
  if (errors.length > 0) throw new ValidationError(errors);
  return { from: from as string, to: to as string, bucket: bucket as UsageBucket };
}

/** A calendar date from 1970-01-01 on, as midnight UTC in milliseconds. */
function parseDay(value: unknown, path: string, errors: FieldError[]): number | undefined {
  const match = typeof value === 'string' ? DATE_PATTERN.exec(value) : null;
  const [year, month, day] = match ? match.slice(1).map(Number) : [];
  const time = match ? Date.UTC(year, month - 1, day) : NaN;
  // Date.UTC rolls 2026-02-30 over to March: a real date reads back as written.
  if (!match || new Date(time).toISOString().slice(0, 10) !== value || time < EARLIEST) {
    errors.push({ path, message: 'must be a date as YYYY-MM-DD, from 1970-01-01' });
    return undefined;
  }
  return time;
}

/** The first day of the bucket holding `day`. */
export function bucketStart(day: string, bucket: UsageBucket): string {
  const date = new Date(`${day}T00:00:00Z`);
  switch (bucket) {
    case UsageBucket.DAY:
      return day;
    case UsageBucket.WEEK:
      // getUTCDay: Sunday 0 .. Saturday 6; ISO weeks start on Monday.
      return dayOf(date.getTime() - ((date.getUTCDay() + 6) % 7) * DAY_MS);
    case UsageBucket.MONTH:
      return `${day.slice(0, 7)}-01`;
  }
}

/** Every bucket of the range in order, those without experiments as 0, so that a chart needs no gap filling. */
export function usageSeries(range: UsageRange, counted: ReadonlyMap<string, number>): UsagePoint[] {
  const series: UsagePoint[] = [];
  for (let start = bucketStart(range.from, range.bucket); start <= range.to; start = nextBucket(start, range.bucket)) {
    series.push({ start, experiments: counted.get(start) ?? 0 });
  }
  return series;
}

function nextBucket(start: string, bucket: UsageBucket): string {
  const date = new Date(`${start}T00:00:00Z`);
  switch (bucket) {
    case UsageBucket.DAY:
      return dayOf(date.getTime() + DAY_MS);
    case UsageBucket.WEEK:
      return dayOf(date.getTime() + 7 * DAY_MS);
    case UsageBucket.MONTH:
      return dayOf(Date.UTC(date.getUTCFullYear(), date.getUTCMonth() + 1, 1));
  }
}

function dayOf(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}

/** PostgreSQL's `date_trunc` field for a bucket: ISO weeks start on Monday there too. */
export function truncField(bucket: UsageBucket): 'day' | 'week' | 'month' {
  return bucket === UsageBucket.DAY ? 'day' : bucket === UsageBucket.WEEK ? 'week' : 'month';
}
