// The batch indexer end to end on the test database, with the committed demo masked model (by
// name, as a user runs it) on the seed facts: kill -9 mid-run and resume, idempotence, and the
// GraphQL answers equal what `kn attribute` computes for the same fact.
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningServer, startApiServer } from "../src/api/server.ts";
import { parseApiKeys } from "../src/api/auth.ts";
import { ThreadModelHost } from "../src/api/model-host-thread.ts";
import { crossLingualEditing } from "../src/analysis/cross-lingual.ts";
import { evaluateLocalization } from "../src/analysis/localization.ts";
import { relativeChange } from "../src/attribution/editing.ts";
import { attributeFact, planFact, suppressedProbabilities } from "../src/attribution/fact-attribution.ts";
import { intersectNeurons } from "../src/attribution/likn.ts";
import { attributionModel } from "../src/attribution/model-port.ts";
import { DEFAULT_RUN_SETTING } from "../src/attribution/run-setting.ts";
import { startQueue } from "../src/indexer/queue.ts";
import { loadModel } from "../src/model/index.ts";
import { analysisStore } from "../src/store/analysis.ts";
import { importMlama, importWrongObjects } from "../src/store/import-mlama.ts";
import { codes, gql } from "./helpers/graphql.ts";
import { openTestStore, truncateAll } from "./helpers/store.ts";

const ROOT = join(import.meta.dirname, "..");
const MODEL = "demo-mbert";
const MODEL_DIR = join(ROOT, "models", MODEL);
// P17 (country): the relation the LIKN check names
const RELATION = "P17";
const SELECTION = ["--languages", "en,zh", "--relations", RELATION, "--quiet"];
const store = openTestStore();
const env = { ...process.env, DATABASE_URL: store.url };
const cli = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args], { cwd: ROOT, env, encoding: "utf8", timeout: 300_000 });
const count = async (sql: string) => Number((await store.pool.query(sql)).rows[0].n);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let expected = 0;

beforeAll(async () => {
  await truncateAll(store.pool);
  await store.pool.query("DROP SCHEMA IF EXISTS pgboss CASCADE");
  await importMlama(store.pool, join(ROOT, "seeds/mlama"), { languages: ["en", "zh"], relations: ["P36", "P17"] });
  expected = await count(`SELECT count(*) AS n FROM fact_label fl JOIN fact f ON f.id = fl.fact_id WHERE f.relation_id = '${RELATION}'`);
});
afterAll(async () => store.close());

/** Row counts of one model's runs, checking that no run is half-written. */
async function checkStoredRuns(model: string): Promise<Record<string, number>> {
  const runs = `attribution_run r JOIN checkpoint c ON c.id = r.checkpoint_id AND c.name = '${model}'`;
  const counts = {
    runs: await count(`SELECT count(*) AS n FROM ${runs}`),
    distinct: await count(`SELECT count(DISTINCT (fact_key, language_key)) AS n FROM ${runs}`),
    scores: await count(`SELECT COALESCE(sum(cardinality(s.scores)), 0) AS n FROM neuron_score s JOIN ${runs} ON r.id = s.run_id`),
    kns: await count(`SELECT count(*) AS n FROM knowledge_neuron k JOIN ${runs} ON r.id = k.run_id`),
  };
  // every run has exactly its top-K scores and its knowledge neurons: no run half-written
  expect(await count("SELECT count(*) AS n FROM attribution_run r WHERE top_k <> (SELECT COALESCE(sum(cardinality(s.scores)), 0) FROM neuron_score s WHERE s.run_id = r.id)")).toBe(0);
  expect(await count("SELECT count(*) AS n FROM attribution_run r WHERE n_knowledge <> (SELECT count(*) FROM knowledge_neuron k WHERE k.run_id = r.id)")).toBe(0);
  return counts;
}

