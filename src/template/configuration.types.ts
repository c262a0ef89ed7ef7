import { Field, ObjectType, registerEnumType } from 'type-graphql';
import { CONFIGURATION_SECTIONS, type ConfigurationSection } from './configuration-schema';

/** GraphQL names (`MODEL`) for the configuration's sections; resolvers receive the section keys (`model`). */
export const ConfigurationSectionEnum = Object.fromEntries(CONFIGURATION_SECTIONS.map((section) => [section.toUpperCase(), section])) as {
  [S in ConfigurationSection as Uppercase<S>]: S;
};

registerEnumType(ConfigurationSectionEnum, {
  name: 'ConfigurationSection',
  description: 'A top-level section of an experiment configuration: what one wizard step edits',
});

@ObjectType('FieldError', { description: 'A problem with one field of an input', simpleResolvers: true })
export class FieldErrorType {
  @Field(() => String, { description: 'JSON pointer to the field, e.g. `/model/type`' })
  path!: string;

  @Field(() => String)
  message!: string;

  @Field(() => String, {
    nullable: true,
    description: 'For a problem inside a configuration: its JSON pointer from the configuration root, whichever input carried it',
  })
  configurationPointer?: string;
}

@ObjectType({ description: 'The result of checking a configuration: problems are data here, not errors', simpleResolvers: true })
export class ConfigurationValidation {
  @Field(() => Boolean)
  valid!: boolean;

  @Field(() => [FieldErrorType])
  errors!: FieldErrorType[];
}
