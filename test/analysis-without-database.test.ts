// The analyses run on any AnalysisStore: here plain objects, no database anywhere. The numbers
// they report are checked against an independent path (the model's suppressed probabilities).
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnalysisStore, IndexedFact, LocalizationMeasureRecord, LocalizationRecord, RunScope } from "../src/analysis/analysis-store.ts";
import { checkStatement } from "../src/analysis/fact-checking.ts";
import { evaluateEditing } from "../src/analysis/edit-evaluation.ts";
import { layerCounts, randomPerLayer, topPerLayer } from "../src/analysis/controls.ts";
import { degenerateValidity, layerDistributions } from "../src/analysis/degenerate.ts";
import { findDegenerateSets } from "../src/attribution/dkn.ts";
import { evaluateLocalization, measureLocalization } from "../src/analysis/localization.ts";
import { seededRandom } from "../src/analysis/random.ts";
import { relativeChange } from "../src/attribution/editing.ts";
import { attributeFact, planFact, suppressedProbabilities } from "../src/attribution/fact-attribution.ts";
import { attributionModel, type FactModel, type Neuron } from "../src/attribution/model-port.ts";
import { DEFAULT_RUN_SETTING, type RunSetting } from "../src/attribution/run-setting.ts";
import { selectKnowledgeNeurons, tauFor } from "../src/attribution/selection.ts";
import { type LanguageModel, loadModel } from "../src/model/index.ts";

const TEMPLATE = "The capital of [X] is [Y] .";
const CAPITALS: [string, string, string][] = [
  ["f-fr", "France", "Paris"],
  ["f-de", "Germany", "Berlin"],
  ["f-it", "Italy", "Rome"],
  ["f-jp", "Japan", "Tokyo"],
];

/** An AnalysisStore over arrays, recording what the analyses asked and saved. */
function memoryStore(facts: IndexedFact[], degenerate: Map<string, Neuron[][]>) {
  const asked: RunSetting[] = [];
  const saved: LocalizationRecord[] = [];
  const measures: LocalizationMeasureRecord[] = [];
  const store: AnalysisStore = {
    indexedFacts: async (q) => {
      asked.push(q.setting);
      return facts.filter((f) => q.languages.includes(f.language));
    },
    factCheckItems: async () => [],
    factLabels: async (ids) => facts.filter((f) => ids.includes(f.factId)).map((f) => ({ ...f, neurons: [] })),
    degenerateNeuronsByFact: async (q: RunScope) => {
      asked.push(q.setting);
      return degenerate;
    },
    saveLocalization: async (_q, results) => {
      saved.push(...results);
    },
    saveLocalizationMeasures: async (_q, rows) => {
      measures.push(...rows);
    },
  };
  return { store, asked, saved, measures };
}

