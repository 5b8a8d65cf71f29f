// Hostile input over real HTTP: every refusal has a clear extensions.code and an HTTP status that is
// not 5xx, and nothing stored changes (the fingerprint of every table is compared before and
// after). Oversize, non-UTF-8 and non-JSON bodies, batch floods, alias floods, deep and costly
// queries through fragments and introspection, bad page sizes and cursors, unstorable and very long
// strings, per-field compute budgets per key and per address, write scope over every mutation of
// the schema, constant-time keys that are never echoed, CORS, error answers without stack traces
// outside development, and a seeded fuzz of thousands of generated operations.
import { join } from "node:path";
import { getIntrospectionQuery } from "graphql";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { authenticate, parseApiKeys } from "../src/api/auth.ts";
import { BudgetLedger, computeUnits } from "../src/api/compute-budget.ts";
import { InlineModelHost } from "../src/api/model-host.ts";
import { type RunningServer, type ServeOptions, startApiServer } from "../src/api/server.ts";
import { seededRandom } from "../src/analysis/random.ts";
import { registerDemoModels } from "../src/cli/checkpoints.ts";
import { loadConfig } from "../src/config.ts";
import { startQueue } from "../src/indexer/queue.ts";
import { createPool } from "../src/store/client.ts";
import { pruneComputeBudgets } from "../src/store/compute-budgets.ts";
import { importMlama, importWrongObjects } from "../src/store/import-mlama.ts";
import { parse } from "graphql";
import { type GraphQLResponse, codes, gql } from "./helpers/graphql.ts";
import { OperationFuzzer, loadSchema, minimalCall, mutationFields } from "./helpers/schema-ops.ts";
import { openTestStore, tableChecksums, truncateAll } from "./helpers/store.ts";

const SEEDS = join(import.meta.dirname, "../seeds");
const KEYS = parseApiKeys("writer:w-secret-0123:write,reader:r-secret-4567:read");
const WRITE = { authorization: "Bearer w-secret-0123" };
const READ = { authorization: "Bearer r-secret-4567" };
const ALLOWED_ORIGIN = "https://explorer.example.org";
const MAX_BODY = 64 * 1024;
const store = openTestStore();
const servers: RunningServer[] = [];
const modelHost = new InlineModelHost(store.pool);
let url: string;
let before: Record<string, string>;

const start = async (options: Partial<ServeOptions> = {}, apiKeys = KEYS) => {
  const server = await startApiServer(
    { prisma: store.prisma, pool: store.pool, version: "test", apiKeys, queue: () => startQueue(store.url), modelHost },
    {
      port: 0,
      host: "127.0.0.1",
      http: { maxBodyBytes: MAX_BODY, maxBatch: 5, corsOrigins: [ALLOWED_ORIGIN], trustProxy: true },
      budgets: { perKey: 20, anonymous: 6, windowSeconds: 60 },
      ...options,
    },
  );
  servers.push(server);
  return server.url;
};

/** A POST with a raw body; the answer parsed as JSON (every refusal must be JSON). */
async function post(target: string, body: string | Uint8Array, headers: Record<string, string> = {}) {
  const res = await fetch(target, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: JSON.parse(text) as GraphQLResponse & Record<string, unknown> };
}

/** Each test uses its own client address (X-Forwarded-For, trusted here), so budgets do not leak across tests. */
let addressCounter = 0;
const fresh = () => ({ "x-forwarded-for": `10.0.${Math.floor(++addressCounter / 250)}.${addressCounter % 250}` });

beforeAll(async () => {
  await truncateAll(store.pool);
  await importMlama(store.pool, join(SEEDS, "mlama"));
  await importWrongObjects(store.pool, join(SEEDS, "wrong-objects"));
  await registerDemoModels(store.prisma);
  // a registered checkpoint whose folder is gone: predicting with it is an internal failure
  await store.prisma.checkpoint.create({ data: { name: "vanished", architecture: "MASKED", modelType: "bert", nLayers: 1, ffnWidth: 4, hidden: 4, vocabSize: 10, path: "/nonexistent/secret-path/model", contentHash: "x" } });
  url = await start();
  before = await tableChecksums(store.pool);
});

