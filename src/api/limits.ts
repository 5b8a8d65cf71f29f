// Depth, cost and input-size limits: analysts write ad-hoc queries, and a nested connection can fan
// out to millions of rows. The cost of a list field is its page size times the cost of its
// selection. Everything here is decided from the document and the variables before any resolver
// runs, so a refused operation reads and changes nothing. What depends on the document alone is
// worked out once per parsed document (Apollo parses and validates each query string once), the
// cost once per document and shape of the variables (costShape).
import type { ApolloServerPlugin, BaseContext } from "@apollo/server";
import {
  type DocumentNode, type FieldNode, type FragmentDefinitionNode, type GraphQLField, type GraphQLSchema, Kind, type OperationDefinitionNode, type SelectionSetNode,
  type TypeNode, visit,
} from "graphql";
import { getComplexity, simpleEstimator, type ComplexityEstimator } from "graphql-query-complexity";
import { requestError } from "./errors.ts";

export interface QueryLimits {
  maxDepth: number;
  /** Cost limit of one HTTP request: the operations of a batch share it. */
  maxCost: number;
  /** Longest string argument or variable, in UTF-16 code units. */
  maxStringLength: number;
}

export const DEFAULT_LIMITS: QueryLimits = { maxDepth: 10, maxCost: 5000, maxStringLength: 10_000 };

type Fragments = Map<string, FragmentDefinitionNode>;

function fragmentsOf(document: DocumentNode): Fragments {
  const fragments: Fragments = new Map();
  for (const def of document.definitions) if (def.kind === Kind.FRAGMENT_DEFINITION) fragments.set(def.name.value, def);
  return fragments;
}

/**
 * The deepest value of `measure` along any field path of the operation(s), fragments followed
 * (each at most once per path, so fragment cycles end). `step(field, inIntrospection)` says how
 * much a field adds to the path.
 */
function deepestPath(document: DocumentNode, operationName: string | null | undefined, step: (field: FieldNode, introspection: boolean) => number): number {
  const fragments = fragmentsOf(document);
  const walk = (set: SelectionSetNode | undefined, seen: Set<string>, introspection: boolean): number => {
    if (!set) return 0;
    let max = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        const inside = introspection || sel.name.value === "__schema" || sel.name.value === "__type";
        max = Math.max(max, step(sel, inside) + walk(sel.selectionSet, seen, inside));
      } else if (sel.kind === Kind.INLINE_FRAGMENT) max = Math.max(max, walk(sel.selectionSet, seen, introspection));
      else if (!seen.has(sel.name.value)) {
        const frag = fragments.get(sel.name.value);
        if (frag) max = Math.max(max, walk(frag.selectionSet, new Set(seen).add(sel.name.value), introspection));
      }
    }
    return max;
  };
  let deepest = 0;
  for (const def of document.definitions) {
    if (def.kind !== Kind.OPERATION_DEFINITION) continue;
    if (operationName && def.name?.value !== operationName) continue;
    deepest = Math.max(deepest, walk(def.selectionSet, new Set(), false));
  }
  return deepest;
}

/**
 * Depth of the deepest field path; fragments are followed, introspection fields count too, except
 * `ofType`: a type is wrapped in at most a few List/NonNull layers and ofType never fans out, so
 * the standard introspection query's ofType chain does not make it "deep".
 */
export function queryDepth(document: DocumentNode, operationName?: string | null): number {
  return deepestPath(document, operationName, (field, introspection) => (introspection && field.name.value === "ofType" ? 0 : 1));
}

/** Introspection fields that return lists (of types, fields, arguments...). */
const INTROSPECTION_LISTS = new Set(["types", "fields", "args", "inputFields", "enumValues", "interfaces", "possibleTypes", "directives"]);
/**
 * How many introspection lists may nest on one path: the standard introspection query needs 3
 * (types → fields → args); a 4th level (types → fields → type → fields → ...) multiplies the
 * answer by the schema's size once more and has no use but to make the server work.
 */
export const MAX_INTROSPECTION_LIST_NESTING = 3;

export function introspectionListNesting(document: DocumentNode, operationName?: string | null): number {
  return deepestPath(document, operationName, (field, introspection) => (introspection && field.selectionSet && INTROSPECTION_LISTS.has(field.name.value) ? 1 : 0));
}

/** Assumed length of a list that is not paged (labels, templates): one per language, roughly. */
const UNPAGED_LIST_SIZE = 10;