describe("analyses without a database", () => {
  let lm: LanguageModel;
  let model: FactModel;
  let facts: IndexedFact[];
  beforeAll(async () => {
    lm = await loadModel(join(import.meta.dirname, "..", "models", "demo-mbert"));
    model = attributionModel(lm);
    facts = [];
    for (const [factId, subject, object] of CAPITALS) {
      const a = await attributeFact(model, { template: TEMPLATE, subject, object, language: "en" }, { method: "amig-compat", steps: 20 });
      const neurons = selectKnowledgeNeurons(a.scores, tauFor("en")).map((n) => [n.layer, n.unit] as const);
      facts.push({ factId, relationId: "P36", language: "en", template: TEMPLATE, subject, object, neurons });
    }
  });
  afterAll(() => lm?.dispose());

  it("localization reads the named setting's facts and saves one measurement per fact with neurons", async () => {
    const setting: RunSetting = { ...DEFAULT_RUN_SETTING, steps: 7 };
    const { store, asked, saved } = memoryStore(facts, new Map());
    const n = await evaluateLocalization(store, model, { checkpointId: 1, setting, language: "en" });
    expect(asked).toEqual([setting]);
    const withNeurons = facts.filter((f) => f.neurons.length);
    expect(withNeurons.length).toBeGreaterThan(1);
    expect(n).toBe(withNeurons.length);
    expect(saved.map((r) => r.factId)).toEqual(withNeurons.map((f) => f.factId));
    for (const r of saved) {
      const f = facts.find((x) => x.factId === r.factId)!;
      expect(r.unrelatedFactId).not.toBe(r.factId);
      expect(r.nNeurons).toBe(f.neurons.length);
      // independently: the fact's own gold probability with its neurons suppressed
      const [base, suppressed] = await suppressedProbabilities(model, await planFact(model, f), [[], f.neurons]);
      expect(r.suppressRelated).toBeCloseTo(relativeChange(base, suppressed), 5);
    }
  });

  it("a fact check averages over the neurons counted in more than ρ·max of the relation's degenerate sets", async () => {
    const [a, b, c]: Neuron[] = [[3, 10], [3, 11], [2, 5]];
    const sets = new Map<string, Neuron[][]>([["f-fr", [[a, b]]], ["f-de", [[a, c]]], ["f-it", [[a, b]]]]);
    const { store, asked } = memoryStore(facts, sets);
    const setting: RunSetting = { method: "ig", steps: 5, targetMode: "clean" };
    // counts a 3, b 2, c 1; ρ = 0.7 keeps what is counted more than floor(0.7 · 3) = 2 times: a
    const v = await checkStatement(store, model, { checkpointId: 1, relationId: "P36", language: "en", template: TEMPLATE, subject: "Spain", object: "Madrid", setting });
    expect(asked).toEqual([setting]);
    expect(v.neurons).toEqual([a]);
    const { scores } = await attributeFact(model, { template: TEMPLATE, subject: "Spain", object: "Madrid", language: "en" }, { method: "ig", steps: 5, layers: [3] });
    expect(v.score).toBeCloseTo(scores[3][10], 6);
  });

  it("editing evaluation: every rule × λ × fact edited once, weights restored bit for bit, the gradient rule raises log P(new) at small λ", async () => {
    const { store } = memoryStore(facts, new Map());
    const withNeurons = facts.filter((f) => f.neurons.length);
    const neurons = withNeurons.flatMap((f) => f.neurons);
    const weights0 = await lm.getValueVectors(neurons);
    const r = await evaluateEditing(store, lm, {
      checkpointId: 1, setting: DEFAULT_RUN_SETTING, sourceLanguage: "en", rules: ["embedding", "gradient"], strengths: [0.1, 2], templates: "trained", factsPerRelation: 10, unrelatedPerLanguage: 2,
    });
    expect((await lm.getValueVectors(neurons)).every((v, k) => Buffer.from(v.buffer).equals(Buffer.from(weights0[k].buffer)))).toBe(true);
    const edited = new Set(r.records.map((x) => x.factId));
    expect(edited.size).toBeGreaterThan(1);
    expect(r.records).toHaveLength(edited.size * 4);
    for (const rec of r.records) {
      expect(rec.newObjectFactId).not.toBe(rec.factId);
      expect(rec.outcomes.map((o) => o.language)).toEqual(["en"]);
      expect(rec.outcomes[0].goldBefore).toBe(true); // only facts the model answers are edited
      expect(rec.locality).toEqual([expect.objectContaining({ language: "en", n: 2 })]);
      if (rec.rule === "gradient" && rec.strength === 0.1) expect(rec.outcomes[0].deltaLogNew).toBeGreaterThan(0);
    }
    const s = r.summaries.find((x) => x.rule === "gradient" && x.strength === 2)!;
    expect(s.edits).toBe(edited.size);
    expect(s.reliability!.n).toBe(edited.size);
    expect(s.reliability!.successes).toBe(r.records.filter((x) => x.rule === "gradient" && x.strength === 2 && x.outcomes[0].success).length);
  });
});

