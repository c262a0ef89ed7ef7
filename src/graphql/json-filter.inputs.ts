import { GraphQLJSON } from 'graphql-scalars';
import { GraphQLJSONObject } from './json-object.scalar';
import { Field, InputType } from 'type-graphql';
import { JSON_FILTER_MAX_IN, JSON_FILTER_MAX_PATHS, type JsonFilter, type JsonPathCondition } from '../db/json-filter';

@InputType({
  description:
    'A condition on the value at a JSON pointer (RFC 6901, e.g. "/model/type", "/features/0/name"): exactly one of equals, in, exists',
})
export class JsonPathConditionInput implements JsonPathCondition {
  @Field(() => String, { description: 'A JSON pointer: "/" before each key or array index, "~1" for "/" and "~0" for "~" inside one' })
  path!: string;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The value there equals this JSON value (null: a JSON null)' })
  equals?: unknown;

  @Field(() => [GraphQLJSON], { nullable: true, description: `The value there equals one of these (1 to ${JSON_FILTER_MAX_IN})` })
  in?: unknown[] | null;

  @Field(() => Boolean, { nullable: true, description: 'true: the pointer leads to a value (JSON null included); false: to nothing' })
  exists?: boolean | null;
}

@InputType({ description: 'Conditions on what a JSON document holds, combined with AND' })
export class JsonFilterInput implements JsonFilter {
  @Field(() => GraphQLJSONObject, {
    nullable: true,
    description: 'The document contains this JSON (PostgreSQL `@>`): every key given, with that value',
  })
  contains?: Record<string, unknown> | null;

  @Field(() => [JsonPathConditionInput], {
    nullable: true,
    description: `At most ${JSON_FILTER_MAX_PATHS} conditions, all of which must hold`,
  })
  paths?: JsonPathConditionInput[] | null;
}
