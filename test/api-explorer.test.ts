// The API the explorer (and any visualization frontend) reads, over real HTTP against real runs of
// the committed demo masked model: model info, a fact's runs and heatmap grid (recomputed through
// the model host and cached, or read when stored whole), per-layer summaries, the language x
// language overlap and per-layer distribution of a relation, neuron pages, search, coverage,
// index jobs, editing results, the unknown-id rule, DateTime, and GET with CSRF protection.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseApiKeys } from "../src/api/auth.ts";
import { ThreadModelHost } from "../src/api/model-host-thread.ts";
import { type RunningServer, startApiServer } from "../src/api/server.ts";
import { attributionModel } from "../src/attribution/model-port.ts";
import { DEFAULT_RUN_SETTING } from "../src/attribution/run-setting.ts";
import { paperSelection } from "../src/attribution/selection.ts";
import { registerFolder } from "../src/cli/checkpoints.ts";
import { encodeCursor } from "../src/api/pagination.ts";
import { hostCheckpoint } from "../src/api/resolvers/neurons.ts";
import { DEFAULT_INDEX_GRID_MAX_CELLS, computeRun } from "../src/indexer/attribute-job.ts";
import { startQueue } from "../src/indexer/queue.ts";
import { type LanguageModel, loadModel } from "../src/model/index.ts";
import { withTransaction } from "../src/store/client.ts";
import type { Checkpoint } from "../src/store/generated/client.ts";
import { importMlama } from "../src/store/import-mlama.ts";
import { factContexts, insertIndexJob } from "../src/store/index-jobs.ts";
import { type RunRecord, saveRuns } from "../src/store/runs.ts";
import { codes, gql, gqlGet } from "./helpers/graphql.ts";
import { openTestStore, truncateAll } from "./helpers/store.ts";

const ROOT = join(import.meta.dirname, "..");
const MODEL = "demo-mbert";
const LANGUAGES = ["en", "fr", "zh"];
const RELATION = "P36";
const FACTS = 3;
const store = openTestStore();
const WRITE = { authorization: "Bearer w-secret" };

let server: RunningServer;
let host: ThreadModelHost;
let url: string;
let lm: LanguageModel;
let checkpoint: Checkpoint;
let facts: string[];
/** A run that stored every score (top_k = layers x width): its fact and language (P17, en). */
let whole: { fact: string; language: string };


const q = async <T>(query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) => {
  const r = await gql<T>(url, query, variables, headers);
  expect(r.errors, JSON.stringify(r.errors)).toBeUndefined();
  return r.data!;
};

beforeAll(async () => {
  await truncateAll(store.pool);
  await importMlama(store.pool, join(ROOT, "seeds/mlama"), { languages: LANGUAGES, relations: [RELATION, "P17"] });
  checkpoint = await registerFolder(store.prisma, MODEL, join(ROOT, "models", MODEL));
  lm = await loadModel(join(ROOT, "models", MODEL));
  // the 5th to 7th P36 facts (import order): on demo-mbert the 5th and 7th have degenerate sets in zh
  const factsOf = async (relation: string, offset: number, n: number) =>
    (await store.pool.query<{ id: string }>(
      `SELECT f.id FROM fact f WHERE f.relation_id = $1 AND (SELECT count(*) FROM fact_label WHERE fact_id = f.id) = 3 ORDER BY f.key OFFSET $2 LIMIT $3`,
      [relation, offset, n],
    )).rows.map((r) => r.id);
  facts = await factsOf(RELATION, 4, FACTS);
  whole = { fact: (await factsOf("P17", 0, 1))[0], language: "en" };
  // runs as the indexer stores them (AMIG, degenerate sets, per-layer summaries), in one transaction per fact
  const contexts = await factContexts(store.pool, [
    ...facts.flatMap((factId) => LANGUAGES.map((language) => ({ factId, language }))),
    { factId: whole.fact, language: whole.language },
  ]);
  const model = attributionModel(lm);
  // gridMaxCells 0: the run keeps no grid (what the indexer does for a model larger than KN_INDEX_GRID_MAX_CELLS)
  const index = async (factId: string, languages: readonly string[], topK = 100, gridMaxCells = 0) => {
    const runs: RunRecord[] = [];
    for (const language of languages) {
      const job = { checkpointId: checkpoint.id, factId, language, ...DEFAULT_RUN_SETTING, topK, replace: false, dkn: true };
      runs.push(await computeRun(model, job, contexts.get(`${factId}|${language}`)!, paperSelection(language), { nLayers: lm.nLayers, ffnWidth: lm.ffnWidth, gridMaxCells }));
    }
    await withTransaction(store.pool, (db) => saveRuns(db, runs));
    return runs;
  };
  // the first fact's runs keep their grids, as the indexer does for the demo models by default
  for (const [i, f] of facts.entries()) await index(f, LANGUAGES, 100, i === 0 ? DEFAULT_INDEX_GRID_MAX_CELLS : 0);
  await index(whole.fact, [whole.language], lm.nLayers * lm.ffnWidth);
  host = new ThreadModelHost(store.url);
  server = await startApiServer(
    { prisma: store.prisma, pool: store.pool, version: "test", apiKeys: parseApiKeys("writer:w-secret:write"), queue: () => startQueue(store.url), modelHost: host },
    { port: 0, host: "127.0.0.1" },
  );
  url = server.url;
}, 600_000);

