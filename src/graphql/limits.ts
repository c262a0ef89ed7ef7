import type { ApolloServerPlugin, BaseContext, GraphQLRequestListener } from '@apollo/server';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { getNullableType, isListType, Kind, visit, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { getComplexity, simpleEstimator, type ComplexityEstimator } from 'graphql-query-complexity';
import { LruCache } from '../cache/lru-cache';
import { DEFAULT_PAGE_SIZE } from '../db/keyset';
import { QUERY_TOO_COMPLEX, requestError } from './errors';

/** Every bound a query must stay within, checked before anything runs. */
export const QUERY_LIMITS = {
  maxDepth: 10,
  maxAliases: 15,
  maxTokens: 2_000,
  maxDirectives: 20,
  /** Cost: every field 1, a paged list field its page size times the cost of one item. */
  maxCost: 25_000,
  /** The weight of a list without a page size (a template's shares or versions). */
  unpagedListWeight: 10,
} as const;

export const QUERY_LIMIT_NAMES = ['depth', 'aliases', 'tokens', 'directives', 'cost'] as const;
export type QueryLimitName = (typeof QUERY_LIMIT_NAMES)[number];

/**
 * Depth, aliases and directives from graphql-armor; tokens from the parser; cost from graphql-query-complexity, because armor's cost
 * does not know that `first: 100` asks for a hundred items. Introspection is exempt from the depth and cost limits
 * (Sandbox's query is deep, and prices at about 50,000 as if its lists were pages of data, while what it reads is the
 * schema, the same size whoever asks) and is off altogether in production. `onRejected` hears of every query a limit refuses.
 */
export function queryLimits(schema: GraphQLSchema, onRejected: (limit: QueryLimitName) => void) {
  const reporting = (limit: QueryLimitName) => ({ onReject: [() => onRejected(limit)] });
  const armor = new ApolloArmor({
    maxDepth: { n: QUERY_LIMITS.maxDepth, ignoreIntrospection: true, ...reporting('depth') },
    maxAliases: { n: QUERY_LIMITS.maxAliases, ...reporting('aliases') },
    // Tokens are bounded by graphql-js's own parser option instead: armor's Apollo hook answers a rejection with a 500.
    maxTokens: { enabled: false },
    maxDirectives: { n: QUERY_LIMITS.maxDirectives, ...reporting('directives') },
    costLimit: { enabled: false },
    // Suggestions are taken out of every message by the error formatter instead: armor's misses enum values.
    blockFieldSuggestion: { enabled: false },
  }).protect();
  return {
    parseOptions: { maxTokens: QUERY_LIMITS.maxTokens },
    validationRules: armor.validationRules,
    plugins: [...armor.plugins, tokenLimitReportPlugin(() => onRejected('tokens')), costLimitPlugin(schema, () => onRejected('cost'))],
  };
}

/** graphql-js's words when `maxTokens` stops the parser ("more that" in graphql 16, "more than" in 17). */
const TOKEN_LIMIT_MESSAGE = /^Syntax Error: Document contains more tha[nt] \d+ tokens/;

/** The parser's refusal is a syntax error like any other: told apart by its message, the only thing that says so. */
function tokenLimitReportPlugin(onRejected: () => void): ApolloServerPlugin {
  const parsingDidEnd = async (error?: Error) => {
    if (error && TOKEN_LIMIT_MESSAGE.test(error.message)) onRejected();
  };
  // One listener for every request: it keeps nothing of its own.
  const listener: GraphQLRequestListener<BaseContext> = { parsingDidStart: async () => parsingDidEnd };
  return { requestDidStart: async () => listener };
}

/** The one argument whose value changes what a field costs. */
const PAGE_SIZE_ARGUMENT = 'first';

const pageSizeEstimator: ComplexityEstimator = ({ type, args, field, childComplexity }) => {
  // A connection's edges are the page its field already paid for, `first` times: counting them again as an unpaged
  // list would price a page of 100 templates with their owners ten times over.
  if (field.name === 'edges' && type.name.endsWith('Connection')) return 1 + childComplexity;
  const itemCost = Math.max(childComplexity, 1);
  const pageSize = args[PAGE_SIZE_ARGUMENT] as unknown;
  if (typeof pageSize === 'number') return 1 + pageSize * itemCost;
  if (field.args.some((arg) => arg.name === PAGE_SIZE_ARGUMENT)) return 1 + DEFAULT_PAGE_SIZE * itemCost;
  if (isListType(getNullableType(field.type))) return 1 + QUERY_LIMITS.unpagedListWeight * itemCost;
  return undefined;
};

/** The cost of an operation under `QUERY_LIMITS`; throws when its variables do not fit their types. */
export function queryCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  variables: Record<string, unknown> = {},
  operationName?: string,
): number {
  return getComplexity({
    schema,
    query: document,
    operationName,
    variables,
    estimators: [pageSizeEstimator, simpleEstimator({ defaultComplexity: 1 })],
  });
}