/** `kn index` killed with SIGKILL once some runs are stored, then resumed, then re-run. */
async function killAndResume(model: string): Promise<void> {
  const selection = ["--model", model, ...SELECTION];
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "index", ...selection], { cwd: ROOT, env, stdio: "ignore" });
  const exited = new Promise((r) => child.on("exit", r));
  for (let i = 0; i < 600 && (await checkStoredRuns(model)).runs < 8; i++) await sleep(100);
  child.kill("SIGKILL");
  await exited;
  const partial = await checkStoredRuns(model);
  expect(partial.runs).toBeGreaterThanOrEqual(8);
  expect(partial.runs).toBeLessThan(expected);

  const resumed = cli(["index", ...selection]);
  expect(resumed.status, resumed.stderr).toBe(0);
  expect(resumed.stderr).toMatch(new RegExp(`${expected} runs, ${partial.runs} already stored`));
  const final = await checkStoredRuns(model);
  expect(final.runs).toBe(expected);
  expect(final.distinct).toBe(expected);
  expect(final.scores).toBe(expected * 100);

  const again = cli(["index", ...selection]);
  expect(again.status, again.stderr).toBe(0);
  expect(again.stderr).toMatch(new RegExp(`${expected} runs, ${expected} already stored, 0 queued`));
  expect(await checkStoredRuns(model)).toEqual(final);
}