afterAll(async () => {
  await server?.stop();
  await host?.close();
  lm?.dispose();
  await store.close();
});

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe("models and runs", () => {
  it("model(name): architecture, layers, width, tokenizer; null for an unknown name", async () => {
    const d = await q<{ model: Record<string, unknown>; none: null }>(
      `{ model(name: "${MODEL}") { name architecture layers width hidden vocabSize registeredAt tokenizer { kind vocabSize files } } none: model(name: "nope") { name } }`,
    );
    expect(d.model).toMatchObject({ name: MODEL, architecture: "MASKED", layers: 4, width: 256, hidden: 64, vocabSize: 6000, tokenizer: { kind: "wordpiece", vocabSize: 6000 } });
    expect((d.model.tokenizer as { files: string[] }).files).toContain("tokenizer.json");
    expect(d.model.registeredAt).toMatch(ISO);
    expect(d.none).toBeNull();
  });

  it("Fact.runs and Fact.knowledgeNeurons: one run per language with prompt, answer, per-layer summaries and degenerate sets", async () => {
    const d = await q<{ fact: { runs: { language: string; prompt: string; prediction: string; goldProbability: number; createdAt: string; knowledgeNeurons: { layer: number; unit: number }[]; layerSummaries: { layer: number; knowledgeNeurons: number }[]; degenerateSets: unknown[] }[]; knowledgeNeurons: { neurons: { layer: number; unit: number }[] } } }>(
      `query($f: ID!) { fact(id: $f) { runs(model: "${MODEL}") { language prompt prediction goldProbability createdAt knowledgeNeurons { layer unit } layerSummaries { layer knowledgeNeurons } degenerateSets { jointProbability } }
         knowledgeNeurons(model: "${MODEL}", language: "fr") { neurons { layer unit } } } }`,
      { f: facts[0] },
    );
    expect(d.fact.runs.map((r) => r.language)).toEqual(LANGUAGES);
    for (const run of d.fact.runs) {
      expect(run.createdAt).toMatch(ISO);
      expect(run.layerSummaries.map((s) => s.layer)).toEqual([0, 1, 2, 3]);
      // the summaries count the run's knowledge neurons per layer
      run.layerSummaries.forEach((s) => expect(s.knowledgeNeurons).toBe(run.knowledgeNeurons.filter((n) => n.layer === s.layer).length));
    }
    expect(d.fact.knowledgeNeurons.neurons).toEqual(d.fact.runs[1].knowledgeNeurons);
    const stored = await store.pool.query("SELECT count(*)::int AS n FROM degenerate_set s JOIN attribution_run r ON r.id = s.run_id WHERE r.fact_key = (SELECT key FROM fact WHERE id = $1)", [facts[0]]);
    expect(d.fact.runs.reduce((n, r) => n + r.degenerateSets.length, 0)).toBe(stored.rows[0].n);
    // an unknown model is NOT_FOUND on this non-null list, null on the nullable knowledgeNeurons
    const bad = await gql<{ fact: { knowledgeNeurons: null } }>(url, `query($f: ID!) { fact(id: $f) { knowledgeNeurons(model: "nope", language: "en") { tau } } }`, { f: facts[0] });
    expect(bad.data!.fact.knowledgeNeurons).toBeNull();
    expect(codes(await gql(url, `query($f: ID!) { fact(id: $f) { runs(model: "nope") { id } } }`, { f: facts[0] }))).toEqual(["NOT_FOUND"]);
  });
});

