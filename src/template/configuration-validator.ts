import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import type { FieldError } from '../errors/domain-error';
import { escapePointerSegment } from '../validation/field-errors';
import { parseStorableJson } from '../validation/storable';
import {
  CONFIGURATION_SCHEMA_VERSIONS,
  CONFIGURATION_SECTIONS,
  configurationSchemaOf,
  configurationSectionsOf,
  isConfigurationSchemaVersion,
  LATEST_CONFIGURATION_SCHEMA_VERSION,
  upgradeConfiguration,
  type Configuration,
  type ConfigurationSchemaVersion,
  type ConfigurationSection,
} from './configuration-schema';

// The schemas are ours and fixed: user input is only ever data, never schema, and `$data` stays off.
const ajv = new Ajv({ allErrors: true, strict: true, $data: false });

interface VersionValidators {
  whole: ValidateFunction;
  sections: Map<ConfigurationSection, ValidateFunction>;
  required: readonly string[];
}

const validators = new Map<ConfigurationSchemaVersion, VersionValidators>(
  CONFIGURATION_SCHEMA_VERSIONS.map((version) => {
    const schema = configurationSchemaOf(version);
    ajv.addSchema(schema);
    const sections = configurationSectionsOf(version).map(
      (section) => [section, ajv.getSchema(`${schema.$id}#/properties/${section}`) as ValidateFunction] as const,
    );
    return [version, { whole: ajv.getSchema(schema.$id) as ValidateFunction, sections: new Map(sections), required: schema.required }];
  }),
);

/** A section of the latest schema; `configurationSectionsOf` tells which an older version has. */
export function isConfigurationSection(value: unknown): value is ConfigurationSection {
  return (CONFIGURATION_SECTIONS as readonly unknown[]).includes(value);
}

/**
 * A whole configuration, checked against the schema; errors are JSON pointers under `path` (`/configuration/model/type`).
 * What PostgreSQL could not store is refused first: ajv recurses, and a deeply nested value would overflow the stack.
 */
export function parseConfiguration(
  value: unknown,
  path: string,
  errors: FieldError[],
  schemaVersion: ConfigurationSchemaVersion = LATEST_CONFIGURATION_SCHEMA_VERSION,
): Configuration | undefined {
  const problems: FieldError[] = [];
  const validateWhole = validators.get(schemaVersion)!.whole;
  if (parseStorableJson(value, path, problems) !== undefined) {
    if (validateWhole(value)) return value as Configuration;
    problems.push(...toFieldErrors(validateWhole.errors, path));
  }
  errors.push(...pointedInside(problems, path, ''));
  return undefined;
}

/**
 * One section of a configuration, for one wizard step; errors are JSON pointers under `path`. A section the version
 * does not have (`resources` at version 1) is refused at `sectionPath`.
 */
export function parseConfigurationSection(
  section: ConfigurationSection,
  value: unknown,
  path: string,
  errors: FieldError[],
  schemaVersion: ConfigurationSchemaVersion = LATEST_CONFIGURATION_SCHEMA_VERSION,
  sectionPath = path,
): unknown {
  const problems: FieldError[] = [];
  const validate = validators.get(schemaVersion)!.sections.get(section);
  if (!validate) {
    errors.push({
      path: sectionPath,
      message: `is not a section of configuration schema version ${schemaVersion}`,
      configurationPointer: `/${section}`,
    });
    return undefined;
  }
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
export function parseSectionOf(
  configuration: Record<string, unknown>,
  section: ConfigurationSection,
  errors: FieldError[],
  schemaVersion: ConfigurationSchemaVersion = LATEST_CONFIGURATION_SCHEMA_VERSION,
): void {
  const value = configuration[section];
  if (value !== undefined || !validators.get(schemaVersion)!.sections.has(section)) {
    parseConfigurationSection(section, value, `/${section}`, errors, schemaVersion);
  } else if (validators.get(schemaVersion)!.required.includes(section))
    errors.push({ path: `/${section}`, message: 'is required', configurationPointer: `/${section}` });
}

/**
 * An unfinished configuration (a draft): every section present must be valid and no unknown section may appear, but
 * required sections may still be missing.
 */
export function parseDraftConfiguration(
  value: unknown,
  path: string,
  errors: FieldError[],
  schemaVersion: ConfigurationSchemaVersion = LATEST_CONFIGURATION_SCHEMA_VERSION,
): Partial<Configuration> | undefined {
  return parseSections(value, path, errors, (section, sectionValue, sectionPath) =>
    parseConfigurationSection(section, sectionValue, sectionPath, errors, schemaVersion),
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
      case 'false schema':
        return { path: `${prefix}${error.instancePath}`, message: 'is not allowed here' };
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

/** A schema version a client named (`/version`, `/schemaVersion`); unknown ones are refused at `path`. */
export function parseConfigurationSchemaVersion(
  value: unknown,
  path: string,
  errors: FieldError[],
): ConfigurationSchemaVersion | undefined {
  if (isConfigurationSchemaVersion(value)) return value;
  errors.push({ path, message: `must be one of the configuration schema versions: ${CONFIGURATION_SCHEMA_VERSIONS.join(', ')}` });
  return undefined;
}

/**
 * A configuration valid at `from`, upgraded to the latest version and checked there. A problem the upgrade brings to
 * light (a value that does not fit where it moved) says so, at its path in the upgraded configuration.
 */
export function parseUpgradedConfiguration(
  configuration: Configuration,
  from: ConfigurationSchemaVersion,
  path: string,
  errors: FieldError[],
): Configuration | undefined {
  const upgraded = upgradeConfiguration(configuration, from);
  if (from === LATEST_CONFIGURATION_SCHEMA_VERSION) return upgraded;
  const problems: FieldError[] = [];
  const valid = parseConfiguration(upgraded, path, problems);
  const upgrade = `once upgraded from configuration schema version ${from} to ${LATEST_CONFIGURATION_SCHEMA_VERSION}`;
  errors.push(...problems.map((problem) => ({ ...problem, message: `${problem.message} ${upgrade}` })));
  return valid;
}
