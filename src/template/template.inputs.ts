import { GraphQLJSONObject } from '../graphql/json-object.scalar';
import { ArgsType, Field, ID, InputType, Int, registerEnumType } from 'type-graphql';
import { OrderDirection } from '../db/keyset';
import { PageArgs } from '../graphql/connection';
import { JsonFilterInput } from '../graphql/json-filter.inputs';
import type { Configuration } from './configuration-schema';
import { TemplateCategory } from './template-category';
import { SEARCH_MAX_LENGTH, TemplateActiveState, TemplateOrderField, TemplateScope } from './template-list';
import type { ExperimentTemplate } from './template.entity';

registerEnumType(TemplateScope, {
  name: 'TemplateScope',
  description: 'Whose templates to list; always limited to the ones the caller may see',
  valuesConfig: {
    MINE: { description: "The caller's own (needs a caller)" },
    SHARED_WITH_ME: { description: 'Shared with the caller by their owners (needs a caller)' },
    PUBLIC: { description: 'Public ones, including the caller’s own public ones' },
    ALL_VISIBLE: { description: 'Own, shared with the caller, and public' },
  },
});

registerEnumType(TemplateActiveState, {
  name: 'TemplateActiveState',
  description: 'Active or deactivated templates; deactivated ones are only ever listed to their owner',
});

registerEnumType(TemplateOrderField, {
  name: 'TemplateOrderField',
  description: 'What to sort templates by; ties are broken by id',
  valuesConfig: {
    LAST_USED: { description: 'Never-used templates sort as the oldest: last when descending' },
  },
});

// The service checks every field's content at once and answers BAD_USER_INPUT with the path of every problem
// (`/name`, `/configuration/model/type`), which the wizard shows next to its fields; presence is GraphQL's to check.
@InputType({ description: 'A new template; it starts at version 1, owned by the caller' })
export class CreateTemplateInput implements Partial<ExperimentTemplate> {
  @Field(() => String, { description: '1 to 255 characters' })
  name!: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => TemplateCategory)
  category!: TemplateCategory;

  @Field(() => [String], { nullable: true, description: 'Normalised: lower-case, dashes for spaces, no duplicates' })
  tags?: string[];

  @Field(() => GraphQLJSONObject, { description: 'Validated against `configurationSchema`' })
  configuration!: Configuration;

  @Field(() => Boolean, { defaultValue: false })
  isPublic?: boolean;

  @Field(() => String, { nullable: true, description: "The first version's note" })
  changeNote?: string | null;
}

@InputType({ description: 'A change of content: fields left out stay as they are; a null description or tags clears it' })
export class UpdateTemplateInput implements Partial<ExperimentTemplate> {
  @Field(() => String, { nullable: true })
  name?: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => TemplateCategory, { nullable: true })
  category?: TemplateCategory;

  @Field(() => [String], { nullable: true })
  tags?: string[];

  @Field(() => GraphQLJSONObject, { nullable: true })
  configuration?: Configuration;
}

@InputType({ description: 'Tags to match; an empty list filters nothing' })
export class TemplateTagFilter {
  @Field(() => [String], { nullable: true, description: 'Templates carrying every one of these tags' })
  allOf?: string[] | null;

  @Field(() => [String], { nullable: true, description: 'Templates carrying at least one of these tags' })
  anyOf?: string[] | null;
}

@InputType({ description: 'Narrows the list; filters given are combined with AND' })
export class TemplateFilter {
  @Field(() => [TemplateCategory], { nullable: true, description: 'Any of these categories; an empty list filters nothing' })
  categories?: TemplateCategory[] | null;

  @Field(() => TemplateTagFilter, { nullable: true })
  tags?: TemplateTagFilter | null;

  @Field(() => String, {
    nullable: true,
    description: `Case-insensitive text found in the name or description, at most ${SEARCH_MAX_LENGTH} characters`,
  })
  search?: string | null;

  @Field(() => JsonFilterInput, {
    nullable: true,
    description: 'What the configuration holds, e.g. `{ paths: [{ path: "/model/type", equals: "xgboost" }] }`',
  })
  configuration?: JsonFilterInput | null;

  @Field(() => TemplateScope, { defaultValue: TemplateScope.ALL_VISIBLE })
  scope?: TemplateScope;

  @Field(() => TemplateActiveState, { defaultValue: TemplateActiveState.ACTIVE })
  activeState?: TemplateActiveState;
}

@InputType({ description: 'Sort order of a template list' })
export class TemplateOrder {
  @Field(() => TemplateOrderField, { defaultValue: TemplateOrderField.UPDATED_AT })
  field?: TemplateOrderField;

  @Field(() => OrderDirection, { nullable: true, description: 'Default: ascending for NAME, descending for the others' })
  direction?: OrderDirection | null;
}

@ArgsType()
export class TemplatesArgs extends PageArgs {
  @Field(() => TemplateFilter, { nullable: true })
  filter?: TemplateFilter | null;

  @Field(() => TemplateOrder, { nullable: true, description: 'Default: most recently updated first' })
  orderBy?: TemplateOrder | null;
}

// Argument sets as classes, so the schema lists arguments in the order written here.

@ArgsType()
export class TemplateIdArgs {
  @Field(() => ID)
  id!: string;
}

@ArgsType()
export class UpdateTemplateArgs extends TemplateIdArgs {
  @Field(() => UpdateTemplateInput)
  input!: UpdateTemplateInput;

  @Field(() => Int, { nullable: true, description: 'The version the change was made on: CONFLICT when the template has moved on' })
  expectedVersion?: number | null;

  @Field(() => String, { nullable: true })
  changeNote?: string | null;
}

@ArgsType()
export class RevertTemplateArgs extends TemplateIdArgs {
  @Field(() => Int, { description: 'The version whose content becomes the next version' })
  toVersion!: number;

  @Field(() => Int, { nullable: true, description: 'The version the change was made on: CONFLICT when the template has moved on' })
  expectedVersion?: number | null;

  @Field(() => String, { nullable: true, description: 'Default: "Reverted to version <n>"' })
  changeNote?: string | null;
}

@ArgsType()
export class CloneTemplateArgs extends TemplateIdArgs {
  @Field(() => String, { nullable: true, description: 'Default: "<name> (copy)"' })
  name?: string | null;
}

@ArgsType()
export class ShareTemplateArgs extends TemplateIdArgs {
  @Field(() => [ID], { nullable: true, description: 'Users by id, at most 100' })
  userIds?: string[] | null;

  @Field(() => [String], {
    nullable: true,
    description:
      'Users by email address, at most 100, compared lower-cased. An address names the user who signed in with it (when the identity provider did not deny having verified it); one nobody holds yet is a pending share, which becomes a share when a user with that address first signs in. At least one recipient in userIds and emails together',
  })
  emails?: string[] | null;
}

@ArgsType()
export class SetTemplatePublicArgs extends TemplateIdArgs {
  @Field(() => Boolean)
  isPublic!: boolean;
}

@ArgsType()
export class DiffArgs {
  @Field(() => Int)
  from!: number;

  @Field(() => Int)
  to!: number;
}