describe("attributionGrid", () => {
  type Grid = { source: string; layers: number; width: number; maxScore: number; scores: number[]; run: { topNeurons: { layer: number; unit: number; score: number }[]; maxScore: number; layerSummaries: { layer: number; maxScore: number; maxUnit: number; positiveSum: number }[] } };
  const grid = (fact: string, language: string) =>
    gql<{ attributionGrid: Grid | null }>(
      url,
      `query($f: ID!, $l: String!) { attributionGrid(model: "${MODEL}", fact: $f, language: $l) { source layers width maxScore scores run { maxScore topNeurons { layer unit score } layerSummaries { layer maxScore maxUnit positiveSum } } } }`,
      { f: fact, l: language },
    );

  it("recomputes a top-K run's full grid through the model host, agrees with its stored top scores and summaries, then serves it from the cache", async () => {
    const first = await grid(facts[1], "zh");
    expect(first.errors).toBeUndefined();
    const g = first.data!.attributionGrid!;
    expect(g.source).toBe("COMPUTED");
    expect([g.layers, g.width, g.scores.length]).toEqual([4, 256, 1024]);
    const tol = 1e-4 * g.run.maxScore;
    // the stored top 100 are the grid's 100 highest cells, with the same scores
    for (const n of g.run.topNeurons) expect(Math.abs(g.scores[n.layer * 256 + n.unit] - n.score)).toBeLessThanOrEqual(tol);
    const hundredth = g.run.topNeurons.at(-1)!.score;
    expect(g.scores.filter((x) => x > hundredth + tol).length).toBeLessThan(100);
    expect(Math.abs(g.maxScore - g.run.maxScore)).toBeLessThanOrEqual(tol);
    // the per-layer summaries stored with the run describe the whole grid
    g.run.layerSummaries.forEach((s) => {
      const row = g.scores.slice(s.layer * 256, (s.layer + 1) * 256);
      expect(Math.abs(s.maxScore - Math.max(...row))).toBeLessThanOrEqual(tol);
      expect(Math.abs(row[s.maxUnit] - s.maxScore)).toBeLessThanOrEqual(tol);
      expect(Math.abs(s.positiveSum - row.filter((x) => x > 0).reduce((a, b) => a + b, 0))).toBeLessThanOrEqual(256 * tol);
    });
    const again = (await grid(facts[1], "zh")).data!.attributionGrid!;
    expect(again.source).toBe("CACHED");
    expect(again.scores).toEqual(g.scores);
  }, 120_000);

  it("serves the grid the indexer stored with the run: nothing recomputed, identical to a recomputation, its top scores exactly the stored ones", async () => {
    const { rows } = await store.pool.query<{ from_index: boolean }>(
      `SELECT g.from_index FROM run_grid g JOIN attribution_run r ON r.id = g.run_id AND r.checkpoint_id = g.checkpoint_id
        WHERE r.fact_key = (SELECT key FROM fact WHERE id = $1)`,
      [facts[0]],
    );
    expect(rows).toEqual(LANGUAGES.map(() => ({ from_index: true })));
    for (const language of LANGUAGES) {
      const first = await grid(facts[0], language);
      expect(first.errors).toBeUndefined();
      const g = first.data!.attributionGrid!;
      expect(g.source).toBe("STORED");
      expect([g.layers, g.width, g.scores.length]).toEqual([4, 256, 1024]);
      // float32 both: neuron_score's real, printed by PostgreSQL in its shortest exact form
      for (const n of g.run.topNeurons) expect(Math.fround(g.scores[n.layer * 256 + n.unit])).toBe(Math.fround(n.score));
      // what the model host computes again for the run (the path a grid without one takes)
      const again = await host.attributionGrid(hostCheckpoint(checkpoint), { factId: facts[0], language, setting: DEFAULT_RUN_SETTING });
      expect(g.scores).toEqual(Array.from(again.scores));
    }
  }, 120_000);

  it("reads the grid of a run that stored every score; null when there is no run or the model is unknown", async () => {
    const g = (await grid(whole.fact, whole.language)).data!.attributionGrid!;
    expect(g.source).toBe("STORED");
    expect(g.scores.length).toBe(1024);
    const stored = await store.pool.query<{ layer: number; unit: number; score: number }>(
      "SELECT u.layer, u.unit, u.score FROM neuron_score s JOIN attribution_run r ON r.id = s.run_id, unnest(s.layers, s.units, s.scores) AS u(layer, unit, score) WHERE r.fact_key = (SELECT key FROM fact WHERE id = $1) AND r.top_k = 1024",
      [whole.fact],
    );
    expect(stored.rows).toHaveLength(1024);
    for (const r of stored.rows) expect(g.scores[r.layer * 256 + r.unit]).toBeCloseTo(r.score, 6);
    expect((await grid(whole.fact, "fr")).data!.attributionGrid).toBeNull();
    expect((await gql(url, `{ attributionGrid(model: "nope", fact: "x", language: "en") { source } }`)).data).toEqual({ attributionGrid: null });
  });
});

