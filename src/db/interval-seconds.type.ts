import { Type, type Platform } from '@mikro-orm/core';

/** A PostgreSQL `interval` column seen from TypeScript as a number of seconds. */
export class IntervalSecondsType extends Type<number | null | undefined, string | null | undefined> {
  override convertToDatabaseValue(value: number | null | undefined): string | null | undefined {
    if (value === null || value === undefined) return value;
    // Fixed notation at the microseconds an interval keeps: PostgreSQL reads no exponent, and `${1e-7}` is "1e-7".
    return `${value.toFixed(6)} seconds`;
  }

  override convertToJSValue(value: string | number | null | undefined): number | null | undefined {
    if (value === null || value === undefined) return value;
    return typeof value === 'number' ? value : Number(value);
  }

  override convertToJSValueSQL(key: string): string {
    return `extract(epoch from ${key})::float8`;
  }

  override compareAsType(): string {
    return 'number';
  }

  override getColumnType(_prop: unknown, _platform: Platform): string {
    return 'interval';
  }
}
