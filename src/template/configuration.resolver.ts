import { GraphQLJSONObject } from '../graphql/json-object.scalar';
import { Arg, Query, Resolver } from 'type-graphql';
import { configurationSchema, type ConfigurationSection } from './configuration-schema';
import type { FieldError } from '../errors/domain-error';
import { parseConfiguration, parseSectionOf } from './configuration-validator';
import { ConfigurationSectionEnum, ConfigurationValidation } from './configuration.types';

/** The wizard's validation: the same schema and validator the server enforces, open to anonymous callers. */
@Resolver()
export class ConfigurationResolver {
  @Query(() => GraphQLJSONObject, { description: 'The JSON Schema (draft-07) every experiment configuration is checked against' })
  configurationSchema(): Record<string, unknown> {
    return configurationSchema;
  }

  @Query(() => ConfigurationValidation, {
    description: 'Checks a configuration, or only one section of it (one wizard step); paths start at the configuration root',
  })
  validateConfiguration(
    @Arg('configuration', () => GraphQLJSONObject) configuration: Record<string, unknown>,
    @Arg('section', () => ConfigurationSectionEnum, { nullable: true }) section?: ConfigurationSection | null,
  ): ConfigurationValidation {
    const errors: FieldError[] = [];
    if (section) parseSectionOf(configuration, section, errors);
    else parseConfiguration(configuration, '', errors);
    return { valid: errors.length === 0, errors };
  }
}
