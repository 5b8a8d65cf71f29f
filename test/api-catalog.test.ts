// The catalog part of the GraphQL API over real HTTP against the test database.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InlineModelHost } from "../src/api/model-host.ts";
import { type RunningServer, startApiServer } from "../src/api/server.ts";
import { startQueue } from "../src/indexer/queue.ts";
import { importMlama, importWrongObjects } from "../src/store/import-mlama.ts";
import { codes, gql } from "./helpers/graphql.ts";
import { openTestStore, truncateAll } from "./helpers/store.ts";

const SEEDS = join(import.meta.dirname, "../seeds");
const store = openTestStore();
let server: RunningServer;
let modelHost: InlineModelHost;
let url: string;

beforeAll(async () => {
  await truncateAll(store.pool);
  await importMlama(store.pool, join(SEEDS, "mlama"));
  await importWrongObjects(store.pool, join(SEEDS, "wrong-objects"));
  server = await startApiServer({ prisma: store.prisma, pool: store.pool, version: "test", apiKeys: [], queue: () => startQueue(store.url), modelHost: (modelHost = new InlineModelHost(store.pool)) }, { port: 0, host: "127.0.0.1", limits: { maxDepth: 6, maxCost: 3000 } });
  url = server.url;
});

afterAll(async () => {
  await server?.stop();
  await modelHost?.close();
  await store.close();
});

describe("catalog queries", () => {
  it("answers the README's first query: relations, languages, facts totalCount", async () => {
    const r = await gql<{ relations: { id: string }[]; languages: { code: string }[]; facts: { totalCount: number } }>(
      url,
      "{ relations { id } languages { code } facts(first: 1) { totalCount } }",
    );
    expect(r.errors).toBeUndefined();
    expect(r.data!.relations.length).toBeGreaterThanOrEqual(12);
    expect(r.data!.relations.slice(0, 3).map((x) => x.id)).toEqual(["P17", "P19", "P27"]); // numeric order
    expect(r.data!.languages.map((l) => l.code)).toEqual(["de", "en", "es", "fr", "ru", "zh"]);
    const { rows } = await store.pool.query("SELECT count(*)::int AS n FROM fact");
    expect(r.data!.facts.totalCount).toBe(rows[0].n);
  });

  it("health reports the database", async () => {
    const r = await gql(url, "{ health { ok database version } }");
    expect(r.data).toEqual({ health: { ok: true, database: true, version: "test" } });
  });

  it("relation(id) returns label, templates per language and fact count", async () => {
    const r = await gql<{ relation: { label: string; factCount: number; templates: { language: string; text: string }[] } }>(
      url,
      `{ relation(id: "P36") { label factCount templates { language text } } }`,
    );
    expect(r.data!.relation.label).toBe("capital");
    expect(r.data!.relation.templates).toContainEqual({ language: "en", text: "The capital of [X] is [Y] ." });
    expect(r.data!.relation.templates).toHaveLength(6);
    const { rows } = await store.pool.query("SELECT count(*)::int AS n FROM fact WHERE relation_id = 'P36'");
    expect(r.data!.relation.factCount).toBe(rows[0].n);
  });

  it("pages through facts of a relation with cursors: every fact once, in id order", async () => {
    const seen: string[] = [];
    let after: string | null = null;
    let total = 0;
    for (let page = 0; page < 20; page++) {
      const r: Awaited<ReturnType<typeof gql<{ facts: { totalCount: number; edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } }>>> =
        await gql(url, `query($after: String) { facts(relation: "P30", language: "zh", first: 10, after: $after) { totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }`, { after });
      expect(r.errors).toBeUndefined();
      total = r.data!.facts.totalCount;
      seen.push(...r.data!.facts.edges.map((e) => e.node.id));
      if (!r.data!.facts.pageInfo.hasNextPage) break;
      after = r.data!.facts.pageInfo.endCursor;
    }
    const { rows } = await store.pool.query("SELECT id FROM fact WHERE relation_id = 'P30' ORDER BY id");
    expect(seen).toEqual(rows.map((x) => x.id));
    expect(total).toBe(rows.length);
  });

  it("fact(id) returns labels in every language and wrong objects", async () => {
    const { rows } = await store.pool.query("SELECT fact_id FROM fact_label WHERE language_code = 'en' AND object = 'Paris' LIMIT 1");
    const id = rows[0].fact_id as string;
    const r = await gql<{ fact: { relation: { id: string }; labels: { language: string; subject: string; object: string }[]; wrongObjects: string[] } }>(
      url,
      `query($id: ID!) { fact(id: $id) { relation { id } labels { language subject object } wrongObjects(language: "fr") } }`,
      { id },
    );
    expect(r.data!.fact.labels.map((l) => l.language)).toEqual(["de", "en", "es", "fr", "ru", "zh"]);
    expect(r.data!.fact.labels.find((l) => l.language === "zh")!.object).toBe("巴黎");
    expect(r.data!.fact.wrongObjects.length).toBeGreaterThanOrEqual(3);
    expect(r.data!.fact.wrongObjects).not.toContain("Paris");
  });
});