afterAll(async () => {
  for (const s of servers) await s.stop();
  await modelHost.close();
  await store.close();
});

const unchanged = async () => expect(await tableChecksums(store.pool)).toEqual(before);

describe("request bodies", () => {
  it("refuses a body over the limit with 413 PAYLOAD_TOO_LARGE, declared or streamed, and keeps serving", async () => {
    const big = JSON.stringify({ query: `{ health { ok } }`, variables: { pad: "x".repeat(MAX_BODY) } });
    const declared = await post(url, big);
    expect(declared.status).toBe(413);
    expect(codes(declared.json)).toEqual(["PAYLOAD_TOO_LARGE"]);
    // chunked, without a Content-Length: the limit is counted while reading
    const bytes = new TextEncoder().encode(big);
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 8192) controller.enqueue(bytes.slice(i, i + 8192));
        controller.close();
      },
    });
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: stream, duplex: "half" } as RequestInit);
    expect(res.status).toBe(413);
    expect(codes((await res.json()) as GraphQLResponse)).toEqual(["PAYLOAD_TOO_LARGE"]);
    // a body just under the limit is served (padded with JSON whitespace: strings have their own limit)
    const small = JSON.stringify({ query: `{ health { ok } }` });
    const fits = small.slice(0, -1) + " ".repeat(MAX_BODY - small.length) + "}";
    expect(Buffer.byteLength(fits)).toBe(MAX_BODY);
    expect((await post(url, fits)).json.data).toEqual({ health: { ok: true } });
    await unchanged();
  });

  it("refuses non-UTF-8 bodies, other charsets and non-JSON with 400/415 and a code", async () => {
    const latin1 = Buffer.concat([Buffer.from('{"query":"{ fact(id: \\"'), Buffer.from([0xe9, 0xff, 0xfe]), Buffer.from('\\") { id } }"}')]);
    const bad = await post(url, latin1);
    expect(bad.status).toBe(400);
    expect(codes(bad.json)).toEqual(["BAD_REQUEST"]);
    expect(bad.json.errors![0].message).toMatch(/UTF-8/);
    const charset = await post(url, `{"query":"{ health { ok } }"}`, { "content-type": "application/json; charset=iso-8859-1" });
    expect(charset.status).toBe(415);
    expect(codes(charset.json)).toEqual(["UNSUPPORTED_MEDIA_TYPE"]);
    const junk = await post(url, `{"query": "{ health { ok } }"`);
    expect(junk.status).toBe(400);
    expect(codes(junk.json)).toEqual(["BAD_REQUEST"]);
    const text = await post(url, "{ health { ok } }", { "content-type": "text/plain" });
    expect(text.status).toBe(400);
    expect(codes(text.json)).toEqual(["BAD_REQUEST"]);
    await unchanged();
  });

  it("refuses strings PostgreSQL cannot store (NUL, lone surrogates) and over-long strings as BAD_USER_INPUT before any resolver runs", async () => {
    for (const id of ["abc\u0000def", "\ud800x"]) {
      const asVariable = await gql(url, `query($id: ID!) { fact(id: $id) { id } }`, { id });
      expect(asVariable.status).toBe(400);
      expect(codes(asVariable)).toEqual(["BAD_USER_INPUT"]);
    }
    const literal = await post(url, JSON.stringify({ query: `{ fact(id: "a\\u0000b") { id } }` }));
    expect(codes(literal.json)).toEqual(["BAD_USER_INPUT"]);
    const long = await gql(url, `query($t: String!) { predict(model: "demo-mbert", text: $t) { top { token } } }`, { t: `${"word ".repeat(3000)}[MASK]` }, fresh());
    expect(long.status).toBe(400);
    expect(codes(long)).toEqual(["BAD_USER_INPUT"]);
    expect(long.errors![0].message).toMatch(/15006 characters long; the limit is 10000/);
    expect(long.data).toBeUndefined();
    await unchanged();
  });
});

