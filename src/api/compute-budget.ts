// Budgets for compute-heavy fields (model passes, attributions): each API key, and each client
// address for anonymous requests, gets `limit` compute units per window as a token bucket that
// refills continuously. Units are counted per executed field, not per request: two aliases of
// `predict` in one query cost two units, so aliases and batches cannot multiply the work a budget
// allows. The operation is refused whole (RATE_LIMITED, HTTP 429, Retry-After) before any resolver
// runs when the budget cannot cover all of its fields, so nothing is half-done.
//
// The buckets live in PostgreSQL, so API replicas behind a load balancer share them: a client has
// one budget whichever replica answers (README "Deployment").
import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import {
  type DocumentNode, type FragmentDefinitionNode, GraphQLIncludeDirective, GraphQLSkipDirective, Kind, type OperationDefinitionNode,
  type SelectionSetNode, getDirectiveValues,
} from "graphql";
import type { Pool } from "pg";
import { type BudgetAnswer, pruneComputeBudgets, takeComputeUnits } from "../store/compute-budgets.ts";
import type { Principal } from "./auth.ts";
import { requestError } from "./errors.ts";

/** Compute units of each root field that runs a model; every other field costs nothing here. */
export const COMPUTE_UNITS: Readonly<Record<string, number>> = {
  "Query.predict": 1,
  "Query.checkFact": 5,
  "Query.attributionGrid": 5,
  "Mutation.recordFactCheck": 5,
  "Mutation.applyEdit": 5,
  "Mutation.revertEdit": 1,
  "Mutation.evaluateFactChecking": 50,
};

export interface ComputeBudgets {
  /** Units per window for each API key (0: unlimited). */
  perKey: number;
  /** Units per window for each client address without a key (0: unlimited). */
  anonymous: number;
  windowSeconds: number;
}

export const DEFAULT_BUDGETS: ComputeBudgets = { perKey: 600, anonymous: 120, windowSeconds: 60 };

function selectedOperation(document: DocumentNode, operationName?: string | null): OperationDefinitionNode | undefined {
  const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  return operationName ? ops.find((o) => o.name?.value === operationName) : ops[0];
}

/**
 * Compute units the operation's root fields will cost, counted as the executor runs them: one
 * execution per response key (alias), fragments expanded, @skip/@include honoured.
 */
export function computeUnits(document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown>): number {
  const operation = selectedOperation(document, operationName);
  if (!operation) return 0;
  const rootType = operation.operation === "mutation" ? "Mutation" : operation.operation === "subscription" ? "Subscription" : "Query";
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  const included = (node: Parameters<typeof getDirectiveValues>[1]) =>
    getDirectiveValues(GraphQLSkipDirective, node, variables)?.if !== true && getDirectiveValues(GraphQLIncludeDirective, node, variables)?.if !== false;
  const keys = new Map<string, number>();
  const collect = (set: SelectionSetNode, seen: Set<string>) => {
    for (const sel of set.selections) {
      if (!included(sel)) continue;
      if (sel.kind === Kind.FIELD) {
        const units = COMPUTE_UNITS[`${rootType}.${sel.name.value}`];
        if (units) keys.set(sel.alias?.value ?? sel.name.value, units);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) collect(sel.selectionSet, seen);
      else if (!seen.has(sel.name.value)) {
        seen.add(sel.name.value);
        const frag = fragments.get(sel.name.value);
        if (frag) collect(frag.selectionSet, seen);
      }
    }
  };
  collect(operation.selectionSet, new Set());
  let total = 0;
  for (const units of keys.values()) total += units;
  return total;
}

/** Takes this often (per process) a prune of the buckets that have refilled completely. */
const PRUNE_EVERY = 1000;

/**
 * The token buckets, keyed by client identity, refilling `limit` units per window continuously.
 * They live in PostgreSQL (src/store/compute-budgets.ts), so every API replica on the database
 * draws on the same bucket.
 */
export class BudgetLedger {
  private takes = 0;

  constructor(
    private readonly pool: Pool,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** Takes `units` from the bucket; on refusal returns the seconds until they would be there. */
  async take(identity: string, units: number, limit: number, windowSeconds: number): Promise<BudgetAnswer> {
    const now = this.now();
    if (++this.takes % PRUNE_EVERY === 0) void pruneComputeBudgets(this.pool, { windowSeconds, now }).catch(() => undefined);
    return takeComputeUnits(this.pool, { identity, units, limit, windowSeconds, now });
  }
}

/** What the plugin needs from the context: who asks. */
export interface BudgetedContext extends BaseContext {
  principal: Principal | null;
  request: { clientAddress: string };
}

export function computeBudgetPlugin<C extends BudgetedContext>(budgets: ComputeBudgets, ledger: BudgetLedger): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, contextValue }) {
          const units = computeUnits(document, request.operationName, request.variables ?? {});
          if (!units) return;
          const principal = contextValue.principal;
          const limit = principal ? budgets.perKey : budgets.anonymous;
          if (!limit) return;
          const who = principal ? `API key ${JSON.stringify(principal.name)}` : `address ${contextValue.request.clientAddress}`;
          if (units > limit) {
            throw requestError("QUERY_TOO_COMPLEX", `this operation needs ${units} compute units; ${who} has ${limit} per ${budgets.windowSeconds} s`, { units, limit });
          }
          const identity = principal ? `key:${principal.name}` : `address:${contextValue.request.clientAddress}`;
          const taken = await ledger.take(identity, units, limit, budgets.windowSeconds);
          if (!taken.ok) {
            throw requestError(
              "RATE_LIMITED",
              `compute budget exhausted: ${who} may spend ${limit} compute units per ${budgets.windowSeconds} s (this operation needs ${units}); retry in ${taken.retryAfter} s`,
              { retryAfter: taken.retryAfter, units, limit, windowSeconds: budgets.windowSeconds },
              { "retry-after": String(taken.retryAfter) },
            );
          }
        },
      };
    },
  };
}
