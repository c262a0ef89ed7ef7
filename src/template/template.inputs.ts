import { GraphQLJSONObject } from '../graphql/json-object.scalar';
import { ArgsType, Field, ID, InputType, Int, registerEnumType } from 'type-graphql';
import { OrderDirection } from '../db/keyset';
import { PageArgs } from '../graphql/connection';
import { JsonFilterInput } from '../graphql/json-filter.inputs';
import type { Configuration } from './configuration-schema';
import { TemplateCategory } from './template-category';
import { SEARCH_MAX_LENGTH } from '../db/text-search';
import { TemplateActiveState, TemplateOrderField, TemplateScope } from './template-list';
import type { ExperimentTemplate } from './template.entity';
import { USAGE_MAX_DAYS, UsageBucket } from './template-usage';
import './usage-point.type';

registerEnumType(TemplateScope, {
  name: 'TemplateScope',
  description: 'Whose templates to list; always limited to the ones the caller may see',
  valuesConfig: {
    MINE: { description: "The caller's own (needs a caller)" },
    SHARED_WITH_ME: {
      description:
        "Shared with the caller by their owners, directly or with a team the caller is a member of; not the caller's own (needs a caller)",
    },
    PUBLIC: { description: 'Public ones, including the caller’s own public ones' },
    ALL_VISIBLE: { description: "Own, shared with the caller or the caller's teams, and public (for staff too)" },
    EVERYONE: {
      description:
        'Staff only (FORBIDDEN otherwise, at `/filter/scope`): every template, whoever owns it, private ones and, with `activeState`, deactivated ones included',
    },
  },
});

registerEnumType(TemplateActiveState, {
  name: 'TemplateActiveState',
  description: 'Active or deactivated templates; deactivated ones are only ever listed to their owner, and to staff listing `EVERYONE`',
});

registerEnumType(TemplateOrderField, {
  name: 'TemplateOrderField',
  description: 'What to sort templates by; ties are broken by id',
  valuesConfig: {
    LAST_USED: { description: 'Never-used templates sort as the oldest: last when descending' },
    TRENDING: {
      description:
        'Experiments created from the template in the last 7 UTC days, today included (from midnight UTC six days ago), most first; the window moves on within a minute of midnight UTC',
    },
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

  @Field(() => GraphQLJSONObject, { description: 'Validated against the latest `configurationSchema`' })
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

  @Field(() => GraphQLJSONObject, { nullable: true, description: 'Validated against the latest `configurationSchema`' })
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

  @Field(() => ID, { nullable: true, description: "One user's templates, within the scope" })
  ownerId?: string | null;

  @Field(() => TemplateActiveState, { defaultValue: TemplateActiveState.ACTIVE })
  activeState?: TemplateActiveState;

  @Field(() => Boolean, {
    nullable: true,
    description:
      'true: only templates whose configuration is at an older schema version than the latest (candidates for `upgradeTemplateSchema`); false: only those at the latest',
  })
  configurationSchemaBehind?: boolean | null;
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
export class UpgradeTemplateSchemaArgs extends TemplateIdArgs {
  @Field(() => Int, { nullable: true, description: 'The version the change was made on: CONFLICT when the template has moved on' })
  expectedVersion?: number | null;

  @Field(() => String, { nullable: true, description: 'Default: "Upgraded to configuration schema version <n>"' })
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
export class TransferTemplateArgs extends TemplateIdArgs {
  @Field(() => ID, { description: 'The new owner: an existing user (NOT_FOUND at `/toUserId` otherwise)' })
  toUserId!: string;
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

@ArgsType()
export class ShareTemplateWithTeamsArgs extends TemplateIdArgs {
  @Field(() => [ID], { description: 'At most 100 teams' })
  teamIds!: string[];
}

@ArgsType()
export class TemplateUsageArgs {
  @Field(() => String, { description: 'The first UTC day counted, as YYYY-MM-DD' })
  from!: string;

  @Field(() => String, { description: `The last UTC day counted, as YYYY-MM-DD: from \`from\` on, at most ${USAGE_MAX_DAYS} days in all` })
  to!: string;

  @Field(() => UsageBucket, { defaultValue: UsageBucket.DAY })
  bucket!: UsageBucket;
}