describe("floods", () => {
  it("refuses a batch of many operations with 400 BATCH_TOO_LARGE and answers a batch within the cap", async () => {
    const flood = JSON.stringify(Array.from({ length: 1000 }, () => ({ query: "{ health { ok } }" })));
    const refused = await post(url, flood);
    expect(refused.status).toBe(400);
    expect(codes(refused.json)).toEqual(["BATCH_TOO_LARGE"]);
    const ok = await post(url, JSON.stringify(Array.from({ length: 5 }, () => ({ query: "{ health { ok } }" }))));
    expect(ok.status).toBe(200);
    expect(ok.json).toEqual(Array.from({ length: 5 }, () => ({ data: { health: { ok: true } } })));
    await unchanged();
  });

  it("makes the operations of a batch share one cost limit", async () => {
    // each costs 1 + 100 × (1 + 1 + 1) = 301 + 1: five of them (1510) fit the default 5000, twenty would not
    const op = { query: "{ facts(first: 100) { edges { node { id } } } }" };
    const within = await post(url, JSON.stringify([op, op, op, op, op]));
    expect((within.json as unknown as GraphQLResponse[]).every((r) => r.errors === undefined)).toBe(true);
    // 1 + 100 × (1 + 1 + (1 + 1 + 1 + 3 + 11)) = 1901 each: two fit, the third does not
    const heavy = { query: "{ facts(first: 100) { edges { node { id subjectUri objectUri relation { id label } labels { language } } } } }" };
    const answers = (await post(url, JSON.stringify([heavy, heavy, heavy, heavy, heavy]))).json as unknown as GraphQLResponse[];
    const refused = answers.filter((r) => codes(r).includes("QUERY_TOO_COMPLEX"));
    expect(refused.length).toBe(3);
    expect(answers.filter((r) => r.errors === undefined)).toHaveLength(2);
  });

  it("refuses an alias flood of expensive list fields as QUERY_TOO_COMPLEX with HTTP 400, not 500", async () => {
    const aliases = Array.from({ length: 300 }, (_, i) => `a${i}: facts(first: 100) { totalCount }`).join(" ");
    const r = await gql(url, `{ ${aliases} }`);
    expect(r.status).toBe(400);
    expect(codes(r)).toEqual(["QUERY_TOO_COMPLEX"]);
    expect(r.data).toBeUndefined();
  });

  it("counts compute budgets per field: 300 aliased predictions are refused whole, and aliases use up the budget one by one", async () => {
    const ip = fresh();
    const flood = Array.from({ length: 300 }, (_, i) => `p${i}: predict(model: "demo-mbert", text: "The capital of France is [MASK] .") { top { token } }`).join(" ");
    const r = await gql(url, `{ ${flood} }`, {}, ip);
    expect(r.status).toBe(400);
    expect(codes(r)).toEqual(["QUERY_TOO_COMPLEX"]);
    expect(r.errors![0].message).toMatch(/needs 300 compute units; address 10\.0\.\d+\.\d+ has 6 per 60 s/);
    // 4 aliases fit the anonymous budget of 6 and run (the first predictions of this process, on
    // two models at once: their backend start-ups must not race); the next 4 do not: refused whole, 429 + Retry-After
    const texts = { "demo-mbert": "The capital of France is [MASK] .", "demo-mgpt": "The capital of France is" };
    const q = `{ ${Array.from({ length: 4 }, (_, i) => {
      const model = i % 2 ? "demo-mgpt" : "demo-mbert";
      return `p${i}: predict(model: "${model}", text: "${texts[model]}", top: 1) { top { token } }`;
    }).join(" ")} }`;
    const first = await gql<Record<string, { top: { token: string }[] }>>(url, q, {}, ip);
    expect(first.errors).toBeUndefined();
    expect(Object.keys(first.data!)).toHaveLength(4);
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...ip }, body: JSON.stringify({ query: q }) });
    expect(res.status).toBe(429);
    const retryAfter = Number(res.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = (await res.json()) as GraphQLResponse;
    expect(codes(body)).toEqual(["RATE_LIMITED"]);
    expect(body.errors![0].extensions!.retryAfter).toBe(retryAfter);
    expect(body.data).toBeUndefined();
    // a fragment spread twice merges into one execution (one unit); two aliases are two
    expect(computeUnits(parse(`{ ...F ...F } fragment F on Query { predict(model: "m", text: "t") { model } }`), null, {})).toBe(1);
    expect(computeUnits(parse(`{ a: predict(model: "m", text: "t") { model } b: predict(model: "m", text: "t") { model } }`), null, {})).toBe(2);
    expect(computeUnits(parse(`query($s: Boolean!) { a: checkFact(model: "m", subject: "s", relation: "P1", object: "o", language: "en") @skip(if: $s) { verdict } }`), null, { s: true })).toBe(0);
  });

  it("keeps separate budgets per API key and per address; a batch cannot multiply a budget", async () => {
    const a = fresh();
    const b = fresh();
    const predict = `{ p: predict(model: "no-such-model", text: "x [MASK]") { model } }`;
    for (let i = 0; i < 6; i++) expect(codes(await gql(url, predict, {}, a))).toEqual(["NOT_FOUND"]); // runs, and costs a unit
    expect(codes(await gql(url, predict, {}, a))).toEqual(["RATE_LIMITED"]);
    expect(codes(await gql(url, predict, {}, b))).toEqual(["NOT_FOUND"]); // another address still has its budget
    expect(codes(await gql(url, predict, {}, { ...a, ...READ }))).toEqual(["NOT_FOUND"]); // the key's budget, not the address's
    const batch = (await post(url, JSON.stringify(Array.from({ length: 5 }, () => ({ query: predict }))), b)).json as unknown as GraphQLResponse[];
    expect(batch.map((r) => codes(r)[0])).toEqual(["NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "NOT_FOUND"]);
    expect(codes(await gql(url, predict, {}, b))).toEqual(["RATE_LIMITED"]); // 1 + 5 used the 6
  });

  it("refills budgets continuously (token bucket), in PostgreSQL: ledgers of two processes draw on one bucket", async () => {
    let now = 1_000_000;
    const identity = `address:refill-${Date.now()}`;
    // two ledgers stand for two API replicas (each its own pool), on one database
    const other = createPool(store.url, { max: 2 });
    try {
      const [a, b] = [new BudgetLedger(store.pool, () => now), new BudgetLedger(other, () => now)];
      for (let i = 0; i < 6; i++) expect((await (i % 2 ? b : a).take(identity, 1, 6, 60)).ok).toBe(true);
      expect(await a.take(identity, 1, 6, 60)).toEqual({ ok: false, retryAfter: 10 });
      expect(await b.take(identity, 1, 6, 60)).toEqual({ ok: false, retryAfter: 10 });
      now += 10_000;
      expect((await b.take(identity, 1, 6, 60)).ok).toBe(true);
      expect(await a.take(identity, 5, 6, 60)).toEqual({ ok: false, retryAfter: 50 });
      // concurrent takes from both add up exactly: 6 units after a full refill, 12 asked at once
      now += 60_000;
      const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? b : a).take(identity, 1, 6, 60)));
      expect(answers.filter((x) => x.ok)).toHaveLength(6);
      // a bucket untouched for a whole window is full: pruned, and it starts full again
      now += 60_001;
      expect(await pruneComputeBudgets(store.pool, { windowSeconds: 60, now })).toBeGreaterThanOrEqual(1);
      for (let i = 0; i < 6; i++) expect((await a.take(identity, 1, 6, 60)).ok).toBe(true);
      expect((await a.take(identity, 1, 6, 60)).ok).toBe(false);
    } finally {
      await other.end();
    }
  });
});

