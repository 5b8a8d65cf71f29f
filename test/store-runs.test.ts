// The run and neuron tables: the bulk writer (idempotent, replace), partitions per checkpoint and
// dropping them, the set-based integrity of the neuron tables, settings kept apart in every
// query, and the language-overlap matrix against a count by hand.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunSetting } from "../src/attribution/run-setting.ts";
import { DEFAULT_RUN_SETTING } from "../src/attribution/run-setting.ts";
import { withTransaction } from "../src/store/client.ts";
import { degenerateSetsOfRun } from "../src/store/degenerate.ts";
import { factLanguageIndependentNeurons, relationLanguageIndependentNeurons, relationLanguageOverlap } from "../src/store/likn.ts";
import { factsOfNeuron, findRun, findRunWithKnowledgeNeurons, knowledgeNeuronsOfRuns, topScoresOfRuns } from "../src/store/neurons.ts";
import { clearCheckpointRuns } from "../src/store/partitions.ts";
import { relationAnswer } from "../src/store/relation-answers.ts";
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

const save = (runs: RunRecord[], replace = false) => withTransaction(store.pool, (db) => saveRuns(db, runs, { replace }));
const count = async (sql: string, params: unknown[] = []) => Number((await store.pool.query<{ n: string }>(sql, params)).rows[0].n);

