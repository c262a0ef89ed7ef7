import { GraphQLJSON } from 'graphql-scalars';
import { Field, ObjectType } from 'type-graphql';

/** One RFC 6902 operation, as `fast-json-patch` produces it; a client can apply a list of them as is. */
@ObjectType({ description: 'One JSON Patch (RFC 6902) operation', simpleResolvers: true })
export class PatchOperation {
  @Field(() => String, { description: 'add, remove, replace, move, copy or test' })
  op!: string;

  @Field(() => String, { description: 'JSON pointer to the changed place' })
  path!: string;

  @Field(() => String, { nullable: true, description: 'Source pointer of move and copy' })
  from?: string;

  @Field(() => GraphQLJSON, { nullable: true, description: 'The new value of add, replace and test' })
  value?: unknown;
}
