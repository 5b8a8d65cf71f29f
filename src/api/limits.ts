// Depth and cost limits: analysts write ad-hoc queries, and a nested connection can fan out to
// millions of rows. The cost of a list field is its page size times the cost of its selection.
import type { ApolloServerPlugin } from "@apollo/server";
import { type DocumentNode, type FragmentDefinitionNode, type GraphQLSchema, Kind, type SelectionSetNode } from "graphql";
import { getComplexity, simpleEstimator, type ComplexityEstimator } from "graphql-query-complexity";
import { apiError } from "./errors.ts";

export interface QueryLimits {
  maxDepth: number;
  maxCost: number;
}

export const DEFAULT_LIMITS: QueryLimits = { maxDepth: 10, maxCost: 5000 };

/** Depth of the deepest field path; fragments are followed, introspection fields count too. */
export function queryDepth(document: DocumentNode, operationName?: string | null): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const depthOf = (set: SelectionSetNode | undefined, seen: Set<string>): number => {
    if (!set) return 0;
    let max = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) max = Math.max(max, sel.selectionSet ? 1 + depthOf(sel.selectionSet, seen) : 1);
      else if (sel.kind === Kind.INLINE_FRAGMENT) max = Math.max(max, depthOf(sel.selectionSet, seen));
      else if (!seen.has(sel.name.value)) {
        const frag = fragments.get(sel.name.value);
        if (frag) max = Math.max(max, depthOf(frag.selectionSet, new Set(seen).add(sel.name.value)));
      }
    }
    return max;
  };
  let depth = 0;
  for (const def of document.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION) continue;
    if (operationName && def.name?.value !== operationName) continue;
    depth = Math.max(depth, depthOf(def.selectionSet, new Set()));
  }
  return depth;
}

/** List fields cost their page size (`first`, default 20) times their children. */
const pagedEstimator: ComplexityEstimator = ({ args, childComplexity, field }) => {
  const type = String(field.type);
  const isList = type.includes("[") || type.endsWith("Connection!") || type.endsWith("Connection");
  if (!isList) return undefined;
  const first = typeof args.first === "number" ? args.first : 20;
  return 1 + Math.max(1, first) * Math.max(1, childComplexity);
};

export function limitsPlugin(schema: GraphQLSchema, limits: QueryLimits): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document }) {
          const depth = queryDepth(document, request.operationName);
          if (depth > limits.maxDepth) {
            throw apiError("QUERY_TOO_DEEP", `query depth ${depth} exceeds the limit of ${limits.maxDepth}`, { depth, limit: limits.maxDepth });
          }
          const cost = getComplexity({
            schema,
            query: document,
            operationName: request.operationName ?? undefined,
            variables: request.variables ?? {},
            estimators: [pagedEstimator, simpleEstimator({ defaultComplexity: 1 })],
          });
          if (cost > limits.maxCost) {
            throw apiError("QUERY_TOO_COMPLEX", `query cost ${cost} exceeds the limit of ${limits.maxCost}`, { cost, limit: limits.maxCost });
          }
        },
      };
    },
  };
}