describe("localization measures with controls (§13.2)", () => {
  let lm: LanguageModel;
  let model: FactModel;
  let facts: IndexedFact[];
  beforeAll(async () => {
    lm = await loadModel(join(import.meta.dirname, "..", "models", "demo-mbert"));
    model = attributionModel(lm);
    facts = [];
    for (const [i, [factId, subject, object]] of CAPITALS.entries()) {
      const a = await attributeFact(model, { template: TEMPLATE, subject, object, language: "en" }, { method: "amig-compat", steps: 4 });
      const neurons = selectKnowledgeNeurons(a.scores, tauFor("en")).map((n) => [n.layer, n.unit] as const);
      // two relations, so every fact has a same-relation and an other-relation partner
      facts.push({ factId, relationId: i < 2 ? "P36" : "P1376", language: "en", template: TEMPLATE, subject, object, neurons });
    }
  });
  afterAll(() => lm?.dispose());

  it("stores the run's neurons and layer-matched controls on the fact, and the run's neurons on unrelated facts per seed", async () => {
    const { store, measures } = memoryStore(facts, new Map());
    const n = await measureLocalization(store, model, { checkpointId: 1, setting: DEFAULT_RUN_SETTING, language: "en", seeds: [1, 2], randomDraws: 3 });
    const measured = facts.filter((f) => f.neurons.length);
    expect(n).toBe(measured.length);
    for (const f of measured) {
      const rows = measures.filter((r) => r.factId === f.factId);
      const related = rows.filter((r) => r.target === "related");
      expect(related.map((r) => `${r.neuronSet}:${r.draw}`).sort()).toEqual(["activation:0", "grad-x-act:0", "kn:0", "random:0", "random:1", "random:2", "static:0"]);
      expect(rows.filter((r) => r.target !== "related").map((r) => `${r.target}:${r.seed}`).sort()).toEqual(["other-relation:1", "other-relation:2", "same-relation:1", "same-relation:2"]);
      for (const r of rows) {
        expect(r.nNeurons).toBe(f.neurons.length);
        const target = facts.find((g) => g.factId === r.targetFactId)!;
        if (r.target === "same-relation") expect([target.relationId, target.factId !== f.factId]).toEqual([f.relationId, true]);
        if (r.target === "other-relation") expect(target.relationId).not.toBe(f.relationId);
      }
      // independently: the kn row's probabilities with the fact's neurons suppressed and doubled
      const kn = related.find((r) => r.neuronSet === "kn")!;
      const plan = await planFact(model, f);
      const [base, suppressed] = await suppressedProbabilities(model, plan, [[], f.neurons]);
      expect(kn.pBase).toBeCloseTo(base, 6);
      expect(kn.suppressLogp).toBeCloseTo(Math.log(suppressed) - Math.log(base), 4);
      expect(kn.suppressRel).toBeCloseTo(relativeChange(base, suppressed), 5);
      const argmaxOf = (p: Float32Array) => p.indexOf(Math.max(...p));
      const step = plan.steps[0];
      const [before, after] = await lm.probabilitiesBatch([{ ids: step.ids, position: step.position }, { ids: step.ids, position: step.position, scale: { neurons: f.neurons, factor: 2 } }]);
      if (plan.steps.length === 1) expect(kn.enhanceFlip).toBe(argmaxOf(before) !== argmaxOf(after));
    }
  });

  it("controls keep the method's neuron count in every layer", () => {
    const scores = [Float32Array.from([0.1, 0.9, 0.5]), Float32Array.from([3, 1, 2])];
    expect(topPerLayer(scores, [2, 1])).toEqual([[0, 1], [0, 2], [1, 0]]);
    expect(layerCounts([[1, 2], [0, 0], [1, 1]], 3)).toEqual([1, 2, 0]);
    const drawn = randomPerLayer([0, 3, 1], 4, seededRandom("t"));
    expect(layerCounts(drawn, 3)).toEqual([0, 3, 1]);
    expect(new Set(drawn.map(([l, i]) => `${l}:${i}`)).size).toBe(4);
  });
});