beforeAll(async () => {
  await truncateAll(store.pool);
  await store.pool.query(`INSERT INTO relation (id, label) VALUES ('P1', 'test relation')`);
  await store.pool.query(`INSERT INTO language (code, name) SELECT unnest($1::text[]), 'test'`, [LANGUAGES]);
  await store.pool.query(`INSERT INTO fact (id, relation_id, subject_uri, object_uri) SELECT unnest($1::text[]), 'P1', 'Q1', 'Q2'`, [FACTS]);
  checkpoints = [];
  for (const name of ["cp-one", "cp-two"]) {
    const { rows } = await store.pool.query<{ id: number }>(
      `INSERT INTO checkpoint (name, architecture, model_type, n_layers, hidden, ffn_width, vocab_size, path, content_hash)
       VALUES ($1, 'MASKED', 'bert', 4, 64, 256, 100, '/x', $1) RETURNING id`,
      [name],
    );
    checkpoints.push(rows[0].id);
  }
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
      ["attribution_run", "degenerate_member", "degenerate_set", "knowledge_neuron", "neuron_score", "relation_answer", "relation_version"].map((t) => `${t}_c${checkpoints[0]}`),
    );
    const runs = allRuns(checkpoints[0]);
    const ids = await save(runs);
    expect(ids.size).toBe(8);
    expect(await count(`SELECT count(*) AS n FROM attribution_run_c${checkpoints[0]}`)).toBe(8);
    expect(await count(`SELECT count(*) AS n FROM knowledge_neuron_c${checkpoints[0]}`)).toBe(runs.reduce((n, r) => n + r.knowledgeNeurons.length, 0));
    expect(await count(`SELECT count(*) AS n FROM neuron_score_c${checkpoints[0]}`)).toBe(runs.reduce((n, r) => n + r.topNeurons.length, 0));
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
    expect((await topScoresOfRuns(store.pool, [stored])).get(stored.id)!.map((n) => [n.layer, n.unit])).toEqual(a.topNeurons.map((n) => [n.layer, n.unit]));
    expect((await degenerateSetsOfRun(store.pool, stored)).map((s) => s.members.map((m) => [m.layer, m.unit]))).toEqual([[[3, 1], [3, 2]]]);
  });

  it("stores a run once: a second save keeps the first, replace swaps it with its neuron rows", async () => {
    const runs = allRuns(checkpoints[0]);
    const before = await count(`SELECT count(*) AS n FROM neuron_score`);
    const first = await save(runs);
    const again = await save(runs);
    expect(again).toEqual(first);
    expect(await count(`SELECT count(*) AS n FROM neuron_score`)).toBe(before);
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

  it("keeps relation-level answers (LIKN of a relation, the overlap matrix) and recomputes them once runs of the relation are stored", async () => {
    const steps9: RunSetting = { ...DEFAULT_RUN_SETTING, steps: 9 };
    const likn = (languages: string[]) =>
      relationLanguageIndependentNeurons(store.pool, { checkpointId: checkpoints[0], setting: steps9, relationId: "P1", languages, minFacts: 1 }).then((rows) => rows.map((r) => [r.layer, r.unit, r.facts]));
    const overlap = () =>
      relationLanguageOverlap(store.pool, { checkpointId: checkpoints[0], setting: steps9, relationId: "P1", languages: ["de", "en"] }).then((cells) => cells.map((c) => [c.a, c.b, c.facts, c.shared]));
    const answers = () => count(`SELECT count(*) AS n FROM relation_answer WHERE checkpoint_id = $1`, [checkpoints[0]]);
    const before = await answers();
    expect(await likn(["en", "de"])).toEqual([]); // no run of this setting at all: nothing kept
    expect(await answers()).toBe(before);
    await save([run(checkpoints[0], "fact-a", "en", [[5, 5], [6, 6]], steps9), run(checkpoints[0], "fact-a", "de", [[5, 5]], steps9)]);
    expect(await likn(["en", "de"])).toEqual([[5, 5, 1]]);
    expect(await overlap()).toEqual([["de", "de", 1, 1], ["de", "en", 1, 1], ["en", "de", 1, 1], ["en", "en", 1, 2]]);
    expect(await answers()).toBe(before + 2);
    // the next ask reads the kept answer (proved by changing it behind the store's back), whatever the order of the languages
    await store.pool.query(`UPDATE relation_answer SET answer = '[{"layer": 7, "unit": 7, "facts": 99}]' WHERE kind = 'likn' AND args = 'de,en;1' AND checkpoint_id = $1`, [checkpoints[0]]);
    expect(await likn(["de", "en", "de"])).toEqual([[7, 7, 99]]);
    expect(await answers()).toBe(before + 2);
    // storing a run of the relation (in this setting) makes both answers out of date: recomputed from the runs
    await save([run(checkpoints[0], "fact-b", "en", [[5, 5]], steps9), run(checkpoints[0], "fact-b", "de", [[5, 5]], steps9)]);
    expect(await likn(["en", "de"])).toEqual([[5, 5, 2]]);
    expect(await overlap()).toEqual([["de", "de", 2, 2], ["de", "en", 2, 2], ["en", "de", 2, 2], ["en", "en", 2, 3]]);
    // replacing a run does too
    await save([run(checkpoints[0], "fact-b", "de", [[6, 6]], steps9)], true);
    expect(await likn(["en", "de"])).toEqual([[5, 5, 1]]);
    // runs of another setting or checkpoint leave the answers as they are
    const version = () => count(`SELECT version AS n FROM relation_version WHERE checkpoint_id = $1 AND setting_id = (SELECT id FROM run_setting WHERE steps = 9)`, [checkpoints[0]]);
    const v = await version();
    await save([run(checkpoints[1], "fact-c", "en", [[5, 5]], steps9)]);
    expect(await version()).toBe(v);
    // (keeping the recomputed LIKN answer deleted the relation's answers of older versions: the overlap's)
    expect(await answers()).toBe(before + 1);
    // at most maxKept answers of a kind per relation and version: beyond, answered but not kept;
    // answers of an older version are deleted when a new one is kept
    const ask = (args: string) => relationAnswer(store.pool, { checkpointId: checkpoints[0], setting: steps9, relationId: "P1", kind: "likn", args }, async () => [args], { maxKept: 2 });
    const kept = () => count(`SELECT count(*) AS n FROM relation_answer WHERE checkpoint_id = $1 AND args LIKE 'q%'`, [checkpoints[0]]);
    expect([await ask("q1"), await ask("q2"), await ask("q3")]).toEqual([["q1"], ["q2"], ["q3"]]);
    expect(await kept()).toBe(1); // "de,en;1" (kept above, at this version) and q1 fill the 2
    await save([run(checkpoints[0], "fact-c", "en", [[5, 5]], steps9)]);
    expect(await ask("q3")).toEqual(["q3"]);
    const steps9Answers = `SELECT count(*) AS n FROM relation_answer WHERE checkpoint_id = $1 AND setting_id = (SELECT id FROM run_setting WHERE steps = 9)`;
    expect(await count(steps9Answers, [checkpoints[0]])).toBe(1); // only q3, at the new version
  });

  it("refuses neuron rows of a missing run or with keys other than the run's, and never changes a run's key", async () => {
    const stored = (await findRun(store.pool, { checkpointId: checkpoints[0], setting: DEFAULT_RUN_SETTING, factId: "fact-b", language: "en" }))!;
    const before = await count(`SELECT count(*) AS n FROM neuron_score`);
    const refused = async (sql: string, params: unknown[]) => {
      const error = await store.pool.query(sql, params).then(() => null, (e: { code?: string }) => e);
      expect(error?.code, sql).toBe("23503");
    };
    await refused(`INSERT INTO neuron_score (run_id, checkpoint_id, rank, layer, unit, score) VALUES (999999, $1, 0, 0, 0, 0)`, [checkpoints[0]]);
    // right run id, wrong checkpoint: the run is not in that partition
    await refused(`INSERT INTO neuron_score (run_id, checkpoint_id, rank, layer, unit, score) VALUES ($1, $2, 99, 0, 0, 0)`, [stored.id.toString(), checkpoints[1]]);
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
    expect(await version()).toBe(v + 1);
    expect(await count(`SELECT count(*) AS n FROM neuron_score WHERE run_id = $1`, [stored.id.toString()])).toBe(0);
    expect(await count(`SELECT count(*) AS n FROM knowledge_neuron WHERE run_id = $1`, [stored.id.toString()])).toBe(0);
    await save([run(checkpoints[0], "fact-b", "en", NEURONS["fact-b"].en)]);
  });

  it("clears one checkpoint by dropping its partitions and leaves the other as it was", async () => {
    await save(allRuns(checkpoints[1]));
    const snapshot = async (cp: number) =>
      (await store.pool.query(`SELECT r.id, r.fact_key, r.language_key, k.layer, k.unit, k.rank FROM attribution_run r JOIN knowledge_neuron k ON k.run_id = r.id AND k.checkpoint_id = r.checkpoint_id WHERE r.checkpoint_id = $1 ORDER BY 1, 6`, [cp])).rows;
    const other = await snapshot(checkpoints[1]);
    expect(other.length).toBeGreaterThan(0);
    const dropped = await clearCheckpointRuns(store.pool, checkpoints[0]);
    expect(dropped.sort()).toEqual(
      ["attribution_run", "degenerate_member", "degenerate_set", "knowledge_neuron", "neuron_score", "relation_answer", "relation_version"].map((t) => `${t}_c${checkpoints[0]}`),
    );
    for (const table of ["attribution_run", "neuron_score", "knowledge_neuron", "degenerate_set", "degenerate_member", "relation_answer", "relation_version"]) {
      expect(await count(`SELECT count(*) AS n FROM ${table} WHERE checkpoint_id = $1`, [checkpoints[0]])).toBe(0);
    }
    expect(await snapshot(checkpoints[1])).toEqual(other);
    // the checkpoint's (empty) partitions are back: it can be indexed again
    expect((await save(allRuns(checkpoints[0]))).size).toBe(8);
  });

  it("drops the partitions of a deleted checkpoint (one without runs: the foreign key keeps the others)", async () => {
    const partitionsOf = async (id: number) =>
      (await store.pool.query<{ relname: string }>(`SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE c.relname LIKE '%\\_c' || $1`, [id])).rows.length;
    const { rows } = await store.pool.query<{ id: number }>(
      `INSERT INTO checkpoint (name, architecture, model_type, n_layers, hidden, ffn_width, vocab_size, path, content_hash)
       VALUES ('cp-gone', 'CAUSAL', 'gpt2', 2, 8, 16, 100, '/y', 'y') RETURNING id`,
    );
    expect(await partitionsOf(rows[0].id)).toBe(7);
    await store.pool.query(`DELETE FROM checkpoint WHERE id = $1`, [rows[0].id]);
    expect(await partitionsOf(rows[0].id)).toBe(0);
    const refused = await store.pool.query(`DELETE FROM checkpoint WHERE id = $1`, [checkpoints[1]]).then(() => null, (e: { code?: string }) => e);
    expect(refused?.code).toBe("23503");
    expect(await partitionsOf(checkpoints[1])).toBe(7);
  });
});
