import { GraphQLError, type ASTVisitor, type ValidationContext } from 'graphql';

/**
 * An operation of a type the schema does not have (ours has no subscriptions) is invalid. graphql-js 16 does not check
 * it and fails the operation during execution, where it reads as a server fault; this is the rule graphql-js 17 adds
 * (`KnownOperationTypesRule`), with its wording.
 */
export function KnownOperationTypesRule(context: ValidationContext): ASTVisitor {
  const schema = context.getSchema();
  return {
    OperationDefinition(node) {
      if (!schema.getRootType(node.operation)) {
        context.reportError(new GraphQLError(`The ${node.operation} operation is not supported by the schema.`, { nodes: node }));
      }
    },
  };
}
