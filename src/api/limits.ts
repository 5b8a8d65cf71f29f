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

/** Assumed length of a list that is not paged (labels, templates): one per language, roughly. */
const UNPAGED_LIST_SIZE = 10;

/**
 * Paged fields (with a `first` argument) cost 1 + first × their selection; `edges` inherit the
 * page size from their connection; other lists cost 1 + UNPAGED_LIST_SIZE × their selection.
 */
const listEstimator: ComplexityEstimator = ({ args, childComplexity, field }) => {
  const child = Math.max(1, childComplexity);
  if (field.args.some((a) => a.name === "first")) return 1 + (typeof args.first === "number" ? Math.max(1, args.first) : 20) * child;
  if (!String(field.type).includes("[")) return undefined;
  return 1 + (field.name === "edges" ? 1 : UNPAGED_LIST_SIZE) * child;
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
            estimators: [listEstimator, simpleEstimator({ defaultComplexity: 1 })],
          });
          if (cost > limits.maxCost) {
            throw apiError("QUERY_TOO_COMPLEX", `query cost ${cost} exceeds the limit of ${limits.maxCost}`, { cost, limit: limits.maxCost });
          }
        },
      };
    },
  };
}