/** The variables an operation's cost depends on: page sizes, and the conditions of `@include` / `@skip`. */
function costVariablesOf(document: DocumentNode): string[] {
  const names = new Set<string>();
  visit(document, {
    Argument(argument) {
      if (argument.name.value === PAGE_SIZE_ARGUMENT && argument.value.kind === Kind.VARIABLE) names.add(argument.value.name.value);
    },
    Directive(directive) {
      visit(directive, { Variable: (variable) => void names.add(variable.name.value) });
    },
  });
  return [...names];
}

/** Room for every page size and condition one query text is sent with. */
const MAX_COSTS_PER_DOCUMENT = 64;

/**
 * Costs are remembered per parsed document: Apollo hands the same DocumentNode to every request with the same query
 * text while its document cache holds it, and a WeakMap forgets the costs with the document. Within a document, a cost
 * is keyed by the operation and the values of the variables it depends on, never by the whole (possibly large) input.
 */
function costLimitPlugin(schema: GraphQLSchema, onRejected: () => void): ApolloServerPlugin {
  const costsByDocument = new WeakMap<DocumentNode, { costVariables: string[]; costs: LruCache<string, number> }>();

  function costOf(document: DocumentNode, variables: Record<string, unknown>, operationName: string | undefined): number | undefined {
    let known = costsByDocument.get(document);
    if (!known) {
      known = { costVariables: costVariablesOf(document), costs: new LruCache(MAX_COSTS_PER_DOCUMENT) };
      costsByDocument.set(document, known);
    }
    const sent = known.costVariables.filter((name) => Object.hasOwn(variables, name)).map((name) => [name, variables[name]]);
    // Page sizes and conditions are scalars; anything else (an object, an array nested 100,000 deep) fails coercion
    // anyway, and must not reach JSON.stringify as a key.
    if (!sent.every(([, value]) => isScalar(value))) return uncachedCost(document, variables, operationName);
    const key = JSON.stringify([operationName ?? null, sent]);
    let cost = known.costs.get(key);
    if (cost === undefined) {
      cost = uncachedCost(document, variables, operationName);
      if (cost !== undefined) known.costs.set(key, cost);
    }
    return cost;
  }

  function uncachedCost(document: DocumentNode, variables: Record<string, unknown>, operationName: string | undefined): number | undefined {
    try {
      return queryCost(schema, document, variables, operationName);
    } catch {
      // Variables that do not fit their types: execution refuses them with BAD_USER_INPUT, before any resolver.
      return undefined;
    }
  }

  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, operation }) {
          if (isIntrospectionOnly(operation)) return;
          const cost = costOf(document, request.variables ?? {}, request.operationName ?? undefined);
          if (cost !== undefined && cost > QUERY_LIMITS.maxCost) {
            onRejected();
            throw requestError(QUERY_TOO_COMPLEX, `Query cost ${cost} exceeds the limit of ${QUERY_LIMITS.maxCost}`, {
              cost,
              maxCost: QUERY_LIMITS.maxCost,
              http: { status: 400 },
            });
          }
        },
      };
    },
  };
}

function isScalar(value: unknown): boolean {
  return value === null || value === undefined || ['number', 'boolean', 'string'].includes(typeof value);
}

/** An operation that asks for nothing but the schema: every field at its root is an introspection field. */
function isIntrospectionOnly(operation: OperationDefinitionNode | undefined): boolean {
  return (
    operation !== undefined &&
    operation.selectionSet.selections.every((selection) => selection.kind === Kind.FIELD && selection.name.value.startsWith('__'))
  );
}