describe("relation statistics", () => {
  /** Knowledge neurons per (fact, language), read straight from the table. */
  async function storedKn(): Promise<Map<string, Set<string>>> {
    const { rows } = await store.pool.query<{ fact_id: string; code: string; layer: number; unit: number }>(
      `SELECT f.id AS fact_id, l.code, k.layer, k.unit FROM knowledge_neuron k JOIN fact f ON f.key = k.fact_key JOIN language l ON l.key = k.language_key WHERE f.relation_id = $1`,
      [RELATION],
    );
    const out = new Map<string, Set<string>>();
    for (const r of rows) out.set(`${r.fact_id}|${r.code}`, (out.get(`${r.fact_id}|${r.code}`) ?? new Set()).add(`${r.layer}:${r.unit}`));
    return out;
  }

  it("languageOverlap: every ordered language pair, with mean shared neurons and Jaccard over the facts indexed in both", async () => {
    const d = await q<{ languageOverlap: { languages: string[]; relation: { id: string }; cells: { row: string; column: string; facts: number; meanShared: number; meanJaccard: number }[] } }>(
      `{ languageOverlap(model: "${MODEL}", relation: "${RELATION}") { languages relation { id } cells { row column facts meanShared meanJaccard } } }`,
    );
    const kn = await storedKn();
    expect(d.languageOverlap.languages).toEqual(LANGUAGES);
    expect(d.languageOverlap.cells.length).toBe(9);
    for (const cell of d.languageOverlap.cells) {
      const shared = facts.map((f) => [...(kn.get(`${f}|${cell.row}`) ?? [])].filter((n) => kn.get(`${f}|${cell.column}`)?.has(n)).length);
      const union = facts.map((f) => new Set([...(kn.get(`${f}|${cell.row}`) ?? []), ...(kn.get(`${f}|${cell.column}`) ?? [])]).size);
      expect(cell.facts).toBe(FACTS);
      expect(cell.meanShared).toBeCloseTo(shared.reduce((a, b) => a + b, 0) / FACTS, 9);
      expect(cell.meanJaccard).toBeCloseTo(shared.reduce((a, s, i) => a + (union[i] ? s / union[i] : 0), 0) / FACTS, 9);
    }
    const unknown = await gql(url, `{ a: languageOverlap(model: "nope", relation: "P36") { languages } b: languageOverlap(model: "${MODEL}", relation: "P999") { languages } }`);
    expect(unknown.data).toEqual({ a: null, b: null });
  });

  it("layerDistribution: knowledge neurons per layer and language (of one relation, or all)", async () => {
    const d = await q<{ layerDistribution: { language: string; runs: number; neurons: number; layers: { layer: number; neurons: number; share: number; perRun: number }[] }[] }>(
      `{ layerDistribution(model: "${MODEL}", relation: "${RELATION}", languages: ["zh", "en"]) { language runs neurons layers { layer neurons share perRun } } }`,
    );
    const kn = await storedKn();
    expect(d.layerDistribution.map((x) => x.language)).toEqual(["zh", "en"]);
    for (const dist of d.layerDistribution) {
      const all = facts.flatMap((f) => [...(kn.get(`${f}|${dist.language}`) ?? [])].map((n) => Number(n.split(":")[0])));
      expect(dist.runs).toBe(FACTS);
      expect(dist.neurons).toBe(all.length);
      expect(dist.layers.map((l) => l.neurons)).toEqual([0, 1, 2, 3].map((layer) => all.filter((x) => x === layer).length));
      dist.layers.forEach((l) => expect(l.perRun).toBeCloseTo(l.neurons / FACTS, 9));
    }
    // every relation: the P17 runs count too
    const everything = await q<{ layerDistribution: { runs: number }[] }>(`{ layerDistribution(model: "${MODEL}", languages: ["en", "zh"]) { runs } }`);
    expect(everything.layerDistribution.map((x) => x.runs)).toEqual([FACTS + 1, FACTS]);
  });

  it("indexingCoverage: facts, indexed facts, knowledge neurons and degenerate sets per model x relation x language", async () => {
    const d = await q<{ indexingCoverage: { model: string; relation: string; language: string; facts: number; indexed: number; share: number; knowledgeNeurons: number; degenerateSets: number }[] }>(
      `{ indexingCoverage(model: "${MODEL}") { model relation language facts indexed share knowledgeNeurons degenerateSets } }`,
    );
    // degenerate sets per relation and language, counted straight from the tables
    const sets = await store.pool.query<{ relation: string; language: string; n: number }>(
      `SELECT rel.id AS relation, l.code AS language, count(s.id)::int AS n FROM attribution_run r
         JOIN relation rel ON rel.key = r.relation_key JOIN language l ON l.key = r.language_key
         LEFT JOIN degenerate_set s ON s.run_id = r.id AND s.checkpoint_id = r.checkpoint_id GROUP BY 1, 2`,
    );
    expect(sets.rows.some((r) => r.n > 0)).toBe(true);
    for (const c of d.indexingCoverage) expect(c.degenerateSets, `${c.relation} ${c.language}`).toBe(sets.rows.find((r) => r.relation === c.relation && r.language === c.language)?.n ?? 0);
    expect(d.indexingCoverage.length).toBe(2 * LANGUAGES.length);
    const p36fr = d.indexingCoverage.find((c) => c.relation === RELATION && c.language === "fr")!;
    const labelled = await store.pool.query("SELECT count(*)::int AS n FROM fact_label fl JOIN fact f ON f.id = fl.fact_id WHERE f.relation_id = $1 AND fl.language_code = 'fr'", [RELATION]);
    const kn = await storedKn();
    expect(p36fr).toMatchObject({ facts: labelled.rows[0].n, indexed: FACTS, knowledgeNeurons: facts.reduce((n, f) => n + (kn.get(`${f}|fr`)?.size ?? 0), 0) });
    expect(p36fr.share).toBeCloseTo(FACTS / labelled.rows[0].n, 9);
    expect(d.indexingCoverage.find((c) => c.relation === "P17" && c.language === "en")!.indexed).toBe(1);
    expect(d.indexingCoverage.find((c) => c.relation === "P17" && c.language === "zh")!.indexed).toBe(0);
    expect(d.indexingCoverage.find((c) => c.relation === "P17" && c.language === "fr")!.indexed).toBe(0);
    expect((await gql(url, `{ indexingCoverage(model: "nope") { facts } }`)).data).toEqual({ indexingCoverage: null });
  });
});

