import { GraphQLError, GraphQLScalarType, valueFromASTUntyped, type ValueNode } from 'graphql';
import { GraphQLJSONObject as JSONObjectOfGraphqlScalars } from 'graphql-scalars';
import { ErrorCode, type FieldError } from '../errors/domain-error';
import { parseStorableJson } from '../validation/storable';

/**
 * graphql-scalars' `JSONObject`, but for what it answers to a value that is not an object: it prints the value into
 * its message, which overflows the stack for an array nested thousands of levels deep and echoes a long one whole.
 * Here the answer is BAD_USER_INPUT with JSON-pointer paths from the value's root, as configurations get: where the
 * value passes the nesting limit (or holds what PostgreSQL cannot store), else "must be a JSON object".
 */
export const GraphQLJSONObject: GraphQLScalarType<object, object> = new GraphQLScalarType({
  ...JSONObjectOfGraphqlScalars.toConfig(),
  parseValue(value) {
    if (isJsonObject(value)) return value;
    throw notAnObject(value);
  },
  parseLiteral(node, variables) {
    // A literal is only as deep as the query's token limit allows: reading it recursively is safe.
    const value = valueFromASTUntyped(node, variables);
    if (isJsonObject(value)) return value;
    throw notAnObject(value, node);
  },
});

function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function notAnObject(value: unknown, node?: ValueNode): GraphQLError {
  const validationErrors: FieldError[] = [];
  if (parseStorableJson(value, '', validationErrors) !== undefined) validationErrors.push({ path: '', message: 'must be a JSON object' });
  return new GraphQLError(`JSONObject ${validationErrors[0].message}`, {
    nodes: node,
    extensions: { code: ErrorCode.BadUserInput, validationErrors },
  });
}
