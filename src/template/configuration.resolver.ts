import { GraphQLJSONObject } from '../graphql/json-object.scalar';
import { Arg, Int, Query, Resolver } from 'type-graphql';
import {
  CONFIGURATION_SCHEMA_VERSIONS,
  configurationSchemaOf,
  LATEST_CONFIGURATION_SCHEMA_VERSION,
  type ConfigurationSection,
} from './configuration-schema';
import type { FieldError } from '../errors/domain-error';
import { throwIfInvalid } from '../validation/field-errors';
import { parseConfiguration, parseConfigurationSchemaVersion, parseSectionOf } from './configuration-validator';
import { ConfigurationSectionEnum, ConfigurationValidation } from './configuration.types';

/** The wizard's validation: the same schemas and validator the server enforces, open to anonymous callers. */
@Resolver()
export class ConfigurationResolver {
  @Query(() => GraphQLJSONObject, {
    description:
      'A JSON Schema (draft-07) experiment configurations are checked against: the latest version by default, which new templates and every change of a template are written at; an older one for experiments made from a template still at it (`Template.configurationSchemaVersion`)',
  })
  configurationSchema(
    @Arg('version', () => Int, { nullable: true, description: 'One of `configurationSchemaVersions`; default: the latest' })
    version?: number | null,
  ): Record<string, unknown> {
    const errors: FieldError[] = [];
    const schemaVersion = parseConfigurationSchemaVersion(version ?? LATEST_CONFIGURATION_SCHEMA_VERSION, '/version', errors);
    throwIfInvalid(errors, 'Unknown configuration schema version');
    return configurationSchemaOf(schemaVersion!);
  }

  @Query(() => [Int], { description: 'The configuration schema versions this server knows, oldest first: the last is the latest' })
  configurationSchemaVersions(): number[] {
    return CONFIGURATION_SCHEMA_VERSIONS;
  }

  @Query(() => ConfigurationValidation, {
    description:
      'Checks a configuration, or only one section of it (one wizard step), against a schema version (default: the latest); paths start at the configuration root',
  })
  validateConfiguration(
    @Arg('configuration', () => GraphQLJSONObject) configuration: Record<string, unknown>,
    @Arg('section', () => ConfigurationSectionEnum, { nullable: true }) section?: ConfigurationSection | null,
    @Arg('schemaVersion', () => Int, { nullable: true, description: 'One of `configurationSchemaVersions`; default: the latest' })
    schemaVersion?: number | null,
  ): ConfigurationValidation {
    const versionErrors: FieldError[] = [];
    const version = parseConfigurationSchemaVersion(schemaVersion ?? LATEST_CONFIGURATION_SCHEMA_VERSION, '/schemaVersion', versionErrors);
    throwIfInvalid(versionErrors, 'Unknown configuration schema version');
    const errors: FieldError[] = [];
    if (section) parseSectionOf(configuration, section, errors, version);
    else parseConfiguration(configuration, '', errors, version);
    return { valid: errors.length === 0, errors };
  }
}