describe("kn index", () => {
  it("survives SIGKILL mid-run: resuming finishes with no run lost and none stored twice", () => killAndResume(MODEL), 300_000);

  it("refuses bad input with exit code 2 and a message", () => {
    const r = cli(["index", "--model", "no-such-model", "--quiet"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown model "no-such-model"/);
    const m = cli(["index", "--model", MODEL_DIR, "--method", "shap", "--quiet"]);
    expect(m.status).toBe(2);
    expect(m.stderr).toMatch(/unknown --method "shap"/);
  });

  it("a selection that matches no fact exits 2 and stores no job", async () => {
    const jobs = await count("SELECT count(*) AS n FROM index_job");
    const r = cli(["index", "--model", MODEL, "--relations", "P999", "--quiet"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/no fact matches the selection/);
    expect(await count("SELECT count(*) AS n FROM index_job")).toBe(jobs);
  });
});

describe("GraphQL over the indexed runs", () => {
  let server: RunningServer;
  let modelHost: ThreadModelHost;
  let url: string;
  let factId: string;
  let prompt: { text: string; object: string };

  beforeAll(async () => {
    // the runs these tests read: indexed here when "kn index" above did not run (vitest -t "GraphQL")
    if ((await checkStoredRuns(MODEL)).runs < expected) {
      const indexed = cli(["index", "--model", MODEL, ...SELECTION]);
      expect(indexed.status, indexed.stderr).toBe(0);
    }
    server = await startApiServer(
      {
        prisma: store.prisma, pool: store.pool, version: "test", apiKeys: parseApiKeys("writer:w-secret:write,reader:r-secret:read"), queue: () => startQueue(store.url),
        modelHost: (modelHost = new ThreadModelHost(store.url)),
      },
      { port: 0, host: "127.0.0.1" },
    );
    url = server.url;
    const { rows } = await store.pool.query(
      `SELECT fl.fact_id, fl.subject, fl.object, t.text FROM fact_label fl JOIN fact f ON f.id = fl.fact_id
       JOIN template t ON t.relation_id = f.relation_id AND t.language_code = fl.language_code
       WHERE f.relation_id = '${RELATION}' AND fl.language_code = 'en' ORDER BY fl.fact_id LIMIT 1`,
    );
    factId = rows[0].fact_id;
    prompt = { text: rows[0].text.replace("[X]", rows[0].subject).replace("[Y]", "[MASK]"), object: rows[0].object };
  });
  afterAll(async () => {
    await server?.stop();
    await modelHost?.close();
  });

  it("knowledgeNeurons and attribution equal what kn attribute computes for the same fact", async () => {
    const r = cli(["attribute", "--model", MODEL_DIR, "--text", prompt.text, "--target", prompt.object, "--language", "en", "--json"]);
    expect(r.status, r.stderr).toBe(0);
    const cliOut = JSON.parse(r.stdout) as { knowledgeNeurons: [number, number, number][]; scores: number[][]; goldProb: number };
    const q = await gql<{
      knowledgeNeurons: { neurons: { layer: number; unit: number; score: number }[]; goldProbability: number; tau: number };
      attribution: { layers: number; width: number; topNeurons: { layer: number; unit: number; score: number }[] };
    }>(
      url,
      `query($f: ID!) {
        knowledgeNeurons(model: "${MODEL}", fact: $f, language: "en") { tau goldProbability neurons { layer unit score } }
        attribution(model: "${MODEL}", fact: $f, language: "en") { layers width topNeurons { layer unit score } }
      }`,
      { f: factId },
    );
    expect(q.errors).toBeUndefined();
    const max = Math.max(...cliOut.scores.flat().map(Math.abs));
    const api = q.data!.knowledgeNeurons.neurons;
    expect(api.map((n) => [n.layer, n.unit])).toEqual(cliOut.knowledgeNeurons.map(([l, u]) => [l, u]));
    api.forEach((n, i) => expect(Math.abs(n.score - cliOut.knowledgeNeurons[i][2])).toBeLessThanOrEqual(1e-6 * max));
    expect(q.data!.knowledgeNeurons.goldProbability).toBeCloseTo(cliOut.goldProb, 6);
    expect(q.data!.knowledgeNeurons.tau).toBe(0.3);

    const heat = q.data!.attribution;
    expect([heat.layers, heat.width]).toEqual([cliOut.scores.length, cliOut.scores[0].length]);
    const ranked = cliOut.scores.flatMap((row, layer) => row.map((score, index) => ({ layer, index, score }))).sort((a, b) => b.score - a.score);
    expect(heat.topNeurons).toHaveLength(100);
    heat.topNeurons.forEach((n, i) => expect(Math.abs(n.score - ranked[i].score)).toBeLessThanOrEqual(1e-6 * max));
  });

  it("neuron(...).facts lists the facts whose knowledge neurons include it, paged", async () => {
    const { rows } = await store.pool.query(
      `SELECT layer, unit, count(DISTINCT fact_key)::int AS n FROM knowledge_neuron GROUP BY layer, unit ORDER BY n DESC, layer, unit LIMIT 1`,
    );
    const { layer, unit, n } = rows[0];
    const seen: string[] = [];
    let after: string | null = null;
    for (let page = 0; page < 50; page++) {
      const r: Awaited<ReturnType<typeof gql<{ neuron: { facts: { totalCount: number; edges: { node: { id: string }; languages: string[] }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } } }>>> =
        await gql(url, `query($a: String) { neuron(model: "${MODEL}", layer: ${layer}, unit: ${unit}) { facts(first: 7, after: $a, orderBy: FACT) { totalCount edges { node { id } languages } pageInfo { hasNextPage endCursor } } } }`, { a: after });
      expect(r.errors).toBeUndefined();
      expect(r.data!.neuron.facts.totalCount).toBe(n);
      seen.push(...r.data!.neuron.facts.edges.map((e) => e.node.id));
      if (!r.data!.neuron.facts.pageInfo.hasNextPage) break;
      after = r.data!.neuron.facts.pageInfo.endCursor;
    }
    // pages follow the facts' integer keys
    const expectedFacts = await store.pool.query(
      `SELECT f.id AS fact_id FROM (SELECT DISTINCT fact_key FROM knowledge_neuron WHERE layer = $1 AND unit = $2) k JOIN fact f ON f.key = k.fact_key ORDER BY k.fact_key`,
      [layer, unit],
    );
    expect(seen).toEqual(expectedFacts.rows.map((r) => r.fact_id));
    expect(codes(await gql(url, `{ neuron(model: "${MODEL}", layer: 99, unit: 0) { layer } }`))).toEqual(["BAD_USER_INPUT"]);
    expect((await gql(url, `{ neuron(model: "nope", layer: 0, unit: 0) { layer } }`)).data).toEqual({ neuron: null }); // unknown ids: null
  });

  it("indexFacts needs a write key, and reports a job whose stored runs count as done", async () => {
    const mutation = `mutation { indexFacts(model: "${MODEL}", languages: ["en", "zh"], relations: ["${RELATION}"]) { id total done pending status } }`;
    expect(codes(await gql(url, mutation))).toEqual(["UNAUTHENTICATED"]);
    expect(codes(await gql(url, mutation, {}, { authorization: "Bearer r-secret" }))).toEqual(["FORBIDDEN"]);
    const jobsBefore = await count("SELECT count(*) AS n FROM index_job");
    const ok = await gql<{ indexFacts: { id: string; total: number; done: number; pending: number; status: string } }>(url, mutation, {}, { authorization: "Bearer w-secret" });
    expect(ok.errors).toBeUndefined();
    expect(ok.data!.indexFacts).toMatchObject({ total: expected, done: expected, pending: 0, status: "DONE" });
    expect(await count("SELECT count(*) AS n FROM index_job")).toBe(jobsBefore + 1);
    const job = await gql<{ indexJob: { total: number; eta: number } }>(url, `{ indexJob(id: "${ok.data!.indexFacts.id}") { total eta } }`);
    expect(job.data!.indexJob).toEqual({ total: expected, eta: 0 });
    const write = { authorization: "Bearer w-secret" };
    const jobs = await count("SELECT count(*) AS n FROM index_job");
    expect(codes(await gql(url, `mutation { indexFacts(model: "${MODEL}", languages: ["xx"]) { id } }`, {}, write))).toEqual(["NOT_FOUND"]);
    expect(codes(await gql(url, `mutation { indexFacts(model: "no-such-model") { id } }`, {}, write))).toEqual(["NOT_FOUND"]);
    expect(codes(await gql(url, `mutation { indexFacts(model: "${MODEL}", steps: 0) { id } }`, {}, write))).toEqual(["BAD_USER_INPUT"]);
    expect(codes(await gql(url, `mutation { indexFacts(model: "${MODEL}", relations: ["P999"]) { id } }`, {}, write))).toEqual(["BAD_USER_INPUT"]);
    expect(await count("SELECT count(*) AS n FROM index_job")).toBe(jobs);
  });

  /** The relation's en∩zh neurons over GraphQL equal the intersection of the stored per-language KNs. */
  async function expectLiknConsistent(model: string): Promise<void> {
    const { rows } = await store.pool.query(
      `SELECT f.id AS fact_id, l.code AS language_code, array_agg(ARRAY[k.layer, k.unit] ORDER BY k.rank) AS neurons
       FROM knowledge_neuron k JOIN checkpoint c ON c.id = k.checkpoint_id AND c.name = $1
       JOIN fact f ON f.key = k.fact_key JOIN language l ON l.key = k.language_key GROUP BY f.id, l.code`,
      [model],
    );
    const byFact = new Map<string, Map<string, [number, number][]>>();
    for (const r of rows) byFact.set(r.fact_id, (byFact.get(r.fact_id) ?? new Map()).set(r.language_code, r.neurons));
    const counts = new Map<string, number>();
    for (const langs of byFact.values()) {
      for (const [l, u] of intersectNeurons([langs.get("en") ?? [], langs.get("zh") ?? []])) counts.set(`${l}:${u}`, (counts.get(`${l}:${u}`) ?? 0) + 1);
    }
    const r = await gql<{ languageIndependentNeurons: { layer: number; unit: number; facts: number }[] }>(
      url,
      `{ languageIndependentNeurons(model: "${model}", relation: "${RELATION}", languages: ["en", "zh"]) { layer unit facts } }`,
    );
    expect(r.errors).toBeUndefined();
    expect(new Map(r.data!.languageIndependentNeurons.map((n) => [`${n.layer}:${n.unit}`, n.facts]))).toEqual(counts);
    expect(counts.size, `${model}: some ${RELATION} neuron is shared by en and zh`).toBeGreaterThan(0);

    const [fact] = [...byFact].find(([, langs]) => intersectNeurons([langs.get("en") ?? [], langs.get("zh") ?? []]).length > 0)!;
    const f = await gql<{ fact: { languageIndependentNeurons: { layer: number; unit: number }[] } }>(
      url,
      `query($f: ID!) { fact(id: $f) { languageIndependentNeurons(model: "${model}", languages: ["zh", "en"]) { layer unit } } }`,
      { f: fact },
    );
    const expectedSet = intersectNeurons([byFact.get(fact)!.get("en")!, byFact.get(fact)!.get("zh")!]).map(([l, u]) => `${l}:${u}`);
    expect(new Set(f.data!.fact.languageIndependentNeurons.map((n) => `${n.layer}:${n.unit}`))).toEqual(new Set(expectedSet));
  }

  it("languageIndependentNeurons equals the per-fact intersection of the stored knowledge neurons", async () => {
    await expectLiknConsistent(MODEL);
    expect(codes(await gql(url, `{ languageIndependentNeurons(model: "${MODEL}", relation: "${RELATION}", languages: []) { layer } }`))).toEqual(["BAD_USER_INPUT"]);
  });

  it("degenerateSets are justified: recomputing the suppressions with the model gives the stored probabilities", async () => {
    const { rows } = await store.pool.query(
      `SELECT f.id AS fact_id, fl.subject, fl.object, t.text FROM degenerate_set s
       JOIN attribution_run r ON r.id = s.run_id AND r.checkpoint_id = s.checkpoint_id
       JOIN fact f ON f.key = r.fact_key JOIN language l ON l.key = r.language_key
       JOIN fact_label fl ON fl.fact_id = f.id AND fl.language_code = l.code
       JOIN template t ON t.relation_id = f.relation_id AND t.language_code = l.code
       WHERE l.code = 'en' ORDER BY f.id LIMIT 1`,
    );
    expect(rows.length, "some fact has degenerate sets").toBe(1);
    const r = await gql<{ degenerateSets: { baseProbability: number; jointProbability: number; neurons: { layer: number; unit: number; aloneProbability: number }[] }[] }>(
      url,
      `query($f: ID!) { degenerateSets(model: "${MODEL}", fact: $f, language: "en") { baseProbability jointProbability neurons { layer unit aloneProbability } } }`,
      { f: rows[0].fact_id },
    );
    expect(r.errors).toBeUndefined();
    const lm = await loadModel(MODEL_DIR);
    const model = attributionModel(lm);
    const plan = await planFact(model, { template: rows[0].text, subject: rows[0].subject, object: rows[0].object, language: "en" });
    for (const set of r.data!.degenerateSets) {
      const neurons = set.neurons.map((n) => [n.layer, n.unit] as const);
      const [base, joint, ...alone] = await suppressedProbabilities(model, plan, [[], [...neurons], ...neurons.map((n) => [n])]);
      expect(set.baseProbability).toBeCloseTo(base, 9);
      expect(set.jointProbability).toBeCloseTo(joint, 9);
      expect(joint).toBeLessThan(0.75 * base);
      set.neurons.forEach((n, i) => {
        expect(n.aloneProbability).toBeCloseTo(alone[i], 9);
        expect(alone[i]).toBeGreaterThanOrEqual(0.8 * base);
      });
    }
    lm.dispose();
  });

  it("checkFact scores a statement by its attribution over the relation's degenerate neurons without storing it; recordFactCheck stores it", async () => {
    await importWrongObjects(store.pool, join(ROOT, "seeds/wrong-objects"), { languages: ["en", "zh"], relations: [RELATION] });
    const { rows } = await store.pool.query(
      `SELECT fl.subject, fl.object, t.text FROM fact_label fl JOIN fact f ON f.id = fl.fact_id
       JOIN template t ON t.relation_id = f.relation_id AND t.language_code = 'en'
       WHERE f.relation_id = '${RELATION}' AND fl.language_code = 'en' ORDER BY fl.fact_id LIMIT 1`,
    );
    const r = await gql<{ checkFact: { verdict: boolean; score: number; threshold: number; neurons: { layer: number; unit: number }[] } }>(
      url,
      `query($s: String!, $o: String!) { checkFact(model: "${MODEL}", subject: $s, relation: "${RELATION}", object: $o, language: "en") { verdict score threshold neurons { layer unit } } }`,
      { s: rows[0].subject, o: rows[0].object },
    );
    expect(r.errors).toBeUndefined();
    const check = r.data!.checkFact;
    expect(check.threshold).toBe(1e-6);
    expect(check.neurons.length).toBeGreaterThan(0);
    expect(check.verdict).toBe(check.score >= 1e-6);
    // the score is the mean AMIG attribution over the listed neurons
    const lm = await loadModel(MODEL_DIR);
    const a = await attributeFact(attributionModel(lm), { template: rows[0].text, subject: rows[0].subject, object: rows[0].object, language: "en" }, { method: "amig-compat", steps: 20 });
    const mean = check.neurons.reduce((s2, n) => s2 + a.scores[n.layer][n.unit], 0) / check.neurons.length;
    expect(check.score).toBeCloseTo(mean, 9);
    lm.dispose();
    expect(await count("SELECT count(*) AS n FROM fact_check")).toBe(0); // a query does not write

    const record = `mutation($s: String!, $o: String!) { recordFactCheck(model: "${MODEL}", subject: $s, relation: "${RELATION}", object: $o, language: "en") { id createdAt verdict score } }`;
    expect(codes(await gql(url, record, { s: rows[0].subject, o: rows[0].object }))).toEqual(["UNAUTHENTICATED"]);
    const stored = await gql<{ recordFactCheck: { id: string; createdAt: string; verdict: boolean; score: number } }>(url, record, { s: rows[0].subject, o: rows[0].object }, { authorization: "Bearer w-secret" });
    expect(stored.errors).toBeUndefined();
    expect(stored.data!.recordFactCheck).toMatchObject({ verdict: check.verdict, score: check.score });
    expect(await count("SELECT count(*) AS n FROM fact_check")).toBe(1);
    const listed = await gql<{ factChecks: { id: string; createdAt: string; subject: string; neurons: unknown[] }[] }>(url, `{ factChecks(model: "${MODEL}") { id createdAt subject neurons { layer unit } } }`);
    expect(listed.data!.factChecks).toEqual([{ id: stored.data!.recordFactCheck.id, createdAt: stored.data!.recordFactCheck.createdAt, subject: rows[0].subject, neurons: check.neurons }]);
    expect(listed.data!.factChecks[0].createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(codes(await gql(url, `{ checkFact(model: "${MODEL}", subject: "x", relation: "P999", object: "y", language: "en") { verdict } }`))).toEqual(["NOT_FOUND"]);
  });

  it("evaluateFactChecking needs a write key and reports counts on each relation's held-out 20 %", async () => {
    const mutation = `mutation { evaluateFactChecking(model: "${MODEL}", language: "en") { withDkn { positives negatives f1 precision codeRecall } baseline { positives } relations { relation neurons } } }`;
    expect(codes(await gql(url, mutation))).toEqual(["UNAUTHENTICATED"]);
    expect(codes(await gql(url, mutation, {}, { authorization: "Bearer r-secret" }))).toEqual(["FORBIDDEN"]);
    const write = { authorization: "Bearer w-secret" };
    const refused = [
      [`mutation { evaluateFactChecking(model: "no-such-model", language: "en") { language } }`, "NOT_FOUND"],
      [`mutation { evaluateFactChecking(model: "${MODEL}", language: "e n") { language } }`, "BAD_USER_INPUT"],
      // fr has no stored runs in this database, hence no degenerate neurons to check with
      [`mutation { evaluateFactChecking(model: "${MODEL}", language: "fr") { language } }`, "BAD_USER_INPUT"],
    ];
    for (const [q, code] of refused) expect(codes(await gql(url, q, {}, write)), q).toEqual([code]);
    expect(await count("SELECT count(*) AS n FROM fact_check_evaluation")).toBe(0);
    const r = await gql<{ evaluateFactChecking: { withDkn: { positives: number; negatives: number; precision: number; codeRecall: number }; baseline: { positives: number }; relations: { relation: string }[] } }>(
      url, mutation, {}, { authorization: "Bearer w-secret" });
    expect(r.errors).toBeUndefined();
    const e = r.data!.evaluateFactChecking;
    expect(e.relations.map((x) => x.relation)).toEqual([RELATION]);
    expect(e.withDkn.positives).toBe(Math.ceil(0.2 * (expected / 2)));
    expect(e.withDkn.negatives).toBe(e.withDkn.positives);
    expect(e.baseline.positives).toBe(e.withDkn.positives);
    expect(e.withDkn.codeRecall).toBe(e.withDkn.precision);
    const stored = await gql<{ factCheckingEvaluation: { withDkn: { positives: number } } }>(url, `{ factCheckingEvaluation(model: "${MODEL}", language: "en") { withDkn { positives } } }`);
    expect(stored.data!.factCheckingEvaluation.withDkn.positives).toBe(e.withDkn.positives);
  });

  it("cross-lingual editing (en–zh): the LIKN condition's suppression Δ equals a per-fact recomputation", async () => {
    const lm = await loadModel(MODEL_DIR);
    const model = attributionModel(lm);
    const { rows: [cp] } = await store.pool.query(`SELECT id FROM checkpoint WHERE name = $1`, [MODEL]);
    const results = await crossLingualEditing(analysisStore(store.pool), model, { checkpointId: cp.id, setting: DEFAULT_RUN_SETTING, source: "en", target: "zh" });
    expect(new Set(results.map((r) => r.condition))).toEqual(new Set(["likn", "src->tgt", "tgt->src", "joint"]));
    // independently: every fact with en∩zh neurons, its gold probability in zh before and with them suppressed
    const { rows } = await store.pool.query(
      `SELECT f.id AS fact_id, l.code AS language_code, fl.subject, fl.object, t.text, array_agg(ARRAY[k.layer, k.unit] ORDER BY k.rank) AS neurons
       FROM attribution_run r JOIN knowledge_neuron k ON k.run_id = r.id
       JOIN fact f ON f.key = r.fact_key JOIN language l ON l.key = r.language_key
       JOIN fact_label fl ON fl.fact_id = f.id AND fl.language_code = l.code
       JOIN template t ON t.relation_id = f.relation_id AND t.language_code = l.code
       WHERE r.checkpoint_id = $1 GROUP BY f.id, l.code, fl.subject, fl.object, t.text`,
      [cp.id],
    );
    const byFact = new Map<string, Map<string, (typeof rows)[number]>>();
    for (const r of rows) byFact.set(r.fact_id, (byFact.get(r.fact_id) ?? new Map()).set(r.language_code, r));
    const deltas: number[] = [];
    for (const langs of byFact.values()) {
      if (!langs.has("en") || !langs.has("zh")) continue;
      const shared = intersectNeurons([langs.get("en")!.neurons, langs.get("zh")!.neurons]);
      if (!shared.length) continue;
      const zh = langs.get("zh")!;
      const plan = await planFact(model, { template: zh.text, subject: zh.subject, object: zh.object, language: "zh" });
      const [base, suppressed] = await suppressedProbabilities(model, plan, [[], shared]);
      deltas.push(relativeChange(base, suppressed));
    }
    lm.dispose();
    const likn = results.find((r) => r.condition === "likn" && r.language === "zh")!;
    expect(likn.facts).toBe(deltas.length);
    expect(likn.suppressRelated).toBeCloseTo(deltas.reduce((a, b) => a + b, 0) / deltas.length, 5);
  });

  it("localization summarizes the stored per-fact changes with the reference outlier filter", async () => {
    const lm = await loadModel(MODEL_DIR);
    const model = attributionModel(lm);
    const { rows: [cp] } = await store.pool.query(`SELECT id FROM checkpoint WHERE name = $1`, [MODEL]);
    const n = await evaluateLocalization(analysisStore(store.pool), model, { checkpointId: cp.id, setting: DEFAULT_RUN_SETTING, language: "en" });
    lm.dispose();
    expect(n).toBeGreaterThan(0);
    const { rows } = await store.pool.query(`SELECT suppress_related, enhance_unrelated FROM localization_result WHERE language_code = 'en'`);
    expect(rows.length).toBe(n);
    const kept = rows.map((x) => x.suppress_related).filter((v: number) => v <= 20);
    const r = await gql<{ localization: { facts: number; suppressRelated: number; method: string }[] }>(url, `{ localization(model: "${MODEL}", language: "en") { facts suppressRelated method } }`);
    expect(r.errors).toBeUndefined();
    expect(r.data!.localization).toHaveLength(1);
    expect(r.data!.localization[0].facts).toBe(n);
    expect(r.data!.localization[0].method).toBe("AMIG_COMPAT");
    expect(r.data!.localization[0].suppressRelated).toBeCloseTo(kept.reduce((a: number, b: number) => a + b, 0) / kept.length, 9);
  });

  // Last, so that the queries above see one model's runs only.
  it("kn index on the causal demo model survives SIGKILL too, and its languageIndependentNeurons agree with its stored KNs", async () => {
    await killAndResume("demo-mgpt");
    await expectLiknConsistent("demo-mgpt");
  }, 300_000);
});