describe("deep and costly queries", () => {
  it("refuses depth beyond the limit through nested fragments and inline fragments, and deep introspection", async () => {
    const viaFragments = await gql(
      url,
      `{ ...A } fragment A on Query { facts(first: 1) { edges { node { ...B } } } }
       fragment B on Fact { relation { templates { ... on Template { language } } } labels { ... on FactLabel { language } } }`,
    );
    expect(viaFragments.errors).toBeUndefined(); // depth 6 is fine
    // graphql-js refuses fields → type → fields → type → fields itself; a 4th nested introspection
    // list by another route (types → fields → args → type → fields) is refused here
    const nest = (n: number) => `{ __schema { types { ${"fields { type { ".repeat(n)}name${" } }".repeat(n)} } } }`;
    expect(codes(await gql(url, nest(5)))).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    const cyclic = await gql(url, `{ __schema { types { fields { args { type { fields { name } } } } } } }`);
    expect(cyclic.status).toBe(400);
    expect(codes(cyclic)).toEqual(["QUERY_TOO_DEEP"]);
    expect(cyclic.data).toBeUndefined();
    // the introspection tools send is answered: its ofType chain does not count as depth
    const standard = await gql<{ __schema: { types: unknown[] } }>(url, getIntrospectionQuery());
    expect(standard.errors).toBeUndefined();
    expect(standard.data!.__schema.types.length).toBeGreaterThan(30);
  });

  it("refuses a fragment cycle as invalid and deep selections hidden in fragments as QUERY_TOO_DEEP", async () => {
    const cycle = await gql(url, `{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }`);
    expect(cycle.status).toBe(400);
    expect(codes(cycle)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    const server = await start({ limits: { maxDepth: 4 } });
    const hidden = await gql(server, `{ ...A } fragment A on Query { facts(first: 1) { ...B } } fragment B on FactConnection { edges { node { relation { ...C } } } } fragment C on Relation { templates { language } }`);
    expect(hidden.status).toBe(400);
    expect(codes(hidden)).toEqual(["QUERY_TOO_DEEP"]);
    expect(hidden.errors![0].extensions).toMatchObject({ depth: 6, limit: 4 });
  });

  it("refuses a costly query assembled from fragments, counted with its variables", async () => {
    const q = `query($n: Int) { ...F } fragment F on Query { facts(first: $n) { edges { node { labels { language subject object } wrongObjects(language: "en") relation { templates { language text } } } } } }`;
    const cheap = await gql(url, q, { n: 2 });
    expect(cheap.errors).toBeUndefined();
    const costly = await gql(url, q, { n: 100 });
    expect(costly.status).toBe(400);
    expect(codes(costly)).toEqual(["QUERY_TOO_COMPLEX"]);
    expect(costly.errors![0].extensions!.cost).toBeGreaterThan(5000);
    // the server keeps costs per document and shape of the variables: the cheap shape again is
    // cheap, the costly one costly again, and a list variable's length is part of the shape
    expect((await gql(url, q, { n: 2 })).errors).toBeUndefined();
    expect(codes(await gql(url, q, { n: 100 }))).toEqual(["QUERY_TOO_COMPLEX"]);
    const server = await start({ limits: { maxCost: 1 } });
    const perLanguage = `query($l: [String!], $s: String) { facts(first: 10, after: $s) { edges { node { labels(languages: $l) { subject } } } } }`;
    const cost = async (variables: Record<string, unknown>) => (await gql(server, perLanguage, variables)).errors![0].extensions!.cost;
    expect(await cost({ l: ["en"], s: null })).toBe(1 + 10 * (1 + (1 + (1 + 1 * 1))));
    expect(await cost({ l: ["en", "zh", "fr"], s: "abc" })).toBe(1 + 10 * (1 + (1 + (1 + 3 * 1))));
    expect(await cost({ l: ["de"], s: "xyz" })).toBe(1 + 10 * (1 + (1 + (1 + 1 * 1))));
  });

  it("counts a per-language list asked for given languages as that many entries, other lists as 10", async () => {
    const server = await start({ limits: { maxCost: 1 } }); // everything is refused, with its cost
    const cost = async (q: string) => (await gql(server, q)).errors![0].extensions!.cost;
    expect(await cost(`{ facts(first: 100) { edges { node { labels(languages: ["en"]) { subject } } } } }`)).toBe(1 + 100 * (1 + (1 + (1 + 1 * 1))));
    expect(await cost(`{ facts(first: 100) { edges { node { labels { subject } } } } }`)).toBe(1 + 100 * (1 + (1 + (1 + 10 * 1))));
    // language-independent neurons are not one per language
    expect(await cost(`{ languageIndependentNeurons(model: "m", relation: "P1", languages: ["en", "zh"]) { layer } }`)).toBe(1 + 10 * 1);
  });

  it("refuses huge, negative and out-of-range page sizes, and malformed cursors, with codes", async () => {
    expect(codes(await gql(url, `{ facts(first: -1) { totalCount } }`))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await gql(url, `{ facts(first: 101) { totalCount } }`))).toEqual(["BAD_USER_INPUT"]);
    const huge = await gql(url, `{ facts(first: 2147483647) { edges { node { id } } } }`);
    expect(huge.status).toBe(400);
    expect(codes(huge)).toEqual(["QUERY_TOO_COMPLEX"]);
    const overflow = await gql(url, `{ facts(first: 2147483648) { totalCount } }`);
    expect(overflow.status).toBe(400);
    expect(codes(overflow)).toEqual(["GRAPHQL_VALIDATION_FAILED"]);
    const asVariable = await gql(url, `query($n: Int) { facts(first: $n) { totalCount } }`, { n: 1e12 });
    expect(asVariable.status).toBe(400);
    expect(codes(asVariable)).toEqual(["BAD_USER_INPUT"]);
    const cursors = ["!!!", "", "Zm9v", Buffer.from("edit:").toString("base64url"), Buffer.from("fact:\u0000").toString("base64url"), "x".repeat(5000)];
    for (const after of cursors) {
      for (const field of [`facts(first: 2, after: $after) { totalCount }`, `edits(first: 2, after: $after) { totalCount }`, `neuron(model: "demo-mbert", layer: 0, unit: 0) { facts(first: 2, after: $after) { totalCount } }`]) {
        const r = await gql(url, `query($after: String) { ${field} }`, { after });
        expect(r.status, `${field} after ${JSON.stringify(after)}`).toBeLessThan(500);
        expect(codes(r), `${field} after ${JSON.stringify(after)}`).toEqual(["BAD_USER_INPUT"]);
      }
    }
    await unchanged();
  });
});

