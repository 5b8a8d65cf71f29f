// The HTTP Cache-Control header of a GraphQL answer, from the schema's @cacheControl hints. Apollo's
// cache-control plugin works it out while the answer is built, with a hook on every resolved field
// (each scalar of each list item): a quarter of the API's CPU for a fact's knowledge neurons and
// for a relation's list of language-independent neurons (README, "Benchmark: 100 million rows").
// The hints here are static (no resolver sets one), so the policy follows from the operation's
// text and is worked out once per parsed document, with Apollo's rules:
//   - a field's maxAge is its own hint's, else its type's (object, interface or union types);
//   - a root field, or a field of an object, interface or union type, without either is
//     uncacheable (maxAge 0), unless it says inheritMaxAge; a scalar field below the root adds nothing;
//     a field's scope is its own hint's, else its type's;
//   - the answer's maxAge is the least over its fields, its scope PRIVATE if any field's is;
//   - a cacheable answer without errors gets `max-age=N, public|private`, anything else `no-store`.
// Where Apollo looks at the values it resolved, this counts every selected field: fields under a
// null, an empty list or a skipped fragment count too, so an answer is at most as cacheable as
// Apollo would make it (a fact that does not exist, asked with its runs, is not cached).
import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import {
  type DocumentNode, type FragmentDefinitionNode, type GraphQLCompositeType, type GraphQLField, type GraphQLNamedType, type GraphQLSchema,
  type OperationDefinitionNode, type SelectionSetNode, Kind, getDirectiveValues, getNamedType, isCompositeType, isUnionType,
} from "graphql";

interface Hint {
  maxAge?: number;
  scope?: "PUBLIC" | "PRIVATE";
  inheritMaxAge?: boolean;
}

export interface CachePolicy {
  /** Undefined: nothing set one (introspection alone), which is not cacheable either. */
  maxAge?: number;
  scope: "PUBLIC" | "PRIVATE";
}

/** The Cache-Control value for an answer under `policy` (errors make any answer uncacheable). */
export function cacheControlHeader(policy: CachePolicy | undefined, hasErrors: boolean): string {
  return policy?.maxAge && !hasErrors ? `max-age=${policy.maxAge}, ${policy.scope.toLowerCase()}` : "no-store";
}

/** The cache policy of one operation of a validated document. */
export function cachePolicyOf(schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode): CachePolicy {
  const directive = schema.getDirective("cacheControl");
  const hintOf = (node: GraphQLNamedType | GraphQLField<unknown, unknown>): Hint => (directive && node.astNode ? ((getDirectiveValues(directive, node.astNode) as Hint | undefined) ?? {}) : {});
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const policy: CachePolicy = { scope: "PUBLIC" };
  const restrict = (hint: Hint) => {
    if (hint.maxAge !== undefined) policy.maxAge = policy.maxAge === undefined ? hint.maxAge : Math.min(policy.maxAge, hint.maxAge);
    if (hint.scope === "PRIVATE") policy.scope = "PRIVATE";
  };
  const walk = (type: GraphQLCompositeType, set: SelectionSetNode, root: boolean, seen: ReadonlySet<string>) => {
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        // __typename, __schema, __type: meta fields, which Apollo's plugin never sees either
        if (sel.name.value.startsWith("__") || isUnionType(type)) continue;
        const field = type.getFields()[sel.name.value];
        if (!field) continue;
        const target = getNamedType(field.type);
        const typeHint = isCompositeType(target) ? hintOf(target) : {};
        const fieldHint = hintOf(field);
        const hint: Hint = { maxAge: typeHint.maxAge, scope: typeHint.scope };
        let inherits = !!typeHint.inheritMaxAge;
        if (fieldHint.inheritMaxAge && hint.maxAge === undefined) inherits = true;
        else hint.maxAge = fieldHint.maxAge ?? hint.maxAge;
        hint.scope = fieldHint.scope ?? hint.scope;
        if (hint.maxAge === undefined && ((isCompositeType(target) && !inherits) || root)) hint.maxAge = 0;
        restrict(hint);
        if (sel.selectionSet && isCompositeType(target)) walk(target, sel.selectionSet, false, seen);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        const on = sel.typeCondition ? schema.getType(sel.typeCondition.name.value) : type;
        if (on && isCompositeType(on)) walk(on, sel.selectionSet, root, seen);
      } else if (!seen.has(sel.name.value)) {
        const fragment = fragments.get(sel.name.value);
        const on = fragment && schema.getType(fragment.typeCondition.name.value);
        if (fragment && on && isCompositeType(on)) walk(on, fragment.selectionSet, root, new Set(seen).add(sel.name.value));
      }
    }
  };
  const rootType = schema.getRootType(operation.operation);
  if (rootType) walk(rootType, operation.selectionSet, true, new Set());
  return policy;
}

/**
 * Sets each answer's Cache-Control from cachePolicyOf, worked out once per parsed document and
 * operation. Use with Apollo's own plugin disabled (ApolloServerPluginCacheControlDisabled).
 */
export function cachePolicyPlugin<C extends BaseContext>(schema: GraphQLSchema): ApolloServerPlugin<C> {
  const known = new WeakMap<OperationDefinitionNode, CachePolicy>();
  return {
    async requestDidStart() {
      return {
        async willSendResponse({ document, operation, response }) {
          let policy: CachePolicy | undefined;
          if (document && operation) {
            policy = known.get(operation);
            if (!policy) known.set(operation, (policy = cachePolicyOf(schema, document, operation)));
          }
          const hasErrors = response.body.kind !== "single" || !!response.body.singleResult.errors?.length;
          response.http.headers.set("cache-control", cacheControlHeader(policy, hasErrors));
        },
      };
    },
  };
}