describe("neuron pages", () => {
  let neuron: { layer: number; unit: number };
  beforeAll(async () => {
    const { rows } = await store.pool.query<{ layer: number; unit: number }>(
      `SELECT layer, unit FROM knowledge_neuron GROUP BY layer, unit ORDER BY count(DISTINCT fact_key) DESC, count(*) DESC, layer, unit LIMIT 1`,
    );
    neuron = rows[0];
  });

  it("facts ordered by score (paged), relation histogram, null for an unknown model, BAD_USER_INPUT out of range", async () => {
    type Page = { neuron: { unit: number; facts: { totalCount: number; edges: { node: { id: string }; score: number; languages: string[] }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }; relations: { relation: { id: string }; facts: number }[] } };
    const query = `query($l: Int!, $u: Int!, $a: String, $n: Int) { neuron(model: "${MODEL}", layer: $l, unit: $u) { unit
      facts(first: $n, after: $a) { totalCount edges { node { id } score languages } pageInfo { hasNextPage endCursor } } relations { relation { id } facts } } }`;
    const all = await q<Page>(query, { ...{ l: neuron.layer, u: neuron.unit }, n: 100 });
    const { rows } = await store.pool.query<{ fact_id: string; score: number }>(
      `SELECT f.id AS fact_id, max(k.score)::float8 AS score FROM knowledge_neuron k JOIN fact f ON f.key = k.fact_key WHERE k.layer = $1 AND k.unit = $2
       GROUP BY f.id, f.key ORDER BY max(k.score) DESC, f.key`,
      [neuron.layer, neuron.unit],
    );
    expect(all.neuron.facts.totalCount).toBe(rows.length);
    expect(all.neuron.facts.edges.map((e) => e.node.id)).toEqual(rows.map((r) => r.fact_id));
    expect(all.neuron.facts.edges.map((e) => e.score)).toEqual(rows.map((r) => r.score));
    // page by page (one fact a page) gives the same order
    const seen: string[] = [];
    let after: string | null = null;
    for (let i = 0; i < 100; i++) {
      const p: Page = await q<Page>(query, { l: neuron.layer, u: neuron.unit, a: after, n: 1 });
      seen.push(...p.neuron.facts.edges.map((e) => e.node.id));
      if (!p.neuron.facts.pageInfo.hasNextPage) break;
      after = p.neuron.facts.pageInfo.endCursor;
    }
    expect(seen).toEqual(rows.map((r) => r.fact_id));
    const byRelation = await store.pool.query<{ relation_id: string; n: number }>(
      `SELECT f.relation_id, count(DISTINCT f.id)::int AS n FROM knowledge_neuron k JOIN fact f ON f.key = k.fact_key WHERE k.layer = $1 AND k.unit = $2 GROUP BY 1 ORDER BY 2 DESC, 1`,
      [neuron.layer, neuron.unit],
    );
    expect(all.neuron.relations).toEqual(byRelation.rows.map((r) => ({ relation: { id: r.relation_id }, facts: r.n })));
    expect((await gql(url, `{ neuron(model: "nope", layer: 0, unit: 0) { unit } }`)).data).toEqual({ neuron: null });
    const out = await gql(url, `{ neuron(model: "${MODEL}", layer: 0, unit: 256) { unit } }`);
    expect(codes(out)).toEqual(["BAD_USER_INPUT"]);
    expect(out.errors![0].extensions!.argument).toBe("unit");
  });

  it("promotedTokens: the value vector through the output embedding, highest logits first", async () => {
    const d = await q<{ neuron: { promotedTokens: { id: number; token: string; logit: number }[] } }>(
      `query($l: Int!, $u: Int!) { neuron(model: "${MODEL}", layer: $l, unit: $u) { promotedTokens(top: 10) { id token logit } } }`,
      { l: neuron.layer, u: neuron.unit },
    );
    const tokens = d.neuron.promotedTokens;
    expect(tokens.length).toBe(10);
    // the demo model ties its output embedding to the input one: logit(t) = v · E[t]
    const [v] = await lm.getValueVectors([[neuron.layer, neuron.unit]]);
    const logit = async (id: number) => (await lm.wordEmbedding(id)).reduce((s, e, i) => s + e * v[i], 0);
    for (const t of tokens) {
      expect(t.logit).toBeCloseTo(await logit(t.id), 4);
      expect(t.token).toBe(lm.tokenizer.idToToken(t.id));
    }
    expect(tokens.map((t) => t.logit)).toEqual([...tokens.map((t) => t.logit)].sort((a, b) => b - a));
    // no other token beats the tenth
    for (let id = 0; id < lm.vocabSize; id += 37) if (!tokens.some((t) => t.id === id)) expect(await logit(id)).toBeLessThanOrEqual(tokens[9].logit + 1e-4);
  }, 120_000);

  it("degenerateSets of a neuron: the stored sets it belongs to, with their fact and language", async () => {
    const { rows } = await store.pool.query<{ layer: number; unit: number; n: number }>(
      "SELECT layer, unit, count(*)::int AS n FROM degenerate_member GROUP BY layer, unit ORDER BY n DESC, layer, unit LIMIT 1",
    );
    expect(rows.length, "the indexed facts have degenerate sets").toBeGreaterThan(0);
    const m = rows[0];
    const d = await q<{ neuron: { degenerateSets: { fact: { id: string }; language: string; set: { neurons: { layer: number; unit: number }[] } }[] } }>(
      `{ neuron(model: "${MODEL}", layer: ${m.layer}, unit: ${m.unit}) { degenerateSets(first: 100) { fact { id } language set { neurons { layer unit } } } } }`,
    );
    expect(d.neuron.degenerateSets.length).toBe(m.n);
    for (const s of d.neuron.degenerateSets) {
      expect(s.set.neurons).toContainEqual({ layer: m.layer, unit: m.unit });
      expect(facts.concat(whole.fact)).toContain(s.fact.id);
    }
  });

  it("an edit on the neuron: listed on its page and in the cross-lingual editing results", async () => {
    const apply = await gql<{ applyEdit: { id: string; appliedAt: string; effects: { language: string; related: boolean; probabilityBefore: number; probabilityAfter: number }[] } }>(
      url,
      `mutation($f: ID!, $l: Int!, $u: Int!) { applyEdit(input: { model: "${MODEL}", kind: SUPPRESS, target: EXPLICIT, fact: $f, language: "en", neurons: [{ layer: $l, unit: $u }], unrelatedSample: 2 }) {
         id appliedAt effects { language related probabilityBefore probabilityAfter } } }`,
      { f: facts[0], l: neuron.layer, u: neuron.unit },
      WRITE,
    );
    expect(apply.errors).toBeUndefined();
    const edit = apply.data!.applyEdit;
    expect(edit.appliedAt).toMatch(ISO);
    try {
      const page = await q<{ neuron: { edits: { id: string }[] } }>(`{ neuron(model: "${MODEL}", layer: ${neuron.layer}, unit: ${neuron.unit}) { edits { id } } }`);
      expect(page.neuron.edits.map((e) => e.id)).toEqual([edit.id]);
      const r = await q<{ editingResults: { kind: string; target: string; sourceLanguage: string; language: string; related: boolean; edits: number; measurements: number; meanChange: number }[] }>(
        `{ editingResults(model: "${MODEL}", relation: "${RELATION}") { kind target sourceLanguage language related edits measurements meanChange } }`,
      );
      for (const key of new Set(edit.effects.map((e) => `${e.language}|${e.related}`))) {
        const [language, related] = [key.split("|")[0], key.endsWith("|true")];
        const mine = edit.effects.filter((e) => e.language === language && e.related === related);
        const row = r.editingResults.find((x) => x.language === language && x.related === related)!;
        expect(row).toMatchObject({ kind: "SUPPRESS", target: "EXPLICIT", sourceLanguage: "en", edits: 1, measurements: mine.length });
        const mean = mine.reduce((s, e) => s + (e.probabilityAfter - e.probabilityBefore) / e.probabilityBefore, 0) / mine.length;
        expect(row.meanChange).toBeCloseTo(mean, 9);
      }
      expect((await gql(url, `{ editingResults(model: "nope") { edits } }`)).data).toEqual({ editingResults: null });
    } finally {
      await gql(url, `mutation($id: ID!) { revertEdit(id: $id) { status } }`, { id: edit.id }, WRITE);
    }
  }, 120_000);
});