describe("keys and scope", () => {
  it("keeps only a digest of each secret, never echoes one in an error, and refuses an unknown key with 401", async () => {
    expect(JSON.stringify(KEYS)).not.toContain("w-secret-0123");
    expect(() => parseApiKeys("ok:good-secret:write,bad:leaky-secret:admin")).toThrow(/entry 2 must be name:secret:read\|write/);
    try {
      parseApiKeys("bad:leaky-secret:admin");
    } catch (error) {
      expect((error as Error).message).not.toContain("leaky-secret");
    }
    expect(authenticate(KEYS, "Bearer w-secret-0123")).toEqual({ kind: "key", principal: { name: "writer", write: true } });
    expect(authenticate(KEYS, "Bearer w-secret-012")).toEqual({ kind: "unknown-key" }); // a prefix is not the key
    expect(authenticate(KEYS, "Bearer w-secret-01234")).toEqual({ kind: "unknown-key" });
    expect(authenticate(KEYS, undefined)).toEqual({ kind: "anonymous" });
    const r = await gql(url, "{ health { ok } }", {}, { authorization: "Bearer guessed-secret" });
    expect(r.status).toBe(401);
    expect(codes(r)).toEqual(["UNAUTHENTICATED"]);
    expect(JSON.stringify(r)).not.toContain("guessed-secret");
  });

  it("enforces write scope on every mutation of the schema: 401 without a key, 403 with a read key, nothing stored", async () => {
    const mutations = mutationFields(loadSchema());
    expect(mutations.map((m) => m.name)).toEqual(expect.arrayContaining(["indexFacts", "applyEdit", "revertEdit", "evaluateFactChecking"]));
    for (const field of mutations) {
      const op = minimalCall("mutation", field);
      const anonymous = await gql(url, op, {}, fresh());
      expect([anonymous.status, codes(anonymous)], op).toEqual([401, ["UNAUTHENTICATED"]]);
      const reader = await gql(url, op, {}, READ);
      expect([reader.status, codes(reader)], op).toEqual([403, ["FORBIDDEN"]]);
      // the write key passes the scope check; the placeholder arguments name nothing that exists
      const writer = await gql(url, op, {}, WRITE);
      expect(codes(writer), op).not.toContain("UNAUTHENTICATED");
      expect(codes(writer), op).not.toContain("FORBIDDEN");
      expect(writer.status, op).toBeLessThan(500);
    }
    // a server without keys refuses every mutation
    const keyless = await start({}, []);
    for (const field of mutations) expect(codes(await gql(keyless, minimalCall("mutation", field), {}, WRITE))).toEqual(["UNAUTHENTICATED"]);
    for (const field of mutations) expect(codes(await gql(keyless, minimalCall("mutation", field)))).toEqual(["FORBIDDEN"]);
    await unchanged();
  });
});

