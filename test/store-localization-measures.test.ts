// Stored localization measures (§13.2) on PostgreSQL: replaced per checkpoint, method and language,
// read back exactly, non-finite values refused without touching what is stored; and runs of the
// static method (enum value added by migration) kept apart from the other methods.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalizationMeasureRecord } from "../src/analysis/analysis-store.ts";
import { DEFAULT_RUN_SETTING } from "../src/attribution/run-setting.ts";
import { withTransaction } from "../src/store/client.ts";
import { indexedFacts } from "../src/store/indexed-facts.ts";
import { localizationMeasures, saveLocalizationMeasures, saveLocalizationResults, summarizeLocalization } from "../src/store/localization.ts";
import { type RunRecord, saveRuns } from "../src/store/runs.ts";
import { openTestStore, truncateAll } from "./helpers/store.ts";

const store = openTestStore();
let checkpointId = 0;
const amig = DEFAULT_RUN_SETTING;
const stat = { ...DEFAULT_RUN_SETTING, method: "static" as const };

const measure = (factId: string, suppressLogp: number, extra: Partial<LocalizationMeasureRecord> = {}): LocalizationMeasureRecord => ({
  neuronSet: "kn", draw: 0, factId, relationId: "P1", target: "related", seed: 0, targetFactId: factId, nNeurons: 3, pBase: 0.25,
  suppressRel: Math.exp(suppressLogp) - 1, suppressLogp, suppressFlip: suppressLogp < -1, enhanceRel: 0.5, enhanceLogp: Math.log(1.5), enhanceFlip: false, ...extra,
});

beforeAll(async () => {
  await truncateAll(store.pool);
  await store.pool.query(`INSERT INTO relation (id, label) VALUES ('P1', 'test relation')`);
  await store.pool.query(`INSERT INTO language (code, name) VALUES ('en', 'English'), ('de', 'German')`);
  await store.pool.query(`INSERT INTO fact (id, relation_id, subject_uri, object_uri) VALUES ('f1', 'P1', 'Q1', 'Q2'), ('f2', 'P1', 'Q3', 'Q4')`);
  await store.pool.query(`INSERT INTO fact_label (fact_id, language_code, subject, object) VALUES ('f1', 'en', 'France', 'Paris')`);
  await store.pool.query(`INSERT INTO template (relation_id, language_code, text) VALUES ('P1', 'en', 'The capital of [X] is [Y] .')`);
  const { rows } = await store.pool.query<{ id: number }>(
    `INSERT INTO checkpoint (name, architecture, model_type, n_layers, hidden, ffn_width, vocab_size, path, content_hash)
     VALUES ('cp', 'MASKED', 'bert', 4, 64, 256, 100, '/x', 'cp') RETURNING id`,
  );
  checkpointId = rows[0].id;
});
afterAll(async () => {
  await truncateAll(store.pool);
  await store.close();
});

describe("localization measures", () => {
  it("replace the rows of one method and language and read back exactly", async () => {
    await saveLocalizationMeasures(store.pool, { checkpointId, setting: amig, language: "en" }, [measure("f1", -2), measure("f2", -0.5, { neuronSet: "random", draw: 3 })]);
    await saveLocalizationMeasures(store.pool, { checkpointId, setting: amig, language: "de" }, [measure("f1", -1)]);
    await saveLocalizationMeasures(store.pool, { checkpointId, setting: amig, language: "en" }, [measure("f2", -3, { target: "same-relation", seed: 44, targetFactId: "f1" })]);
    const rows = await localizationMeasures(store.pool, { checkpointId });
    expect(rows).toEqual([
      { method: "amig-compat", language: "de", ...measure("f1", -1) },
      { method: "amig-compat", language: "en", ...measure("f2", -3, { target: "same-relation", seed: 44, targetFactId: "f1" }) },
    ]);
    expect(await localizationMeasures(store.pool, { checkpointId, languages: ["en"], methods: ["ig"] })).toEqual([]);
    // held-out phrasings are a separate set: stored beside the trained rows, read only when asked for
    await saveLocalizationMeasures(store.pool, { checkpointId, setting: amig, language: "en", templateSet: "heldout" }, [measure("f1", -0.25)]);
    expect(await localizationMeasures(store.pool, { checkpointId, templateSet: "heldout" })).toEqual([{ method: "amig-compat", language: "en", ...measure("f1", -0.25) }]);
    expect(await localizationMeasures(store.pool, { checkpointId })).toEqual(rows);
  });

  it("refuse a non-finite measure and keep what was stored", async () => {
    const before = await localizationMeasures(store.pool, { checkpointId });
    await expect(saveLocalizationMeasures(store.pool, { checkpointId, setting: amig, language: "en" }, [measure("f1", Number.NEGATIVE_INFINITY)])).rejects.toThrow(/not finite/);
    expect(await localizationMeasures(store.pool, { checkpointId })).toEqual(before);
  });
});

