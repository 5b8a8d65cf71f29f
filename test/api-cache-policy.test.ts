// The Cache-Control of an answer worked out from the operation's text (src/api/cache-policy.ts)
// against Apollo's own cache-control plugin, which works it out field by field while resolving:
// over the real schema, with every field resolved to a value (lists of one item, no nulls), so that
// Apollo's plugin sees every selected field, the two must give the same header for thousands of
// generated operations.
import { ApolloServer } from "@apollo/server";
import { type GraphQLFieldResolver, type GraphQLOutputType, getNamedType, isEnumType, isListType, isNonNullType, isScalarType, parse, getOperationAST } from "graphql";
import { describe, expect, it } from "vitest";
import { cacheControlHeader, cachePolicyOf } from "../src/api/cache-policy.ts";
import { seededRandom } from "../src/analysis/random.ts";
import { OperationFuzzer, loadSchema } from "./helpers/schema-ops.ts";

const schema = loadSchema();

/** A value of every output type: scalars a placeholder, enums their first value, lists one item, objects an empty object. */
function valueOf(type: GraphQLOutputType): unknown {
  if (isNonNullType(type)) return valueOf(type.ofType);
  if (isListType(type)) return [valueOf(type.ofType)];
  const named = getNamedType(type);
  if (isEnumType(named)) return named.getValues()[0].value;
  if (isScalarType(named)) return ({ Int: 1, Float: 1.5, Boolean: true, ID: "1", String: "x" } as Record<string, unknown>)[named.name] ?? "2026-01-01T00:00:00.000Z";
  return {};
}
const everyFieldResolves: GraphQLFieldResolver<unknown, unknown> = (_source, _args, _context, info) => valueOf(info.returnType);

const apollo = new ApolloServer({ schema, fieldResolver: everyFieldResolves });
await apollo.start();

/** Apollo's header, and whether the answer has errors (an argument value the schema refuses, say). */
async function apolloAnswer(query: string): Promise<{ header: string | undefined; errors: boolean }> {
  const response = await apollo.executeOperation({ query });
  const errors = response.body.kind !== "single" || !!response.body.singleResult.errors?.length;
  return { header: response.http.headers.get("cache-control"), errors };
}
const apolloHeader = async (query: string) => (await apolloAnswer(query)).header;

function ourHeader(query: string, errors = false): string {
  const document = parse(query);
  return cacheControlHeader(cachePolicyOf(schema, document, getOperationAST(document)!), errors);
}

describe("Cache-Control from the operation's text", () => {
  it("matches Apollo's plugin on the schema's own cases: catalog types 60 s, anything with runs or neurons uncacheable, meta fields alone uncacheable", async () => {
    const cases: [string, string][] = [
      [`{ relation(id: "P17") { id label } }`, "max-age=60, public"],
      [`{ relations { id label } languages { code } }`, "max-age=60, public"],
      [`{ fact(id: "f") { id runs { id } } }`, "no-store"],
      [`{ facts(first: 2) { totalCount edges { node { id } } } }`, "max-age=60, public"],
      [`query Q { ...R } fragment R on Query { relation(id: "P17") { ... on Relation { id } } }`, "max-age=60, public"],
      [`{ __typename }`, "no-store"],
      [`{ health { ok } }`, "no-store"],
    ];
    for (const [query, header] of cases) {
      expect(ourHeader(query), query).toBe(header);
      expect(await apolloHeader(query), query).toBe(header);
    }
  });

  it("gives Apollo's header for 2 000 generated operations (queries and mutations, nested, aliased)", async () => {
    const fuzzer = new OperationFuzzer(schema, seededRandom("cache policy"), { strings: ["en", "P17"], ids: ["1"] });
    const headers = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const query = fuzzer.validOperation();
      const expected = await apolloAnswer(query);
      expect(ourHeader(query, expected.errors), query).toBe(expected.header);
      const kind = `${expected.header}${expected.errors ? " (errors)" : ""}`;
      headers.set(kind, (headers.get(kind) ?? 0) + 1);
    }
    // both kinds of answer were generated without errors, not only uncacheable ones
    expect(headers.get("max-age=60, public")).toBeGreaterThan(20);
    expect(headers.get("no-store")).toBeGreaterThan(20);
  });

  it("an answer with errors is never cacheable", () => {
    const document = parse(`{ relations { id } }`);
    expect(cacheControlHeader(cachePolicyOf(schema, document, getOperationAST(document)!), true)).toBe("no-store");
  });
});