describe("search, jobs, HTTP", () => {
  it("searchFacts: substring and prefix, any language or one, Chinese labels, served by the trigram indexes", async () => {
    const { rows } = await store.pool.query<{ fact_id: string; subject: string; object: string }>(
      `SELECT fl.fact_id, fl.subject, fl.object FROM fact_label fl JOIN fact f ON f.id = fl.fact_id WHERE fl.language_code = 'en' AND f.relation_id = $1 ORDER BY f.key LIMIT 1`,
      [RELATION],
    );
    const { fact_id, object } = rows[0];
    const middle = object.slice(1, 5).toUpperCase(); // case-insensitive, inside the label
    const d = await q<{ searchFacts: { fact: { id: string }; language: string; subject: string; object: string; field: string }[] }>(
      `query($t: String!) { searchFacts(text: $t, first: 100) { fact { id } language subject object field } }`,
      { t: middle },
    );
    const expected = await store.pool.query("SELECT count(*)::int AS n FROM fact_label WHERE subject ILIKE $1 OR object ILIKE $1", [`%${middle}%`]);
    expect(d.searchFacts.length).toBe(Math.min(100, expected.rows[0].n));
    expect(d.searchFacts).toContainEqual({ fact: { id: fact_id }, language: "en", subject: rows[0].subject, object, field: "OBJECT" });
    for (const hit of d.searchFacts) expect(`${hit.subject}\n${hit.object}`.toLowerCase()).toContain(middle.toLowerCase());

    const prefix = await q<{ searchFacts: { object: string; subject: string; language: string }[] }>(
      `query($t: String!) { searchFacts(text: $t, match: PREFIX, language: "en") { subject object language } }`,
      { t: object.slice(0, 3) },
    );
    expect(prefix.searchFacts.length).toBeGreaterThan(0);
    for (const hit of prefix.searchFacts) {
      expect(hit.language).toBe("en");
      expect([hit.subject, hit.object].some((x) => x.toLowerCase().startsWith(object.slice(0, 3).toLowerCase()))).toBe(true);
    }
    const zh = await store.pool.query<{ subject: string; fact_id: string }>("SELECT subject, fact_id FROM fact_label WHERE language_code = 'zh' AND fact_id = $1", [fact_id]);
    const chinese = await q<{ searchFacts: { fact: { id: string } }[] }>(`query($t: String!) { searchFacts(text: $t, language: "zh") { fact { id } } }`, { t: zh.rows[0].subject });
    expect(chinese.searchFacts.map((h) => h.fact.id)).toContain(fact_id);
    // wildcards are literal
    expect((await q<{ searchFacts: unknown[] }>(`{ searchFacts(text: "%") { language } }`)).searchFacts).toEqual([]);
    expect(codes(await gql(url, `{ searchFacts(text: "  ") { language } }`))).toEqual(["BAD_USER_INPUT"]);
    // the plan uses the trigram GIN indexes (sequential scans off: the test table is small)
    const client = await store.pool.connect();
    try {
      await client.query("SET enable_seqscan = off");
      const plan = (await client.query("EXPLAIN SELECT fact_id FROM fact_label WHERE subject ILIKE '%aris%' OR object ILIKE '%aris%'")).rows.map((r) => r["QUERY PLAN"]).join("\n");
      expect(plan).toMatch(/fact_label_subject_trgm/);
      expect(plan).toMatch(/fact_label_object_trgm/);
    } finally {
      client.release();
    }
  });

  it("indexJobs and indexJob: status enum, selection, DateTime, progress; null for an unknown id", async () => {
    const job = await insertIndexJob(store.pool, { checkpointId: checkpoint.id, setting: DEFAULT_RUN_SETTING, languages: ["fr"], relations: [RELATION], force: false });
    const d = await q<{ indexJobs: { id: string; status: string; languages: string[]; relations: string[]; createdAt: string; startedAt: string; total: number; done: number; pending: number; method: string; targetMode: string }[]; none: null }>(
      `{ indexJobs(model: "${MODEL}", status: [RUNNING]) { id status languages relations createdAt startedAt total done pending method targetMode } none: indexJob(id: "999999") { id } }`,
    );
    const labelled = await store.pool.query("SELECT count(*)::int AS n FROM fact_label fl JOIN fact f ON f.id = fl.fact_id WHERE f.relation_id = $1 AND fl.language_code = 'fr'", [RELATION]);
    expect(d.indexJobs).toEqual([
      { id: job!.id.toString(), status: "RUNNING", languages: ["fr"], relations: [RELATION], createdAt: expect.stringMatching(ISO), startedAt: expect.stringMatching(ISO), total: labelled.rows[0].n, done: FACTS, pending: labelled.rows[0].n - FACTS, method: "AMIG_COMPAT", targetMode: "CLEAN" },
    ]);
    expect(d.none).toBeNull();
    expect((await q<{ indexJobs: unknown[] }>(`{ indexJobs(status: [DONE]) { id } }`)).indexJobs).toEqual([]);
  });

  it("GET: queries with the preflight header, cacheable catalog answers, no-store for runs; refused without the header or for mutations", async () => {
    const catalog = await gqlGet<{ relation: { id: string } }>(url, `query($r: ID!) { relation(id: $r) { id label } }`, { r: RELATION });
    expect(catalog.status).toBe(200);
    expect(catalog.data!.relation.id).toBe(RELATION);
    expect(catalog.headers.get("cache-control")).toBe("max-age=60, public");
    const runs = await gqlGet(url, `query($f: ID!) { fact(id: $f) { runs { id } } }`, { f: facts[0] });
    expect(runs.status).toBe(200);
    expect(runs.headers.get("cache-control")).toBe("no-store");
    // a cross-site <img src> or form cannot add the header: Apollo's CSRF prevention refuses it
    const plain = await gqlGet(url, `{ relations { id } }`, {}, {});
    expect(plain.status).toBe(400);
    const mutation = await gqlGet(url, `mutation { recordFactCheck(model: "${MODEL}", subject: "a", relation: "P36", object: "b", language: "en") { id } }`);
    expect(mutation.status).toBe(405);
    expect(await store.pool.query("SELECT count(*)::int AS n FROM fact_check").then((r) => r.rows[0].n)).toBe(0);
  });

  it("Server-Timing: every answer states its server time, CPU time, pg statements and each root field's time", async () => {
    const timing = async (query: string) => {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query }) });
      expect(res.status).toBe(200);
      return new Map((res.headers.get("server-timing") ?? "").split(", ").map((e) => [e.split(";")[0], e]));
    };
    // the model's row is read once, then kept by the process (src/store/checkpoint-cache.ts)
    await timing(`{ model(name: "${MODEL}") { name } }`);
    const entries = await timing(`{ models { name } coverage: indexingCoverage(model: "${MODEL}") { indexed } }`);
    expect(new Set(entries.keys())).toEqual(new Set(["total", "cpu", "db", "field.models", "field.coverage"]));
    const dur = (name: string) => Number(/;dur=([\d.]+)/.exec(entries.get(name)!)![1]);
    expect(dur("total")).toBeGreaterThan(0);
    expect(dur("field.coverage")).toBeLessThanOrEqual(dur("total"));
    // through the pg pool: the coverage (models go through Prisma's own pool, the model by name
    // comes from the cache); the degenerate-set counts only when selected, then one statement for all rows
    expect(entries.get("db")).toMatch(/;desc="1 statements"$/);
    expect((await timing(`{ indexingCoverage(model: "${MODEL}") { indexed degenerateSets } }`)).get("db")).toMatch(/;desc="2 statements"$/);
  });

  it("a list of facts with knowledgeNeurons and languageIndependentNeurons on each: the per-fact answers, in a number of statements that does not grow with the list", async () => {
    const post = async <T>(query: string, variables: Record<string, unknown>) => {
      const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, variables }) });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { data?: T; errors?: unknown[] };
      expect(body.errors, JSON.stringify(body.errors)).toBeUndefined();
      const db = /db;dur=[\d.]+;desc="(\d+) statements"/.exec(res.headers.get("server-timing") ?? "");
      expect(db).not.toBeNull();
      return { data: body.data!, statements: Number(db![1]) };
    };
    type Set = { language: string; tau: number; prompt: string; neurons: { layer: number; unit: number; score: number }[] } | null;
    type Answers = { en: Set; fr: Set; zh: Set; likn: { layer: number; unit: number }[]; liknEnFr: { layer: number; unit: number }[] };
    const set = `{ language tau prompt neurons { layer unit score } }`;
    const perFact = `en: knowledgeNeurons(model: "${MODEL}", language: "en") ${set} fr: knowledgeNeurons(model: "${MODEL}", language: "fr") ${set}
      zh: knowledgeNeurons(model: "${MODEL}", language: "zh") ${set}
      likn: languageIndependentNeurons(model: "${MODEL}", languages: ["en", "fr", "zh"]) { layer unit }
      liknEnFr: languageIndependentNeurons(model: "${MODEL}", languages: ["fr", "en", "fr"]) { layer unit }`;
    // a page of the relation's facts (in id order, as `facts` pages them) from the first indexed fact
    // on, holding every indexed fact and facts without runs
    const ids = (await store.pool.query<{ id: string }>(`SELECT id FROM fact WHERE relation_id = $1 ORDER BY id`, [RELATION])).rows.map((r) => r.id);
    const at = facts.map((f) => ids.indexOf(f));
    const [from, to] = [Math.min(...at), Math.max(...at)];
    const after = from === 0 ? null : encodeCursor("fact", ids[from - 1]);
    const list = (n: number) =>
      post<{ facts: { edges: { node: { id: string } & Answers }[] } }>(
        `query($n: Int!, $after: String) { facts(relation: "${RELATION}", first: $n, after: $after) { edges { node { id ${perFact} } } } }`,
        { n, after },
      );
    await list(5); // the model's and relation's rows into the process's catalog cache
    const [small, large] = [await list(5), await list(Math.max(to - from + 3, 8))];
    const nodes = large.data.facts.edges.map((e) => e.node);
    expect(small.data.facts.edges.length).toBe(5);
    expect(nodes.length).toBeGreaterThanOrEqual(8);
    // the list holds the indexed facts (answers in every language) and facts without runs (null, [])
    for (const f of facts) expect(nodes.find((n) => n.id === f)?.en?.neurons.length).toBeGreaterThan(0);
    expect(nodes.some((n) => n.en === null && n.likn.length === 0)).toBe(true);
    expect(nodes.some((n) => n.liknEnFr.length > 0)).toBe(true);
    // each fact's answers are what the per-fact root queries answer
    for (const node of nodes) {
      const one = await post<{ en: Set; fr: Set; zh: Set; fact: Pick<Answers, "likn" | "liknEnFr"> }>(
        `query($f: ID!) { en: knowledgeNeurons(model: "${MODEL}", fact: $f, language: "en") ${set} fr: knowledgeNeurons(model: "${MODEL}", fact: $f, language: "fr") ${set}
           zh: knowledgeNeurons(model: "${MODEL}", fact: $f, language: "zh") ${set}
           fact(id: $f) { likn: languageIndependentNeurons(model: "${MODEL}", languages: ["en", "fr", "zh"]) { layer unit } liknEnFr: languageIndependentNeurons(model: "${MODEL}", languages: ["en", "fr"]) { layer unit } } }`,
        { f: node.id },
      );
      expect({ id: node.id, en: one.data.en, fr: one.data.fr, zh: one.data.zh, ...one.data.fact }).toEqual(node);
    }
    // one statement per field and (model, setting, language or language set), whatever the number
    // of facts: 5 such groups here (the page of facts comes through Prisma's pool)
    expect(large.statements).toBe(small.statements);
    expect(large.statements).toBe(5);
    // the single-fact root query stays one statement (the model from the catalog cache)
    expect((await post(`query($f: ID!) { knowledgeNeurons(model: "${MODEL}", fact: $f, language: "fr") ${set} }`, { f: facts[0] })).statements).toBe(1);
  });
});