describe("errors", () => {
  it("unknown ids: null from nullable fields (fact, relation), NOT_FOUND from fields that cannot be null", async () => {
    expect((await gql(url, `{ fact(id: "no-such-fact") { id } relation(id: "P9999") { id } }`)).data).toEqual({ fact: null, relation: null });
    expect(codes(await gql(url, `{ facts(language: "xx") { totalCount } }`))).toEqual(["NOT_FOUND"]);
  });

  it("BAD_USER_INPUT for out-of-range page sizes, malformed cursors and ids, naming the argument", async () => {
    const big = await gql(url, `{ facts(first: 1000) { totalCount } }`);
    expect(codes(big)).toEqual(["BAD_USER_INPUT"]);
    expect(big.errors![0].extensions!.argument).toBe("first");
    expect(codes(await gql(url, `{ facts(after: "garbage") { totalCount } }`))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await gql(url, `{ facts(relation: "capital") { totalCount } }`))).toEqual(["BAD_USER_INPUT"]);
  });

  it("QUERY_TOO_DEEP beyond the depth limit (6 here), also through fragments, with nothing executed", async () => {
    const six = `{ facts { edges { node { relation { templates { language } } } } } }`;
    expect((await gql(url, six)).errors).toBeUndefined();
    // introspection's ofType chain (a type's List/NonNull wrappers, no fan-out) adds no depth
    const introspection = `fragment T on __Type { ofType { ofType { ofType { name } } } } { __schema { types { fields { type { ...T } } } } }`;
    expect((await gql(url, introspection)).errors).toBeUndefined();
    const seven = `fragment T on Relation { templates { language } } { neuron(model: "demo-mbert", layer: 0, unit: 0) { facts { edges { node { relation { ...T } } } } } }`;
    const r = await gql(url, seven);
    expect(codes(r)).toEqual(["QUERY_TOO_DEEP"]);
    expect(r.errors![0].message).toMatch(/depth 7 exceeds the limit of 6/);
    expect(r.data).toBeUndefined();
  });

  it("QUERY_TOO_COMPLEX when page size times selection exceeds the cost limit (3000 here)", async () => {
    const modest = `{ facts(first: 100) { edges { node { labels { subject } relation { templates { text } } } } } }`;
    expect((await gql(url, modest)).errors).toBeUndefined();
    const fanOut = `{ facts(first: 100) { edges { node { labels { subject } wrongObjects(language: "en") relation { templates { text } } } } } }`;
    const r = await gql(url, fanOut);
    expect(codes(r)).toEqual(["QUERY_TOO_COMPLEX"]);
    expect(r.errors![0].extensions!.limit).toBe(3000);
    expect(r.data).toBeUndefined();
  });
});