/** A list of per-language entries (its items have a `language`) asked for given `languages`: that many. */
function perLanguage(field: GraphQLField<unknown, unknown>, args: Record<string, unknown>): number | undefined {
  if (!Array.isArray(args.languages)) return undefined;
  // unwrapped by hand, not with graphql's helpers: the complexity library may hand over types of
  // another copy of graphql (its CommonJS build), which graphql's instanceof checks refuse
  let item: unknown = field.type;
  while (item && typeof item === "object" && "ofType" in item) item = (item as { ofType: unknown }).ofType;
  const fields = (item as { getFields?: () => Record<string, unknown> }).getFields?.();
  return fields?.language ? Math.max(1, args.languages.length) : undefined;
}

/**
 * Paged fields (with a `first` argument) cost 1 + first × their selection; `edges` inherit the
 * page size from their connection; a list of per-language entries restricted by a `languages`
 * argument costs 1 + (number of languages) × its selection, other lists 1 + UNPAGED_LIST_SIZE × their selection.
 * Introspection fields cost 1 each (see MAX_INTROSPECTION_LIST_NESTING).
 */
const listEstimator: ComplexityEstimator = ({ args, childComplexity, field, type }) => {
  const child = Math.max(1, childComplexity);
  // introspection answers are bounded by the schema and by MAX_INTROSPECTION_LIST_NESTING: count fields, not guessed list lengths
  if (field.name.startsWith("__") || type.name.startsWith("__")) return 1 + childComplexity;
  if (field.args.some((a) => a.name === "first")) return 1 + (typeof args.first === "number" ? Math.max(1, args.first) : 20) * child;
  if (!String(field.type).includes("[")) return undefined;
  const size = field.name === "edges" ? 1 : perLanguage(field, args) ?? UNPAGED_LIST_SIZE;
  return 1 + size * child;
};

export function queryCost(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown>): number {
  return getComplexity({
    schema,
    query: document,
    operationName: operationName ?? undefined,
    variables,
    estimators: [listEstimator, simpleEstimator({ defaultComplexity: 1 })],
  });
}

