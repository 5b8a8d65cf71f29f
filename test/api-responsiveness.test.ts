// The API never stalls on model work: while an evaluateFactChecking computes on a demo model (in
// the model host's worker thread), `health` and a cheap catalog query keep answering over HTTP
// within 100 ms at p99. With the compute on the API thread this fails: the model port's
// read-backs resolve as microtasks, so a running evaluation holds the event loop for the whole
// of each relation (checked once by swapping ThreadModelHost for InlineModelHost).
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { parseApiKeys } from "../src/api/auth.ts";
import { ThreadModelHost } from "../src/api/model-host-thread.ts";
import { type RunningServer, startApiServer } from "../src/api/server.ts";
import { registerFolder } from "../src/cli/checkpoints.ts";
import { startQueue } from "../src/indexer/queue.ts";
import { PROJECT_ROOT } from "../src/model/index.ts";
import { withTransaction } from "../src/store/client.ts";
import { importMlama, importWrongObjects } from "../src/store/import-mlama.ts";
import { type RunRecord, saveRuns } from "../src/store/runs.ts";
import { codes, gql } from "./helpers/graphql.ts";
import { openTestStore, truncateAll } from "./helpers/store.ts";

const SEEDS = join(PROJECT_ROOT, "seeds");
const MODEL = "demo-mgpt";
const SAMPLES = 200;
const P99_LIMIT_MS = 100;
const store = openTestStore();
let server: RunningServer;
let modelHost: ThreadModelHost;
let url: string;

/**
 * Every en fact gets a stored run whose one degenerate set is (1, 5) + (2, 7): the evaluation then
 * attributes each held-out fact's true and wrong object over those neurons (real model work on
 * every relation); which neurons they are does not matter to this test.
 */
async function storeDegenerateSets(checkpoint: { id: number; nLayers: number; ffnWidth: number }): Promise<number> {
  const { rows } = await store.pool.query<{ fact_id: string; relation_id: string }>(
    `SELECT fl.fact_id, f.relation_id FROM fact_label fl JOIN fact f ON f.id = fl.fact_id WHERE fl.language_code = 'en' ORDER BY fl.fact_id`,
  );
  const runs: RunRecord[] = rows.map((r) => ({
    checkpointId: checkpoint.id, factId: r.fact_id, languageCode: "en", relationId: r.relation_id, method: "amig-compat", steps: 20, targetMode: "clean",
    prompt: "", goldTokenIds: [1], goldProbs: [0.5], goldProb: 0.5, predictedIds: [1], predictedText: "", predictedProb: 0.5, tauRule: { rule: "paper" },
    tau: 0.3, maxScore: 1, topK: 2, nLayers: checkpoint.nLayers, ffnWidth: checkpoint.ffnWidth, timings: {},
    topNeurons: [{ layer: 1, unit: 5, score: 1 }, { layer: 2, unit: 7, score: 0.9 }],
    knowledgeNeurons: [{ layer: 1, unit: 5, score: 1 }, { layer: 2, unit: 7, score: 0.9 }],
    degenerateSets: [{ baseProb: 0.5, jointProb: 0.1, members: [{ layer: 1, unit: 5, aloneProb: 0.45 }, { layer: 2, unit: 7, aloneProb: 0.45 }] }],
  }));
  await withTransaction(store.pool, (db) => saveRuns(db, runs));
  return runs.length;
}

beforeAll(async () => {
  await truncateAll(store.pool);
  // four relations: enough compute to outlast the samples, little enough for CI
  const selection = { languages: ["en"], relations: ["P17", "P19", "P36", "P103"] };
  await importMlama(store.pool, join(SEEDS, "mlama"), selection);
  await importWrongObjects(store.pool, join(SEEDS, "wrong-objects"), selection);
  const checkpoint = await registerFolder(store.prisma, MODEL, join(PROJECT_ROOT, "models", MODEL));
  expect(await storeDegenerateSets(checkpoint)).toBeGreaterThan(100);
  modelHost = new ThreadModelHost(store.url);
  server = await startApiServer(
    { prisma: store.prisma, pool: store.pool, version: "test", apiKeys: parseApiKeys("writer:w-secret:write"), queue: () => startQueue(store.url), modelHost },
    { port: 0, host: "127.0.0.1" },
  );
  url = server.url;
});

afterAll(async () => {
  await server?.stop();
  await modelHost?.close();
  await store.close();
});

/** Milliseconds of one request, which must succeed. */
async function timed(query: string): Promise<number> {
  const t0 = performance.now();
  const r = await gql(url, query);
  const ms = performance.now() - t0;
  expect(r.errors).toBeUndefined();
  return ms;
}

it(`health and a catalog query answer within ${P99_LIMIT_MS} ms at p99 while evaluateFactChecking computes`, async () => {
  // the model is loaded before the measurement, so what runs during it is the evaluation itself
  expect((await gql(url, `{ predict(model: "${MODEL}", text: "The capital of France is", top: 1) { position } }`)).errors).toBeUndefined();
  let running = true;
  const evaluation = gql<{ evaluateFactChecking: { relations: { relation: string }[]; withDkn: { f1: number } } }>(
    url,
    `mutation { evaluateFactChecking(model: "${MODEL}", language: "en") { relations { relation } withDkn { f1 } } }`,
    {},
    { authorization: "Bearer w-secret" },
  ).finally(() => (running = false));
  await new Promise((resolve) => setTimeout(resolve, 200)); // the evaluation reaches the host

  const latencies: number[] = [];
  for (let i = 0; i < SAMPLES; i++) latencies.push(await timed(i % 2 ? "{ languages { code } }" : "{ health { ok database } }"));
  const stillRunning = running;
  const result = await evaluation;
  expect(codes(result)).toEqual([]);
  expect(result.data!.evaluateFactChecking.relations.length).toBe(4);
  // every sample was taken while the evaluation computed, or the test measured nothing
  expect(stillRunning, "the evaluation ended before the samples did").toBe(true);

  const sorted = [...latencies].sort((a, b) => a - b);
  const p99 = sorted[Math.ceil(0.99 * sorted.length) - 1];
  console.log(`${SAMPLES} requests during evaluateFactChecking: median ${sorted[SAMPLES / 2].toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms`);
  expect(p99).toBeLessThanOrEqual(P99_LIMIT_MS);
}, 300_000);