describe("the runs' setting (method, steps, target mode) is part of the measures' identity", () => {
  const fewSteps = { ...amig, steps: 5 };
  const compat = { ...amig, targetMode: "compat" as const };
  it("measures of runs with other steps or another target mode neither replace nor mix with the default setting's", async () => {
    await saveLocalizationMeasures(store.pool, { checkpointId, setting: amig, language: "de" }, [measure("f1", -1)]);
    await saveLocalizationMeasures(store.pool, { checkpointId, setting: fewSteps, language: "de" }, [measure("f1", -4)]);
    await saveLocalizationMeasures(store.pool, { checkpointId, setting: compat, language: "de" }, [measure("f2", -5)]);
    expect(await localizationMeasures(store.pool, { checkpointId, languages: ["de"] })).toEqual([{ method: "amig-compat", language: "de", ...measure("f1", -1) }]);
    expect(await localizationMeasures(store.pool, { checkpointId, languages: ["de"], steps: 5 })).toEqual([{ method: "amig-compat", language: "de", ...measure("f1", -4) }]);
    expect(await localizationMeasures(store.pool, { checkpointId, languages: ["de"], targetMode: "compat" })).toEqual([{ method: "amig-compat", language: "de", ...measure("f2", -5) }]);
  });

  it("per-fact results (§8) likewise; a non-finite result is refused, not stored as 0", async () => {
    const result = (suppressRelated: number) => ({ factId: "f1", relationId: "P1", unrelatedFactId: "f2", nNeurons: 3, suppressRelated, suppressUnrelated: -0.1, enhanceRelated: 0.2, enhanceUnrelated: 0 });
    await saveLocalizationResults(store.pool, { checkpointId, setting: amig, language: "en" }, [result(-0.5)]);
    await saveLocalizationResults(store.pool, { checkpointId, setting: fewSteps, language: "en" }, [result(-0.9)]);
    const summary = async (steps?: number) => (await summarizeLocalization(store.pool, { checkpointId, language: "en", byRelation: false, steps })).map((r) => [r.facts, r.suppressRelated]);
    expect(await summary()).toEqual([[1, -0.5]]);
    expect(await summary(5)).toEqual([[1, -0.9]]);
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY]) {
      await expect(saveLocalizationResults(store.pool, { checkpointId, setting: amig, language: "en" }, [result(bad)])).rejects.toThrow(/not finite/);
    }
    expect(await summary()).toEqual([[1, -0.5]]);
  });
});

describe("runs of the static method", () => {
  it("are stored with their method and found only under it", async () => {
    const run = (setting: typeof amig, unit: number): RunRecord => ({
      checkpointId, factId: "f1", languageCode: "en", relationId: "P1", ...setting,
      prompt: "p", goldTokenIds: [5], goldProbs: [0.5], goldProb: 0.5, predictedIds: [5], predictedText: "x", predictedProb: 0.5,
      tau: 0.3, tauRule: { rule: "paper" }, maxScore: 1, topK: 1, nLayers: 4, ffnWidth: 256, timings: { totalMs: 1 },
      topNeurons: [{ layer: 2, unit, score: 1 }], knowledgeNeurons: [{ layer: 2, unit, score: 1 }], degenerateSets: [],
    });
    await withTransaction(store.pool, (db) => saveRuns(db, [run(amig, 7), run(stat, 9)], { replace: false }));
    const of = async (setting: typeof amig) => (await indexedFacts(store.pool, { checkpointId, setting, languages: ["en"] })).map((f) => f.neurons);
    expect(await of(stat)).toEqual([[[2, 9]]]);
    expect(await of(amig)).toEqual([[[2, 7]]]);
  });
});
