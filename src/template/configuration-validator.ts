import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { FieldError } from '../errors/domain-error';
import { escapePointerSegment } from '../validation/field-errors';
import { parseStorableJson } from '../validation/storable';
import {
  CONFIGURATION_SCHEMA_ID,
  CONFIGURATION_SECTIONS,
  configurationSchema,
  type Configuration,
  type ConfigurationSection,
} from './configuration-schema';

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

export function isConfigurationSection(value: unknown): value is ConfigurationSection {
  return (CONFIGURATION_SECTIONS as readonly unknown[]).includes(value);
}

/**
 * A whole configuration, checked against the schema; errors are JSON pointers under `path` (`/configuration/model/type`).
 * What PostgreSQL could not store is refused first: ajv recurses, and a deeply nested value would overflow the stack.
 */
export function parseConfiguration(value: unknown, path: string, errors: FieldError[]): Configuration | undefined {
  const problems: FieldError[] = [];
  if (parseStorableJson(value, path, problems) !== undefined) {
    if (validateWhole(value)) return value as Configuration;
    problems.push(...toFieldErrors(validateWhole.errors, path));
  }
  errors.push(...pointedInside(problems, path, ''));
  return undefined;
}

/** One section of a configuration, for one wizard step; errors are JSON pointers under `path`. */
export function parseConfigurationSection(section: ConfigurationSection, value: unknown, path: string, errors: FieldError[]): unknown {
  const problems: FieldError[] = [];
  const validate = sectionValidators.get(section)!;
  if (parseStorableJson(value, path, problems) !== undefined) {
    if (validate(value)) return value;
    problems.push(...toFieldErrors(validate.errors, path));
  }
  errors.push(...pointedInside(problems, path, `/${section}`));
  return undefined;
}

/** `problems` found under `path` of the input, which holds the configuration's `root` (`''` or `/model`). */
function pointedInside(problems: FieldError[], path: string, root: string): FieldError[] {
  return problems.map((problem) => ({ ...problem, configurationPointer: `${root}${problem.path.slice(path.length)}` }));
}

/**
 * The wizard's check of one step: only `section` of a (partial) configuration is checked. A missing section is an
 * error only when the whole configuration requires it. Paths start at the configuration's root (`/model/type`).
 */
export function parseSectionOf(configuration: Record<string, unknown>, section: ConfigurationSection, errors: FieldError[]): void {
  const value = configuration[section];
  if (value !== undefined) parseConfigurationSection(section, value, `/${section}`, errors);
  else if ((configurationSchema.required as readonly string[]).includes(section))
    errors.push({ path: `/${section}`, message: 'is required', configurationPointer: `/${section}` });
}

/**
 * An unfinished configuration (a draft): every section present must be valid and no unknown section may appear, but
 * required sections may still be missing.
 */
export function parseDraftConfiguration(value: unknown, path: string, errors: FieldError[]): Partial<Configuration> | undefined {
  return parseSections(value, path, errors, (section, sectionValue, sectionPath) =>
    parseConfigurationSection(section, sectionValue, sectionPath, errors),
  );
}

/**
 * Overrides of a template's configuration: partial by nature (`{ model: { hyperparameters: { maxDepth: 4 } } }` keeps
 * the template's model type), so only their shape is checked, an object of known sections; the merged configuration
 * is then validated in full.
 */
export function parseConfigurationOverrides(value: unknown, path: string, errors: FieldError[]): Partial<Configuration> | undefined {
  return parseSections(value, path, errors, () => undefined);
}

/** An object of known sections that PostgreSQL can store, each section handed to `parseSection`. */
function parseSections(
  value: unknown,
  path: string,
  errors: FieldError[],
  parseSection: (section: ConfigurationSection, value: unknown, path: string) => unknown,
): Partial<Configuration> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    errors.push({ path, message: 'must be object', configurationPointer: '' });
    return undefined;
  }
  const unstorable: FieldError[] = [];
  if (parseStorableJson(value, path, unstorable) === undefined) {
    errors.push(...pointedInside(unstorable, path, ''));
    return undefined;
  }
  const before = errors.length;
  for (const [key, sectionValue] of Object.entries(value)) {
    const section = `/${escapePointerSegment(key)}`;
    if (isConfigurationSection(key)) parseSection(key, sectionValue, `${path}${section}`);
    else errors.push({ path: `${path}${section}`, message: 'is not an allowed property', configurationPointer: section });
  }
  return errors.length === before ? value : undefined;
}

function toFieldErrors(errors: ErrorObject[] | null | undefined, prefix: string): FieldError[] {
  return (errors ?? []).map((error) => {
    switch (error.keyword) {
      case 'required':
        return {
          path: `${prefix}${error.instancePath}/${escapePointerSegment(error.params.missingProperty as string)}`,
          message: 'is required',
        };
      case 'additionalProperties':
        return {
          path: `${prefix}${error.instancePath}/${escapePointerSegment(error.params.additionalProperty as string)}`,
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
