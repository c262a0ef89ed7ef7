import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { jsonProblems } from '../db/storable';
import type { FieldError } from '../errors/domain-error';
import { CONFIGURATION_SCHEMA_ID, CONFIGURATION_SECTIONS, configurationSchema, type ConfigurationSection } from './configuration-schema';

/** A configuration is stored as jsonb and sent to the browser: keep it well under what a page can handle. */
export const MAX_CONFIGURATION_BYTES = 256 * 1024;

// The schema is ours and fixed: user input is only ever data, never schema, and `$data` stays off.
const ajv = new Ajv({ allErrors: true, strict: true, $data: false });
ajv.addSchema(configurationSchema);

const validateWhole = ajv.getSchema(CONFIGURATION_SCHEMA_ID) as ValidateFunction;
const sectionValidators = new Map<ConfigurationSection, ValidateFunction>(
  CONFIGURATION_SECTIONS.map((section) => [
    section,
    ajv.getSchema(`${CONFIGURATION_SCHEMA_ID}#/properties/${section}`) as ValidateFunction,
  ]),
);

export function isConfigurationSection(value: string): value is ConfigurationSection {
  return (CONFIGURATION_SECTIONS as readonly string[]).includes(value);
}

/** Full check of a configuration; paths are JSON pointers into it (`/model/type`). */
export function validateConfiguration(configuration: unknown): FieldError[] {
  const unstorable = checkStorable(configuration, '');
  if (unstorable.length > 0) return unstorable;
  return validateWhole(configuration) ? [] : toFieldErrors(validateWhole.errors, '');
}

/** Check of one section, for one wizard step; paths still start at the configuration's root (`/model/type`). */
export function validateConfigurationSection(section: ConfigurationSection, value: unknown): FieldError[] {
  const prefix = `/${section}`;
  const unstorable = checkStorable(value, prefix);
  if (unstorable.length > 0) return unstorable;
  const validate = sectionValidators.get(section)!;
  return validate(value) ? [] : toFieldErrors(validate.errors, prefix);
}

/**
 * The wizard's check of one step: only `section` of a (partial) configuration is checked. A missing section is an
 * error only when the whole configuration requires it.
 */
export function validateSectionOf(configuration: Record<string, unknown>, section: ConfigurationSection): FieldError[] {
  const value = configuration[section];
  if (value !== undefined) return validateConfigurationSection(section, value);
  return (configurationSchema.required as readonly string[]).includes(section) ? [{ path: `/${section}`, message: 'is required' }] : [];
}

/**
 * Check of an unfinished configuration (a draft): every section present must be valid and no unknown
 * section may appear, but required sections may still be missing.
 */
export function validateDraftConfiguration(configuration: unknown): FieldError[] {
  if (typeof configuration !== 'object' || configuration === null || Array.isArray(configuration)) {
    return [{ path: '', message: 'must be object' }];
  }
  const unstorable = checkStorable(configuration, '');
  if (unstorable.length > 0) return unstorable;
  return Object.entries(configuration).flatMap(([key, value]) =>
    isConfigurationSection(key)
      ? validateConfigurationSection(key, value)
      : [{ path: `/${escapePointer(key)}`, message: 'is not an allowed property' }],
  );
}

/**
 * What must hold before the schema is even looked at: a value PostgreSQL can store in jsonb (no NUL, no lone
 * surrogates, bounded nesting: see src/db/storable.ts), within the size limit. The nesting is checked first, without
 * recursion: serialising (for the size) or comparing (ajv's `uniqueItems`) a deeply nested value overflows the stack.
 */
function checkStorable(value: unknown, path: string): FieldError[] {
  const problems = jsonProblems(value, path);
  if (problems.length > 0) return problems;
  const bytes = Buffer.byteLength(JSON.stringify(value ?? null));
  return bytes > MAX_CONFIGURATION_BYTES
    ? [{ path, message: `must be at most ${MAX_CONFIGURATION_BYTES} bytes of JSON (got ${bytes})` }]
    : [];
}

function toFieldErrors(errors: ErrorObject[] | null | undefined, prefix: string): FieldError[] {
  return (errors ?? []).map((error) => {
    switch (error.keyword) {
      case 'required':
        return {
          path: `${prefix}${error.instancePath}/${escapePointer(error.params.missingProperty as string)}`,
          message: 'is required',
        };
      case 'additionalProperties':
        return {
          path: `${prefix}${error.instancePath}/${escapePointer(error.params.additionalProperty as string)}`,
          message: 'is not an allowed property',
        };
      case 'enum':
        return {
          path: `${prefix}${error.instancePath}`,
          message: `must be one of: ${(error.params.allowedValues as unknown[]).join(', ')}`,
        };
      default:
        return { path: `${prefix}${error.instancePath}`, message: error.message ?? 'is invalid' };
    }
  });
}

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}
