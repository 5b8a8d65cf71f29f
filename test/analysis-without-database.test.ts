// The analyses run on any AnalysisStore: here plain objects, no database anywhere. The numbers
// they report are checked against an independent path (the model's suppressed probabilities).
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnalysisStore, IndexedFact, LocalizationRecord, RunScope } from "../src/analysis/analysis-store.ts";
import { checkStatement } from "../src/analysis/fact-checking.ts";
import { evaluateEditing } from "../src/analysis/edit-evaluation.ts";
import { evaluateLocalization } from "../src/analysis/localization.ts";
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
  };
  return { store, asked, saved };
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