// A lone UTF-16 surrogate cannot be stored as UTF-8 text, nor can U+0000 in PostgreSQL.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** The first problem of a string argument or variable, or null. */
export function stringProblem(document: DocumentNode, variables: unknown, maxLength: number, checkDocument = true): string | null {
  const check = (s: string, where: string): string | null => {
    if (s.length > maxLength) return `${where} is ${s.length} characters long; the limit is ${maxLength}`;
    if (UNSTORABLE.test(s)) return `${where} contains a NUL character or an unpaired UTF-16 surrogate`;
    return null;
  };
  let problem: string | null = null;
  if (checkDocument) {
    visit(document, {
      StringValue(node) {
        problem ??= check(node.value, "a string argument");
      },
    });
  }
  const walk = (value: unknown, path: string): void => {
    if (problem) return;
    if (typeof value === "string") problem = check(value, `variable ${path}`);
    else if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`));
    else if (value && typeof value === "object") for (const [k, v] of Object.entries(value)) walk(v, `${path}.${k}`);
  };
  if (variables && typeof variables === "object") for (const [k, v] of Object.entries(variables)) walk(v, `$${k}`);
  return problem;
}

/** Per operation of a document: which variables' values cannot change the cost (costShape). */
interface VariableRoles {
  /** String and ID variables. */
  strings: Set<string>;
  /** Int and Float variables that no `first` argument reads. */
  numbers: Map<string, "Int" | "Float">;
}

function variableRoles(document: DocumentNode, operationName: string | null | undefined): VariableRoles {
  const op = document.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (!operationName || d.name?.value === operationName));
  const pageSizes = new Set<string>();
  visit(document, {
    Argument(node) {
      if (node.name.value !== "first") return;
      visit(node.value, {
        Variable(v) {
          pageSizes.add(v.name.value);
        },
      });
    },
  });
  const roles: VariableRoles = { strings: new Set(), numbers: new Map() };
  for (const v of op?.variableDefinitions ?? []) {
    let type: TypeNode = v.type;
    while (type.kind !== Kind.NAMED_TYPE) type = type.type;
    const name = v.variable.name.value;
    if (type.name.value === "String" || type.name.value === "ID") roles.strings.add(name);
    else if ((type.name.value === "Int" || type.name.value === "Float") && !pageSizes.has(name)) roles.numbers.set(name, type.name.value);
  }
  return roles;
}

const INT_MAX = 2 ** 31 - 1;

/**
 * The variable values the cost can depend on. The estimators read page sizes (`first`), list
 * lengths and @skip/@include; so a String or ID variable's value never changes the cost nor
 * whether the variables fit their types (any string is a String and an ID), and neither does an
 * Int or Float variable that no `first` reads, as long as it fits its type: those are blanked
 * (a number that does not fit is kept, so its refusal is computed for it). Requests that differ
 * only in such values (another fact, model, cursor, layer or unit) share one cost computation.
 */
function costShape(roles: VariableRoles, variables: Record<string, unknown>): string {
  const blankString = (value: unknown): unknown => (typeof value === "string" ? "" : Array.isArray(value) ? value.map(blankString) : value);
  const blankNumber = (value: unknown, type: "Int" | "Float"): unknown => {
    if (Array.isArray(value)) return value.map((x) => blankNumber(x, type));
    const fits = typeof value === "number" && (type === "Int" ? Number.isInteger(value) && Math.abs(value) <= INT_MAX : Number.isFinite(value));
    return fits ? 0 : value;
  };
  return JSON.stringify(
    Object.entries(variables).map(([k, v]) => {
      const number = roles.numbers.get(k);
      return [k, roles.strings.has(k) ? blankString(v) : number ? blankNumber(v, number) : v];
    }),
  );
}

/** Per parsed document (Apollo keeps one object per query string): what does not depend on the variables, and costs by shape. */
interface DocumentFacts {
  roles: Map<string, VariableRoles>;
  depth: Map<string, number>;
  nesting: Map<string, number>;
  /** The document's own strings: a problem, null for none, undefined until checked. */
  stringProblem: string | null | undefined;
  costs: Map<string, number>;
}
const MAX_COST_SHAPES = 64;
const documentFacts = new WeakMap<DocumentNode, DocumentFacts>();

function factsOf(document: DocumentNode): DocumentFacts {
  let facts = documentFacts.get(document);
  if (!facts) documentFacts.set(document, (facts = { roles: new Map(), depth: new Map(), nesting: new Map(), stringProblem: undefined, costs: new Map() }));
  return facts;
}

function memo<T>(cache: Map<string, T>, key: string, compute: () => T, max = Number.POSITIVE_INFINITY): T {
  if (cache.has(key)) return cache.get(key)!;
  const value = compute();
  if (cache.size >= max) cache.clear();
  cache.set(key, value);
  return value;
}

/** What the plugin needs from the context: the cost already spent by earlier operations of a batch. */
export interface CostLedger {
  costSpent: number;
}

export function limitsPlugin<C extends BaseContext & { request: CostLedger }>(schema: GraphQLSchema, limits: QueryLimits): ApolloServerPlugin<C> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, contextValue }) {
          const facts = factsOf(document);
          const op = request.operationName ?? "";
          const depth = memo(facts.depth, op, () => queryDepth(document, request.operationName));
          if (depth > limits.maxDepth) {
            throw requestError("QUERY_TOO_DEEP", `query depth ${depth} exceeds the limit of ${limits.maxDepth}`, { depth, limit: limits.maxDepth });
          }
          const nesting = memo(facts.nesting, op, () => introspectionListNesting(document, request.operationName));
          if (nesting > MAX_INTROSPECTION_LIST_NESTING) {
            throw requestError("QUERY_TOO_DEEP", `introspection nests ${nesting} lists; the limit is ${MAX_INTROSPECTION_LIST_NESTING}`, { depth: nesting, limit: MAX_INTROSPECTION_LIST_NESTING });
          }
          let cost: number;
          try {
            const variables = request.variables ?? {};
            // only successful computations are kept: a refusal is computed (and thrown) every time
            const roles = memo(facts.roles, op, () => variableRoles(document, request.operationName));
            cost = memo(facts.costs, `${op}\0${costShape(roles, variables)}`, () => queryCost(schema, document, request.operationName, variables), MAX_COST_SHAPES);
          } catch (error) {
            // the variables do not fit their declared types (missing, wrong type, out of range):
            // what execution would refuse as BAD_USER_INPUT, refused here first (by name: the
            // complexity library loads graphql's CommonJS build, whose GraphQLError is another class)
            if (error instanceof Error && error.name === "GraphQLError") throw requestError("BAD_USER_INPUT", error.message);
            throw error;
          }
          const spent = contextValue.request.costSpent + cost;
          if (spent > limits.maxCost) {
            const batch = spent !== cost ? ` (with the batch's earlier operations: ${spent})` : "";
            throw requestError("QUERY_TOO_COMPLEX", `query cost ${cost}${batch} exceeds the limit of ${limits.maxCost}`, { cost, limit: limits.maxCost });
          }
          contextValue.request.costSpent = spent;
          // null (no problem) is kept too: the document's strings are checked once
          if (facts.stringProblem === undefined) facts.stringProblem = stringProblem(document, {}, limits.maxStringLength);
          const problem = facts.stringProblem ?? stringProblem(document, request.variables, limits.maxStringLength, false);
          if (problem) throw requestError("BAD_USER_INPUT", problem);
        },
      };
    },
  };
}