describe("degenerate neurons: validity and layer distributions (§13.4)", () => {
  let lm: LanguageModel;
  let model: FactModel;
  beforeAll(async () => {
    lm = await loadModel(join(import.meta.dirname, "..", "models", "demo-mbert"));
    model = attributionModel(lm);
  });
  afterAll(() => lm?.dispose());

  it("tests every pair of the fact's pool, another fact's pool and random units of the same layers", async () => {
    const facts: IndexedFact[] = [];
    for (const [factId, subject, object] of CAPITALS) {
      const a = await attributeFact(model, { template: TEMPLATE, subject, object, language: "en" }, { method: "amig-compat", steps: 4 });
      // a fixed pool of the 6 best neurons keeps the pair counts known: C(6,2) = 15 per pool
      const neurons = selectKnowledgeNeurons(a.scores, 0).slice(0, 6).map((n) => [n.layer, n.unit] as const);
      facts.push({ factId, relationId: "P36", language: "en", template: TEMPLATE, subject, object, neurons });
    }
    const { store } = memoryStore(facts, new Map());
    const v = await degenerateValidity(store, model, { checkpointId: 1, setting: DEFAULT_RUN_SETTING, language: "en", maxSetSize: 3 });
    expect(v.outcomes.map((o) => `${o.pool}:${o.criterion}:${o.facts}:${o.pairs}`)).toEqual(
      ["knowledge", "shuffled", "random"].flatMap((p) => ["threshold", "superadditive"].map((c) => `${p}:${c}:4:60`)),
    );
    // the facts' own pools: as many passing pairs as the §6.2 search finds (pairs only)
    let found = 0;
    for (const f of facts) found += (await findDegenerateSets(f.neurons, async (sets) => suppressedProbabilities(model, await planFact(model, f), sets))).sets.length;
    const own = v.outcomes.find((o) => o.pool === "knowledge" && o.criterion === "threshold")!;
    expect(Math.round(own.pairRate!.estimate * 60)).toBe(found);
    // the superadditive criterion is stricter
    for (const pool of ["knowledge", "shuffled", "random"]) {
      const [t, s] = ["threshold", "superadditive"].map((c) => v.outcomes.find((o) => o.pool === pool && o.criterion === c)!.pairRate!.estimate);
      expect(s).toBeLessThanOrEqual(t);
    }
  });

  it("counts knowledge, en∩x and degenerate neurons per layer", async () => {
    const f = (factId: string, language: string, neurons: [number, number][]): IndexedFact => ({ factId, relationId: "P36", language, template: TEMPLATE, subject: "s", object: "o", neurons });
    const facts = [f("a", "en", [[0, 1], [3, 2], [3, 5]]), f("a", "de", [[3, 2], [3, 5], [1, 1]]), f("b", "en", [[2, 0]])];
    const { store } = memoryStore(facts, new Map([["a", [[[3, 2], [1, 1]]]]]));
    const rows = await layerDistributions(store, { checkpointId: 1, setting: DEFAULT_RUN_SETTING, languages: ["en", "de"], nLayers: 4 });
    const of = (kind: string, group: string) => [0, 1, 2, 3].map((l) => rows.find((r) => r.kind === kind && r.group === group && r.layer === l)?.count ?? 0);
    expect(of("knowledge", "en")).toEqual([1, 0, 1, 2]);
    expect(of("knowledge", "de")).toEqual([0, 1, 0, 2]);
    expect(of("language-independent", "en∩de")).toEqual([0, 0, 0, 2]);
    // the memory store returns the same sets for every (relation, language): once per language
    expect(of("degenerate", "en")).toEqual([0, 1, 0, 1]);
  });
});