describe("CORS", () => {
  it("answers a preflight from an allowed origin and refuses one from another origin", async () => {
    const ok = await fetch(url, { method: "OPTIONS", headers: { origin: ALLOWED_ORIGIN, "access-control-request-method": "POST", "access-control-request-headers": "content-type, authorization" } });
    expect(ok.status).toBe(204);
    expect(ok.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    expect(ok.headers.get("access-control-allow-methods")).toContain("POST");
    expect(ok.headers.get("access-control-allow-headers")).toContain("authorization");
    expect(ok.headers.get("vary")).toContain("Origin");
    const refused = await fetch(url, { method: "OPTIONS", headers: { origin: "https://evil.example.com", "access-control-request-method": "POST" } });
    expect(refused.status).toBe(403);
    expect(refused.headers.get("access-control-allow-origin")).toBeNull();
    expect(codes((await refused.json()) as GraphQLResponse)).toEqual(["ORIGIN_NOT_ALLOWED"]);
  });

  it("serves an allowed origin, refuses a foreign one before anything runs, and lets the server's own origin in", async () => {
    const body = JSON.stringify({ query: "{ health { ok } }" });
    const allowed = await post(url, body, { origin: ALLOWED_ORIGIN });
    expect(allowed.status).toBe(200);
    expect(allowed.headers.get("access-control-allow-origin")).toBe(ALLOWED_ORIGIN);
    const foreign = await post(url, JSON.stringify({ query: `mutation { revertEdit(id: "1") { id } }` }), { origin: "https://evil.example.com", ...WRITE });
    expect(foreign.status).toBe(403);
    expect(codes(foreign.json)).toEqual(["ORIGIN_NOT_ALLOWED"]);
    const own = new URL(url);
    expect((await post(url, body, { origin: own.origin })).status).toBe(200);
    // no allowlist at all: only same-origin and non-browser clients
    const closed = await start({ http: { corsOrigins: [] } });
    expect((await post(closed, body, { origin: ALLOWED_ORIGIN })).status).toBe(403);
    expect((await post(closed, body)).status).toBe(200);
    await unchanged();
  });
});

describe("error answers", () => {
  it("hide stack traces and internal messages outside development, show them in development (NODE_ENV or KN_EXPOSE_ERRORS)", async () => {
    expect(loadConfig({}).exposeErrors).toBe(false);
    expect(loadConfig({ NODE_ENV: "production" }).exposeErrors).toBe(false);
    expect(loadConfig({ NODE_ENV: "development" }).exposeErrors).toBe(true);
    expect(loadConfig({ NODE_ENV: "development", KN_EXPOSE_ERRORS: "0" }).exposeErrors).toBe(false);
    expect(loadConfig({ NODE_ENV: "production", KN_EXPOSE_ERRORS: "1" }).exposeErrors).toBe(true);
    // an internal failure: the registry's "vanished" checkpoint (see beforeAll) points at a folder that is gone
    const q = `{ predict(model: "vanished", text: "a [MASK]") { model } }`;
    const production = await start({ exposeErrors: loadConfig({ NODE_ENV: "production" }).exposeErrors });
    // a fresh client address: the budgets are shared by every server on the database (in PostgreSQL)
    const hidden = await gql(production, q, {}, fresh());
    expect(codes(hidden)).toEqual(["INTERNAL_SERVER_ERROR"]);
    const text = JSON.stringify(hidden);
    expect(text).not.toContain("stacktrace");
    expect(text).not.toContain("secret-path");
    expect(text).not.toMatch(/\.ts:\d+|node_modules|\/src\//);
    expect(hidden.errors![0].message).toMatch(/^internal server error \(reference [0-9a-f-]{36}\)$/);
    const development = await start({ exposeErrors: loadConfig({ NODE_ENV: "development" }).exposeErrors });
    const shown = await gql(development, q, {}, fresh());
    expect(codes(shown)).toEqual(["INTERNAL_SERVER_ERROR"]);
    expect(JSON.stringify(shown)).toContain("secret-path");
    expect(shown.errors![0].extensions!.stacktrace).toBeInstanceOf(Array);
  });
});

describe("fuzz", () => {
  it("answers 3000 generated operations (seed 13) without a 5xx, an internal error or a stored change", async () => {
    const fingerprint = await tableChecksums(store.pool);
    const { rows } = await store.pool.query<{ id: string }>("SELECT id FROM fact ORDER BY id LIMIT 5");
    const fuzzer = new OperationFuzzer(loadSchema(), seededRandom("fuzz-13"), {
      ids: [...rows.map((r) => r.id), "1", "0", "-1", "99999999999999999999", Buffer.from("fact:x").toString("base64url")],
      strings: ["demo-mbert", "demo-mgpt", "en", "zh", "fr", "xx", "EN", "P17", "P36", "P999", "Paris", "France", "[MASK] is the capital .", "The capital of France is"],
    });
    const server = await start({ budgets: { perKey: 100_000, anonymous: 100_000, windowSeconds: 60 } });
    const auths = [{}, READ, {}, READ, {}, READ, {}, READ, {}, { authorization: "Bearer nobody" }];
    const statuses = new Map<number, number>();
    const errorCodes = new Map<string, number>();
    const failures: string[] = [];
    const N = 3000;
    const CONCURRENCY = 4;
    let next = 0;
    const worker = async () => {
      while (next < N) {
        const i = next++;
        const request = fuzzer.next();
        const auth = auths[i % auths.length];
        const res = await fetch(server, { method: "POST", headers: { "content-type": "application/json", ...auth }, body: JSON.stringify(request.body) });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const text = await res.text();
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          failures.push(`#${i} non-JSON ${res.status}: ${text.slice(0, 200)}`);
          continue;
        }
        const answers = (Array.isArray(parsed) ? parsed : [parsed]) as GraphQLResponse[];
        for (const c of answers.flatMap((a) => codes(a))) errorCodes.set(String(c), (errorCodes.get(String(c)) ?? 0) + 1);
        if (res.status >= 500 || answers.some((a) => codes(a).includes("INTERNAL_SERVER_ERROR"))) {
          failures.push(`#${i} ${res.status} ${JSON.stringify(request.body).slice(0, 300)} -> ${text.slice(0, 300)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    console.log(`fuzz: statuses ${JSON.stringify(Object.fromEntries(statuses))}, codes ${JSON.stringify(Object.fromEntries(errorCodes))}`);
    expect(failures).toEqual([]);
    expect(statuses.get(200)).toBeGreaterThan(N / 4); // the generator reaches resolvers, not only the parser
    expect((await gql(server, "{ health { ok database } }")).data).toEqual({ health: { ok: true, database: true } });
    expect(await tableChecksums(store.pool)).toEqual(fingerprint);
  }, 600_000);
});
