// The run and neuron tables: the bulk writer (idempotent, replace), partitions per checkpoint and
// dropping them, the set-based integrity of the neuron tables, settings kept apart in every
// query, and the language-overlap matrix against a count by hand.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunSetting } from "../src/attribution/run-setting.ts";
import { DEFAULT_RUN_SETTING } from "../src/attribution/run-setting.ts";
import { BinaryCopyEncoder, copyBinary } from "../src/store/binary-copy.ts";
import { createPool, named, withTransaction } from "../src/store/client.ts";
import { degenerateSetsOfRun } from "../src/store/degenerate.ts";
import { factLanguageIndependentNeurons, relationLanguageIndependentNeurons, relationLanguageOverlap } from "../src/store/likn.ts";
import { factsOfNeuron, findRun, findRunWithKnowledgeNeurons, knowledgeNeuronsOfRuns, topScoresOfRuns } from "../src/store/neurons.ts";
import { clearCheckpointRuns } from "../src/store/partitions.ts";
import { RelationIndexCache, relationIndexes } from "../src/store/relation-answers.ts";
import { type RunRecord, runKey, saveRuns } from "../src/store/runs.ts";
import { openTestStore, truncateAll } from "./helpers/store.ts";

const store = openTestStore();
const FACTS = ["fact-a", "fact-b", "fact-c"];
const LANGUAGES = ["en", "de", "fr"];
let checkpoints: number[] = [];

/** A run whose knowledge neurons are `kn` (layer, unit), its top scores those and a few more. */
function run(checkpointId: number, factId: string, languageCode: string, kn: [number, number][], setting: RunSetting = DEFAULT_RUN_SETTING): RunRecord {
  const knowledgeNeurons = kn.map(([layer, unit], i) => ({ layer, unit, score: 1 - i / 10 }));
  const others = [0, 1, 2, 3].map((i) => ({ layer: 0, unit: 100 + i, score: 0.05 - i / 100 }));
  return {
    checkpointId, factId, languageCode, relationId: "P1", ...setting,
    prompt: `${factId} in ${languageCode}`, goldTokenIds: [5], goldProbs: [0.5], goldProb: 0.5, predictedIds: [5], predictedText: "x", predictedProb: 0.5,
    tau: 0.3, tauRule: { rule: "paper" }, maxScore: 1, topK: knowledgeNeurons.length + others.length, nLayers: 4, ffnWidth: 256, timings: { totalMs: 1 },
    topNeurons: [...knowledgeNeurons, ...others], knowledgeNeurons,
    degenerateSets: kn.length >= 2 ? [{ baseProb: 0.5, jointProb: 0.1, members: kn.slice(0, 2).map(([layer, unit]) => ({ layer, unit, aloneProb: 0.45 })) }] : [],
  };
}

// per fact and language: the knowledge neurons (fact-c has no fr run)
const NEURONS: Record<string, Record<string, [number, number][]>> = {
  "fact-a": { en: [[3, 1], [3, 2], [2, 7]], de: [[3, 1], [3, 2]], fr: [[3, 1], [1, 9]] },
  "fact-b": { en: [[3, 1], [2, 7]], de: [[2, 7], [3, 1], [3, 3]], fr: [[3, 3]] },
  "fact-c": { en: [[3, 2]], de: [[3, 2], [3, 1]] },
};
const allRuns = (checkpointId: number, setting?: RunSetting) =>
  Object.entries(NEURONS).flatMap(([fact, byLanguage]) => Object.entries(byLanguage).map(([language, kn]) => run(checkpointId, fact, language, kn, setting)));

/** A registered masked-LM checkpoint named `name` (its partitions made by the trigger); its id. */
async function addCheckpoint(name: string): Promise<number> {
  const { rows } = await store.pool.query<{ id: number }>(
    `INSERT INTO checkpoint (name, architecture, model_type, n_layers, hidden, ffn_width, vocab_size, path, content_hash)
     VALUES ($1, 'MASKED', 'bert', 4, 64, 256, 100, '/x', $1) RETURNING id`,
    [name],
  );
  return rows[0].id;
}

const save = (runs: RunRecord[], replace = false) => withTransaction(store.pool, (db) => saveRuns(db, runs, { replace }));
const count = async (sql: string, params: unknown[] = []) => Number((await store.pool.query<{ n: string }>(sql, params)).rows[0].n);

beforeAll(async () => {
  await truncateAll(store.pool);
  await store.pool.query(`INSERT INTO relation (id, label) VALUES ('P1', 'test relation')`);
  await store.pool.query(`INSERT INTO language (code, name) SELECT unnest($1::text[]), 'test'`, [LANGUAGES]);
  await store.pool.query(`INSERT INTO fact (id, relation_id, subject_uri, object_uri) SELECT unnest($1::text[]), 'P1', 'Q1', 'Q2'`, [FACTS]);
  checkpoints = [];
  for (const name of ["cp-one", "cp-two"]) checkpoints.push(await addCheckpoint(name));
});
afterAll(async () => {
  await truncateAll(store.pool);
  await store.close();
});

describe("the run and neuron tables", () => {
  it("a registered checkpoint has its partitions, and the writer fills them", async () => {
    const { rows } = await store.pool.query<{ relname: string }>(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relname LIKE '%\\_c' || $1 ORDER BY 1`,
      [checkpoints[0]],
    );
    expect(rows.map((r) => r.relname)).toEqual(
      ["attribution_run", "degenerate_member", "degenerate_set", "knowledge_neuron", "neuron_score", "relation_version"].map((t) => `${t}_c${checkpoints[0]}`),
    );
    const runs = allRuns(checkpoints[0]);
    const ids = await save(runs);
    expect(ids.size).toBe(8);
    expect(await count(`SELECT count(*) AS n FROM attribution_run_c${checkpoints[0]}`)).toBe(8);
    expect(await count(`SELECT count(*) AS n FROM knowledge_neuron_c${checkpoints[0]}`)).toBe(runs.reduce((n, r) => n + r.knowledgeNeurons.length, 0));
    // one score row per run, its top-K scores as arrays
    expect(await count(`SELECT count(*) AS n FROM neuron_score_c${checkpoints[0]}`)).toBe(8);
    expect(await count(`SELECT sum(cardinality(scores)) AS n FROM neuron_score_c${checkpoints[0]}`)).toBe(runs.reduce((n, r) => n + r.topNeurons.length, 0));
    // what was written reads back, in rank order
    const a = runs[0];
    const stored = (await findRun(store.pool, { checkpointId: checkpoints[0], setting: DEFAULT_RUN_SETTING, factId: a.factId, language: a.languageCode }))!;
    expect(stored.id).toBe(ids.get(runKey(a)));
    expect(stored).toMatchObject({ factId: "fact-a", languageCode: "en", relationId: "P1", method: "amig-compat", steps: 20, targetMode: "clean", prompt: a.prompt });
    const kn = (await knowledgeNeuronsOfRuns(store.pool, [stored])).get(stored.id)!;
    expect(kn.map((n) => [n.layer, n.unit, n.rank])).toEqual(a.knowledgeNeurons.map((n, i) => [n.layer, n.unit, i]));
    kn.forEach((n, i) => expect(n.score).toBeCloseTo(a.knowledgeNeurons[i].score, 6)); // stored as real
    // the API's one-statement read: the same run and the same neurons, scores bit for bit (JSON of a real)
    expect(await findRunWithKnowledgeNeurons(store.pool, { checkpointId: checkpoints[0], setting: DEFAULT_RUN_SETTING, factId: a.factId, language: a.languageCode })).toEqual({ run: stored, knowledgeNeurons: kn });
    expect(await findRunWithKnowledgeNeurons(store.pool, { checkpointId: checkpoints[0], setting: DEFAULT_RUN_SETTING, factId: "no-such-fact", language: "en" })).toBeNull();
    // every score exactly as the float32 written, in rank order
    expect((await topScoresOfRuns(store.pool, [stored])).get(stored.id)!.map((n) => ({ ...n, score: Math.fround(n.score) }))).toEqual(a.topNeurons.map((n, rank) => ({ layer: n.layer, unit: n.unit, score: Math.fround(n.score), rank })));
    expect((await degenerateSetsOfRun(store.pool, stored)).map((s) => s.members.map((m) => [m.layer, m.unit]))).toEqual([[[3, 1], [3, 2]]]);
  });

  it("stores a run once: a second save keeps the first, replace swaps it with its neuron rows", async () => {
    const runs = allRuns(checkpoints[0]);
    const before = await count(`SELECT count(*) AS n FROM neuron_score`);
    const sequence = () => count(`SELECT last_value AS n FROM run_setting_id_seq`);
    const drawn = await sequence();
    const first = await save(runs);
    const again = await save(runs);
    expect(again).toEqual(first);
    expect(await count(`SELECT count(*) AS n FROM neuron_score`)).toBe(before);
    // a known setting draws no value of its smallint id sequence (32 767 batches would exhaust it)
    expect(await sequence()).toBe(drawn);
    const changed = run(checkpoints[0], "fact-a", "en", [[1, 1]]);
    const replaced = await save([changed], true);
    expect(replaced.get(runKey(changed))).not.toBe(first.get(runKey(changed)));
    // the old run's scores, neurons and degenerate set are gone with it
    for (const table of ["neuron_score", "knowledge_neuron", "degenerate_set"]) {
      expect(await count(`SELECT count(*) AS n FROM ${table} WHERE run_id = $1`, [first.get(runKey(changed))!.toString()])).toBe(0);
    }
    const stored = (await findRun(store.pool, { checkpointId: checkpoints[0], setting: DEFAULT_RUN_SETTING, factId: "fact-a", language: "en" }))!;
    expect((await knowledgeNeuronsOfRuns(store.pool, [stored])).get(stored.id)!.map((n) => [n.layer, n.unit])).toEqual([[1, 1]]);
    await save([run(checkpoints[0], "fact-a", "en", NEURONS["fact-a"].en)], true);
  });

  it("keeps settings apart: runs of other steps or target modes never enter a query", async () => {
    const steps7: RunSetting = { ...DEFAULT_RUN_SETTING, steps: 7 };
    // with 7 steps every fact has neuron (0, 0) in every language
    await save(allRuns(checkpoints[0], steps7).map((r) => run(r.checkpointId, r.factId, r.languageCode, [[0, 0]], steps7)));
    const scope = { checkpointId: checkpoints[0], relationId: "P1", languages: ["en", "de"], minFacts: 1 };
    const default20 = await relationLanguageIndependentNeurons(store.pool, { ...scope, setting: DEFAULT_RUN_SETTING });
    // en∩de per fact: a {(3,1),(3,2)}, b {(3,1),(2,7)}, c {(3,2)}
    expect(default20.map((r) => [r.layer, r.unit, r.facts])).toEqual([[3, 1, 2], [3, 2, 2], [2, 7, 1]]);
    expect((await relationLanguageIndependentNeurons(store.pool, { ...scope, setting: steps7 })).map((r) => [r.layer, r.unit, r.facts])).toEqual([[0, 0, 3]]);
    expect(await relationLanguageIndependentNeurons(store.pool, { ...scope, setting: { ...DEFAULT_RUN_SETTING, targetMode: "compat" } })).toEqual([]);
    expect(await factLanguageIndependentNeurons(store.pool, { checkpointId: checkpoints[0], setting: DEFAULT_RUN_SETTING, factId: "fact-a", languages: ["en", "de", "fr"] })).toEqual([[3, 1]]);
    const page = await factsOfNeuron(store.pool, { checkpointId: checkpoints[0], setting: DEFAULT_RUN_SETTING, layer: 3, unit: 1, first: 2 });
    expect(page).toMatchObject({ totalCount: 3, hasNextPage: true });
    expect(page.rows.map((r) => [r.factId, r.languages])).toEqual([["fact-a", ["de", "en", "fr"]], ["fact-b", ["de", "en"]]]);
    const rest = await factsOfNeuron(store.pool, { checkpointId: checkpoints[0], setting: DEFAULT_RUN_SETTING, layer: 3, unit: 1, first: 2, afterFactKey: page.rows[1].factKey });
    expect(rest.rows.map((r) => [r.factId, r.languages])).toEqual([["fact-c", ["de"]]]);
  });

  it("counts the language-overlap matrix as a count by hand does", async () => {
    const cells = await relationLanguageOverlap(store.pool, { checkpointId: checkpoints[0], setting: DEFAULT_RUN_SETTING, relationId: "P1", languages: LANGUAGES });
    expect(cells.map((c) => `${c.a}${c.b}`)).toEqual(["enen", "ende", "enfr", "deen", "dede", "defr", "fren", "frde", "frfr"]);
    const key = (n: [number, number]) => `${n[0]}:${n[1]}`;
    for (const c of cells) {
      let facts = 0, shared = 0, union = 0, sharing = 0, jaccard = 0;
      for (const byLanguage of Object.values(NEURONS)) {
        if (!byLanguage[c.a] || !byLanguage[c.b]) continue;
        const a = new Set(byLanguage[c.a].map(key));
        const s = byLanguage[c.b].map(key).filter((n) => a.has(n)).length;
        const u = a.size + byLanguage[c.b].length - s;
        facts++, (shared += s), (union += u), (jaccard += s / u), (sharing += s > 0 ? 1 : 0);
      }
      expect(c, `${c.a}-${c.b}`).toMatchObject({ facts, shared, union, factsSharing: sharing });
      expect(c.meanJaccard).toBeCloseTo(jaccard / facts, 12);
      expect(c.jaccard).toBeCloseTo(shared / union, 12);
    }
  });

  it("keeps a relation's index per version: any language set from one load, reloaded once runs of the relation are stored, replaced or deleted, by any process", async () => {
    const steps9: RunSetting = { ...DEFAULT_RUN_SETTING, steps: 9 };
    // another API process (a replica) on the same database: its own indexes
    const replica = createPool(store.url);
    const likn = (languages: string[], pool = store.pool) =>
      relationLanguageIndependentNeurons(pool, { checkpointId: checkpoints[0], setting: steps9, relationId: "P1", languages, minFacts: 1 }).then((rows) => rows.map((r) => [r.layer, r.unit, r.facts]));
    const overlap = (pool = store.pool) =>
      relationLanguageOverlap(pool, { checkpointId: checkpoints[0], setting: steps9, relationId: "P1", languages: ["de", "en"] }).then((cells) => cells.map((c) => [c.a, c.b, c.facts, c.shared]));
    const cache = relationIndexes(store.pool);
    const loads = () => cache.loads;
    try {
      const before = loads();
      expect(await likn(["en", "de"])).toEqual([]); // no run of this setting at all: nothing kept
      expect(await likn(["en", "de"])).toEqual([]);
      expect(loads()).toBe(before + 2);
      await save([run(checkpoints[0], "fact-a", "en", [[5, 5], [6, 6]], steps9), run(checkpoints[0], "fact-a", "de", [[5, 5]], steps9)]);
      expect(await likn(["en", "de"])).toEqual([[5, 5, 1]]);
      expect(loads()).toBe(before + 3);
      // every other question on the relation at this version is answered from the kept index
      expect(await overlap()).toEqual([["de", "de", 1, 1], ["de", "en", 1, 1], ["en", "de", 1, 1], ["en", "en", 1, 2]]);
      expect(await likn(["de", "en", "de"])).toEqual([[5, 5, 1]]);
      expect(await likn(["en"])).toEqual([[5, 5, 1], [6, 6, 1]]);
      expect(await likn(["en", "fr"])).toEqual([]);
      expect(loads()).toBe(before + 3);
      // the replica loads its own, at the same version
      expect(await likn(["en", "de"], replica)).toEqual([[5, 5, 1]]);
      // storing a run of the relation (in this setting), from the replica, makes this process's index out of date
      await withTransaction(replica, (db) => saveRuns(db, [run(checkpoints[0], "fact-b", "en", [[5, 5]], steps9), run(checkpoints[0], "fact-b", "de", [[5, 5]], steps9)]));
      expect(await likn(["en", "de"])).toEqual([[5, 5, 2]]);
      expect(await overlap()).toEqual([["de", "de", 2, 2], ["de", "en", 2, 2], ["en", "de", 2, 2], ["en", "en", 2, 3]]);
      expect(loads()).toBe(before + 4);
      // replacing a run does too, and so does deleting one (the replica sees both)
      await save([run(checkpoints[0], "fact-b", "de", [[6, 6]], steps9)], true);
      expect(await likn(["en", "de"], replica)).toEqual([[5, 5, 1]]);
      expect(await likn(["en", "de"])).toEqual([[5, 5, 1]]);
      await store.pool.query(`DELETE FROM attribution_run WHERE checkpoint_id = $1 AND fact_key = (SELECT key FROM fact WHERE id = 'fact-a') AND setting_id = (SELECT id FROM run_setting WHERE steps = 9) AND language_key = (SELECT key FROM language WHERE code = 'de')`, [checkpoints[0]]);
      expect(await likn(["en", "de"], replica)).toEqual([]);
      expect(await likn(["en"])).toEqual([[5, 5, 2], [6, 6, 1]]);
      expect(loads()).toBe(before + 6);
      // runs of another setting or checkpoint leave the index as it is
      await save([run(checkpoints[1], "fact-c", "en", [[5, 5]], steps9), run(checkpoints[0], "fact-c", "en", [[5, 5]])]);
      expect(await likn(["en", "de"])).toEqual([]);
      expect(loads()).toBe(before + 6);
      // within a byte budget: the least recently used index goes first, one beyond the budget is not kept
      const nine = { checkpointId: checkpoints[0], setting: steps9, relationId: "P1" };
      const twenty = { ...nine, setting: DEFAULT_RUN_SETTING };
      const bytes = (await cache.get(nine)).bytes + (await cache.get(twenty)).bytes;
      const small = new RelationIndexCache(store.pool, bytes - 1);
      await small.get(nine);
      await small.get(twenty); // evicts nine
      await small.get(twenty);
      expect(small.loads).toBe(2);
      await small.get(nine);
      expect(small.loads).toBe(3);
      const tiny = new RelationIndexCache(store.pool, 10);
      await tiny.get(nine);
      await tiny.get(nine);
      expect([tiny.loads, tiny.bytes]).toEqual([2, 0]);
    } finally {
      await replica.end();
    }
  });

  it("loads every relation's index ahead (warm), so that the first asks load nothing, and stops when the byte budget is full", async () => {
    const steps11: RunSetting = { ...DEFAULT_RUN_SETTING, steps: 11 };
    await save(allRuns(checkpoints[0], steps11));
    const versions = await count(`SELECT count(*) AS n FROM relation_version`);
    expect(versions).toBeGreaterThan(0);
    const fresh = createPool(store.url);
    const small = createPool(store.url);
    try {
      const cache = relationIndexes(fresh);
      const warmed = await cache.warm();
      expect(warmed.loaded).toBe(versions);
      expect(warmed.bytes).toBeGreaterThan(0);
      const loads = cache.loads;
      const q = { checkpointId: checkpoints[0], setting: steps11, relationId: "P1", languages: ["en", "de"], minFacts: 1 };
      const answer = await relationLanguageIndependentNeurons(fresh, q);
      expect(cache.loads).toBe(loads);
      expect(answer).toEqual(await relationLanguageIndependentNeurons(store.pool, q));
      expect(answer.length).toBeGreaterThan(0);
      // a budget smaller than one index: the first load is not kept, and warming stops there
      expect(await new RelationIndexCache(small, 1).warm()).toEqual({ loaded: 1, bytes: 0 });
    } finally {
      await fresh.end();
      await small.end();
    }
  });

  it("answers LIKN of a relation and the overlap matrix from its index exactly as SQL over the stored runs does", async () => {
    // a relation of real stored runs: 12 facts × 4 languages, some runs missing or without neurons
    await store.pool.query(`INSERT INTO relation (id, label) VALUES ('P2', 'second') ON CONFLICT DO NOTHING`);
    await store.pool.query(`INSERT INTO language (code, name) VALUES ('zh', 'test') ON CONFLICT DO NOTHING`);
    const facts = Array.from({ length: 12 }, (_, i) => `p2-${i}`);
    await store.pool.query(`INSERT INTO fact (id, relation_id, subject_uri, object_uri) SELECT unnest($1::text[]), 'P2', 'Q1', 'Q2' ON CONFLICT DO NOTHING`, [facts]);
    const languages = ["en", "de", "fr", "zh"];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const runs = facts.flatMap((factId, f) =>
      languages
        .filter((_, l) => (f + l) % 5 !== 4)
        .map((language) => {
          const kn = [...new Map(Array.from({ length: Math.floor(next() * 6) }, () => [Math.floor(next() * 3), Math.floor(next() * 5)] as [number, number]).map((n) => [n.join(":"), n])).values()];
          return { ...run(checkpoints[1], factId, language, kn), relationId: "P2" };
        }),
    );
    await save(runs);
    const scope = { checkpointId: checkpoints[1], setting: DEFAULT_RUN_SETTING, relationId: "P2" };
    const params = (set: string[]) => [checkpoints[1], DEFAULT_RUN_SETTING.method, DEFAULT_RUN_SETTING.steps, DEFAULT_RUN_SETTING.targetMode, "P2", set];
    const where = `k.checkpoint_id = $1 AND k.setting_id = (SELECT id FROM run_setting WHERE method = $2::attribution_method AND steps = $3 AND target_mode = $4::target_mode)
      AND k.relation_key = (SELECT key FROM relation WHERE id = $5) AND k.language_key = ANY(ARRAY(SELECT key FROM language WHERE code = ANY($6::text[])))`;
    for (const set of [["en"], ["en", "de"], ["de", "zh"], ["en", "de", "fr"], languages]) {
      for (const minFacts of [1, 2, 3]) {
        // the definition in SQL: one run per (fact, language), each neuron once per run
        const { rows } = await store.pool.query<{ layer: number; unit: number; facts: number }>(
          `SELECT layer, unit, count(*)::int AS facts FROM (
             SELECT k.fact_key, k.layer, k.unit FROM knowledge_neuron k WHERE ${where}
             GROUP BY k.fact_key, k.layer, k.unit HAVING count(*) = $7) shared
           GROUP BY layer, unit HAVING count(*) >= $8 ORDER BY facts DESC, layer, unit`,
          [...params(set), set.length, minFacts],
        );
        expect(await relationLanguageIndependentNeurons(store.pool, { ...scope, languages: set, minFacts }), `${set} ${minFacts}`).toEqual(rows);
      }
      // the overlap: per fact with runs in both, |KN_a| from n_knowledge, the shared neurons by SQL
      const { rows } = await store.pool.query<{ a: string; b: string; facts: number; shared: number; union: number; sharing: number }>(
        `WITH runs AS (SELECT r.id, r.fact_key, l.code, r.n_knowledge FROM attribution_run r JOIN language l ON l.key = r.language_key
                       WHERE ${where.replaceAll("k.", "r.")}),
              pairs AS (SELECT a.code AS a, b.code AS b, a.n_knowledge AS na, b.n_knowledge AS nb,
                               (SELECT count(*) FROM knowledge_neuron x JOIN knowledge_neuron y ON (y.layer, y.unit) = (x.layer, x.unit)
                                WHERE x.run_id = a.id AND y.run_id = b.id)::int AS s
                        FROM runs a JOIN runs b ON b.fact_key = a.fact_key)
         SELECT a, b, count(*)::int AS facts, sum(s)::int AS shared, sum(na + nb - s)::int AS union, count(*) FILTER (WHERE s > 0)::int AS sharing
         FROM pairs GROUP BY a, b`,
        params(set),
      );
      const cells = await relationLanguageOverlap(store.pool, { ...scope, languages: set });
      for (const c of cells) {
        const want = rows.find((r) => r.a === c.a && r.b === c.b) ?? { facts: 0, shared: 0, union: 0, sharing: 0 };
        expect(c, `${c.a}-${c.b}`).toMatchObject({ facts: want.facts, shared: want.shared, union: want.union, factsSharing: want.sharing });
      }
    }
    // an answer asked again (the language set in any order) is the one kept with the index, until runs of the relation change
    const ask = () => relationLanguageIndependentNeurons(store.pool, { ...scope, languages: ["de", "en"], minFacts: 1 });
    const first = await ask();
    expect(await relationLanguageIndependentNeurons(store.pool, { ...scope, languages: ["en", "de", "en"], minFacts: 1 })).toBe(first);
    expect(await relationLanguageOverlap(store.pool, { ...scope, languages: ["de", "en"] })).toBe(await relationLanguageOverlap(store.pool, { ...scope, languages: ["de", "en"] }));
    const shared = first[0];
    await save(runs.filter((r) => r.languageCode === "en" || r.languageCode === "de").map((r) => ({ ...r, knowledgeNeurons: [], topNeurons: r.topNeurons.slice(0, 1) })), true);
    const after = await ask();
    expect(after).not.toContainEqual(shared);
    expect(after).toEqual([]);
  });

  it("refuses neuron rows of a missing run or with keys other than the run's, and never changes a run's key", async () => {
    const stored = (await findRun(store.pool, { checkpointId: checkpoints[0], setting: DEFAULT_RUN_SETTING, factId: "fact-b", language: "en" }))!;
    const before = await count(`SELECT count(*) AS n FROM neuron_score`);
    const refused = async (sql: string, params: unknown[]) => {
      const error = await store.pool.query(sql, params).then(() => null, (e: { code?: string }) => e);
      expect(error?.code, sql).toBe("23503");
    };
    await refused(`INSERT INTO neuron_score (run_id, checkpoint_id, layers, units, scores) VALUES (999999, $1, '{0}', '{0}', '{0}')`, [checkpoints[0]]);
    // right run id, wrong checkpoint: the run is not in that partition
    await refused(`INSERT INTO neuron_score (run_id, checkpoint_id, layers, units, scores) VALUES ($1, $2, '{0}', '{0}', '{0}')`, [stored.id.toString(), checkpoints[1]]);
    // the writer's binary COPY naming a missing run fails the same way
    const copy = new BinaryCopyEncoder(["int8", "int4", "int2[]", "int4[]", "float4[]"]);
    copy.row([999999, checkpoints[0], [1], [2], [0.5]]);
    const copied = await withTransaction(store.pool, (db) => copyBinary(db, "neuron_score", ["run_id", "checkpoint_id", "layers", "units", "scores"], copy)).then(() => null, (e: { code?: string }) => e);
    expect(copied?.code).toBe("23503");
    // arrays of different lengths (or with a NULL) are no run's scores
    for (const arrays of [`'{1,2}', '{1}', '{0.5}'`, `'{1}', '{NULL}', '{0.5}'`, `'[0:0]={1}', '[0:0]={1}', '[0:0]={0.5}'`]) {
      const error = await store.pool.query(`INSERT INTO neuron_score (run_id, checkpoint_id, layers, units, scores) VALUES ($1, $2, ${arrays})`, [stored.id.toString(), checkpoints[0]]).then(() => null, (e: { code?: string }) => e);
      expect(error?.code, arrays).toBe("23514");
    }
    const kn = await store.pool.query<Record<string, number>>(`SELECT * FROM knowledge_neuron WHERE run_id = $1 AND rank = 0`, [stored.id.toString()]);
    const k = kn.rows[0];
    await refused(
      `INSERT INTO knowledge_neuron (run_id, checkpoint_id, setting_id, relation_key, language_key, fact_key, layer, unit, score, rank) VALUES ($1, $2, $3, $4, $5, $6, 0, 0, 0, 50)`,
      [k.run_id, k.checkpoint_id, k.setting_id, k.relation_key, k.language_key + 1, k.fact_key],
    );
    expect(await count(`SELECT count(*) AS n FROM neuron_score`)).toBe(before);
    const update = await store.pool.query(`UPDATE attribution_run SET id = id + 1000 WHERE id = $1`, [stored.id.toString()]).then(() => null, (e: { code?: string }) => e);
    expect(update?.code).toBe("23000");
    // deleting runs deletes their neuron rows (and makes their relation's kept answers out of date)
    const version = async () => count(`SELECT COALESCE(sum(version), 0) AS n FROM relation_version WHERE checkpoint_id = $1`, [checkpoints[0]]);
    const v = await version();
    await store.pool.query(`DELETE FROM attribution_run WHERE id = $1 AND checkpoint_id = $2`, [stored.id.toString(), checkpoints[0]]);
    expect(await version()).toBeGreaterThan(v);
    expect(await count(`SELECT count(*) AS n FROM neuron_score WHERE run_id = $1`, [stored.id.toString()])).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM knowledge_neuron WHERE run_id = $1`, [stored.id.toString()])).toBe(0);
    await save([run(checkpoints[0], "fact-b", "en", NEURONS["fact-b"].en)]);
  });

  it("refuses a degenerate set of a missing run, and deletes or truncates sets and members with their runs", async () => {
    const refused = await store.pool
      .query(`INSERT INTO degenerate_set (checkpoint_id, run_id, base_prob, joint_prob) VALUES ($1, 999999, 0.5, 0.1)`, [checkpoints[0]])
      .then(() => null, (e: { code?: string }) => e);
    expect(refused?.code).toBe("23503");
    const stored = (await findRun(store.pool, { checkpointId: checkpoints[0], setting: DEFAULT_RUN_SETTING, factId: "fact-a", language: "en" }))!;
    const sets = `SELECT count(*) AS n FROM degenerate_set WHERE run_id = $1 AND checkpoint_id = $2`;
    const members = `SELECT count(*) AS n FROM degenerate_member m JOIN degenerate_set s ON s.id = m.set_id AND s.checkpoint_id = m.checkpoint_id`;
    expect(await count(sets, [stored.id.toString(), checkpoints[0]])).toBe(1);
    const before = await count(members);
    await store.pool.query(`DELETE FROM attribution_run WHERE id = $1 AND checkpoint_id = $2`, [stored.id.toString(), checkpoints[0]]);
    expect(await count(sets, [stored.id.toString(), checkpoints[0]])).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM degenerate_member`)).toBe(before - 2);
    // no member is left without its set
    expect(await count(`SELECT count(*) AS n FROM degenerate_member`)).toBe(await count(members));
    await store.pool.query(`TRUNCATE attribution_run`);
    expect(await count(`SELECT count(*) AS n FROM degenerate_set`)).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM degenerate_member`)).toBe(0);
    await save(allRuns(checkpoints[0]));
  });

  it("clears one checkpoint by dropping its partitions and leaves the other as it was", async () => {
    await save(allRuns(checkpoints[1]));
    const snapshot = async (cp: number) =>
      (await store.pool.query(`SELECT r.id, r.fact_key, r.language_key, k.layer, k.unit, k.rank FROM attribution_run r JOIN knowledge_neuron k ON k.run_id = r.id AND k.checkpoint_id = r.checkpoint_id WHERE r.checkpoint_id = $1 ORDER BY 1, 6`, [cp])).rows;
    const other = await snapshot(checkpoints[1]);
    expect(other.length).toBeGreaterThan(0);
    const likn = () => relationLanguageIndependentNeurons(store.pool, { checkpointId: checkpoints[0], setting: DEFAULT_RUN_SETTING, relationId: "P1", languages: ["en", "de"], minFacts: 1 });
    const kept = await likn();
    expect(kept.length).toBeGreaterThan(0);
    const dropped = await clearCheckpointRuns(store.pool, checkpoints[0]);
    expect(dropped.sort()).toEqual(
      ["attribution_run", "degenerate_member", "degenerate_set", "knowledge_neuron", "neuron_score", "relation_version"].map((t) => `${t}_c${checkpoints[0]}`),
    );
    for (const table of ["attribution_run", "neuron_score", "knowledge_neuron", "degenerate_set", "degenerate_member", "relation_version"]) {
      expect(await count(`SELECT count(*) AS n FROM ${table} WHERE checkpoint_id = $1`, [checkpoints[0]])).toBe(0);
    }
    expect(await snapshot(checkpoints[1])).toEqual(other);
    // the relation's index of the cleared runs is not used (its version went with them)
    expect(await likn()).toEqual([]);
    // the checkpoint's (empty) partitions are back: it can be indexed again
    expect((await save(allRuns(checkpoints[0]))).size).toBe(8);
    expect(await likn()).toEqual(kept);
  });

  it("drops the partitions of a deleted checkpoint (one without runs: the foreign key keeps the others)", async () => {
    const partitionsOf = async (id: number) =>
      (await store.pool.query<{ relname: string }>(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relname LIKE '%\\_c' || $1`, [id])).rows.length;
    const { rows } = await store.pool.query<{ id: number }>(
      `INSERT INTO checkpoint (name, architecture, model_type, n_layers, hidden, ffn_width, vocab_size, path, content_hash)
       VALUES ('cp-gone', 'CAUSAL', 'gpt2', 2, 8, 16, 100, '/y', 'y') RETURNING id`,
    );
    expect(await partitionsOf(rows[0].id)).toBe(6);
    await store.pool.query(`DELETE FROM checkpoint WHERE id = $1`, [rows[0].id]);
    expect(await partitionsOf(rows[0].id)).toBe(0);
    const refused = await store.pool.query(`DELETE FROM checkpoint WHERE id = $1`, [checkpoints[1]]).then(() => null, (e: { code?: string }) => e);
    expect(refused?.code).toBe("23503");
    expect(await partitionsOf(checkpoints[1])).toBe(6);
  });

  it("checks a batch's runs by key probes however much the partitions have grown since the connection's first batch", async () => {
    // a writer's connection stores its first batch while the next checkpoint's partition is empty,
    // then (after other writers filled that partition) a batch there: the run checks of neuron_score
    // and knowledge_neuron must read a few index entries per run, not the whole partition
    const bulkFacts = Array.from({ length: 1200 }, (_, i) => `bulk-${i}`);
    await store.pool.query(`INSERT INTO fact (id, relation_id, subject_uri, object_uri) SELECT unnest($1::text[]), 'P1', 'Q1', 'Q2'`, [bulkFacts]);
    const ids: number[] = [];
    for (const name of ["cp-first", "cp-filled"]) ids.push(await addCheckpoint(name));
    const writer = createPool(store.url, { max: 1 });
    try {
      await withTransaction(writer, (db) => saveRuns(db, [run(ids[0], "bulk-0", "en", [[3, 1]])]));
      await save(bulkFacts.slice(0, 1000).map((f) => run(ids[1], f, "en", [[3, 1], [2, 7]])));
      const batch = bulkFacts.slice(1000, 1010).map((f) => run(ids[1], f, "en", [[3, 1], [2, 7]]));
      const read = await withTransaction(writer, async (db) => {
        await saveRuns(db, batch);
        const { rows } = await db.query<{ n: string }>(
          `SELECT sum(pg_stat_get_xact_tuples_returned(indexrelid)) AS n FROM pg_index WHERE indrelid = $1::regclass`,
          [`attribution_run_c${ids[1]}`],
        );
        return Number(rows[0].n);
      });
      expect(read).toBeLessThan(100); // index entries read in the partition: a scan of it per run reads 10 x 1000
    } finally {
      await writer.end();
    }
  });

  it("keeps a neuron's fact count while the checkpoint's runs are unchanged, and counts again after runs are stored or cleared", async () => {
    const id = await addCheckpoint("cp-counts");
    const facts = Array.from({ length: 40 }, (_, i) => `count-${i}`);
    await store.pool.query(`INSERT INTO fact (id, relation_id, subject_uri, object_uri) SELECT unnest($1::text[]), 'P1', 'Q1', 'Q2'`, [facts]);
    const reader = createPool(store.url, { max: 1 });
    // index entries the reader's statements read in the partition's indexes (its statistics flushed first)
    const entriesRead = async () => {
      await reader.query(named(`SELECT pg_stat_force_next_flush()`, []));
      const { rows } = await store.pool.query<{ n: number }>(`SELECT coalesce(sum(idx_tup_read), 0)::int AS n FROM pg_stat_user_indexes WHERE relname = $1`, [`knowledge_neuron_c${id}`]);
      return rows[0].n;
    };
    const page = () => factsOfNeuron(reader, { checkpointId: id, setting: DEFAULT_RUN_SETTING, layer: 2, unit: 5, first: 3 });
    try {
      await save(facts.slice(0, 30).map((f) => run(id, f, "en", [[2, 5], [1, 1]])));
      let before = await entriesRead();
      expect((await page()).totalCount).toBe(30);
      const counting = (await entriesRead()) - before;
      before = await entriesRead();
      const again = await page();
      const kept = (await entriesRead()) - before;
      expect(again.totalCount).toBe(30);
      expect(again.rows.map((r) => r.factId)).toEqual(["count-0", "count-1", "count-2"]);
      expect(counting).toBeGreaterThanOrEqual(30); // the count reads every entry of the neuron
      expect(kept).toBeLessThan(counting - 20); // the page alone: a few
      await save(facts.slice(30).map((f) => run(id, f, "de", [[2, 5]])));
      expect((await page()).totalCount).toBe(40);
      await clearCheckpointRuns(store.pool, id);
      expect(await page()).toEqual({ rows: [], totalCount: 0, hasNextPage: false });
    } finally {
      await reader.end();
    }
  });

  it("plans the API's named statements once per connection (a generic plan), and leaves unnamed statements to PostgreSQL", async () => {
    await save(allRuns(checkpoints[0]));
    const ask = { checkpointId: checkpoints[0], setting: DEFAULT_RUN_SETTING, factId: "fact-b", language: "de" };
    const answers: unknown[] = [];
    for (const genericPlans of [true, false]) {
      // the connection string's own options are kept beside the plan setting
      const pool = createPool(`${store.url}${store.url.includes("?") ? "&" : "?"}options=${encodeURIComponent("-c work_mem=1234kB")}`, { max: 1, genericPlans });
      try {
        for (let i = 0; i < 8; i++) answers.push(await findRunWithKnowledgeNeurons(pool, ask));
        // the same (single) connection the knowledge-neuron reads ran on: how each was planned
        const { rows } = await pool.query<{ generic: number; custom: number; mode: string; work_mem: string }>(
          named(
            `SELECT sum(generic_plans)::int AS generic, sum(custom_plans)::int AS custom, current_setting('plan_cache_mode') AS mode, current_setting('work_mem') AS work_mem
             FROM pg_prepared_statements WHERE statement LIKE $1`,
            ["%AS knowledge_neurons%"],
          ),
        );
        const unnamed = (await pool.query<{ mode: string }>(`SELECT current_setting('plan_cache_mode') AS mode`)).rows[0].mode;
        expect(unnamed).toBe("auto");
        expect(rows[0].work_mem).toBe("1234kB");
        // PostgreSQL's own choice never settles on the generic plan here: over a partitioned table
        // its estimate counts every partition, so it plans each execution anew
        expect(rows[0]).toMatchObject(genericPlans ? { generic: 8, custom: 0, mode: "force_generic_plan" } : { generic: 0, custom: 8, mode: "auto" });
      } finally {
        await pool.end();
      }
    }
    expect(answers[0]).not.toBeNull();
    for (const a of answers) expect(a).toEqual(answers[0]);
  });
});
