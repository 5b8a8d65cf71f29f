// UPDATE edits compared (issue 12 item 6): for a seeded sample of facts the model answers
// correctly in the source language, each fact's source-language knowledge neurons get the UPDATE
// of each rule (src/attribution/editing.ts) towards the object of another fact of the same
// relation, and the model is measured before and after, in every language:
//   success     the edited fact now answers the new object (its label in that language): in the
//               source language (reliability) and in the fact's other languages (generality);
//   moved off   the edited fact no longer answers its gold object;
//   locality    a fixed seeded sample of unrelated facts in every language keeps its answers.
// The weights are restored after each edit (bit for bit), so edits do not accumulate.
import { factProbe, measureFacts, newObjectTokenId, type EditingModel, type FactMeasurement, type FactProbe, type UpdateModel, type UpdateRule, updateDirections, weightEditVectors } from "../attribution/editing.ts";
import type { LanguageModel, Neuron } from "../model/language-model.ts";
import { type TemplateSet, withTemplates } from "../data/template-sets.ts";
import type { AnalysisStore, IndexedFact, RunScope } from "./analysis-store.ts";
import { seededShuffle } from "./random.ts";
import { bootstrapMeanCI, mean, wilsonInterval, type Estimate } from "./statistics.ts";

export type EditEvalModel = EditingModel & UpdateModel & Pick<LanguageModel, "getValueVectors" | "setValueVectors" | "wordEmbedding">;

export interface EditEvalOptions extends RunScope {
  /** Language whose knowledge neurons are edited and where the new object is chosen. */
  sourceLanguage: string;
  rules: readonly UpdateRule[];
  strengths: readonly number[];
  /** Phrasings measured (the edit itself is always computed at the trained prompt). */
  templates: TemplateSet;
  /** Edited facts per relation (seeded sample). */
  factsPerRelation: number;
  /** Unrelated facts per language for locality. */
  unrelatedPerLanguage: number;
  seed?: string;
  onProgress?: (done: number, total: number) => void;
}

/** One edit's outcome in one language. */
export interface LanguageOutcome {
  language: string;
  success: boolean;
  goldBefore: boolean;
  goldAfter: boolean;
  /** log P(gold) after − before, and the same for the new object. */
  deltaLogGold: number;
  deltaLogNew: number;
}

export interface EditRecord {
  rule: UpdateRule;
  strength: number;
  factId: string;
  relationId: string;
  newObjectFactId: string;
  nNeurons: number;
  outcomes: LanguageOutcome[];
  /** Per language: the share of the unrelated sample whose answer is unchanged, and the mean Δ log P(gold). */
  locality: { language: string; unchanged: number; deltaLogGold: number; n: number }[];
}

export interface RateSummary extends Estimate {
  successes: number;
}

export interface RuleSummary {
  rule: UpdateRule;
  strength: number;
  edits: number;
  reliability: RateSummary | null;
  movedOff: RateSummary | null;
  /** Success in each other language, and pooled over them (items are (fact, language) pairs). */
  generality: { language: string; rate: RateSummary | null }[];
  generalityPooled: RateSummary | null;
  /** Per language: mean over edits of the unchanged share of unrelated facts, bootstrap CI over edits. */
  locality: { language: string; unchanged: Estimate | null; deltaLogGold: number }[];
}

export interface EditEvaluation {
  sourceLanguage: string;
  templates: TemplateSet;
  languages: string[];
  /** Candidates: facts with a source-language run and neurons that the model answers correctly there. */
  candidates: number;
  records: EditRecord[];
  summaries: RuleSummary[];
}

interface Case {
  fact: IndexedFact;
  newFact: IndexedFact;
  /** The fact by language (all languages with a run), and the new object's label by language. */
  byLanguage: Map<string, IndexedFact>;
  newLabels: Map<string, string>;
}

const probeOf = (model: EditingModel, f: { template: string; subject: string; object: string; language: string }): FactProbe | null => {
  const p = factProbe(model, f);
  return "error" in p ? null : p;
};

const sameIds = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((x, i) => x === b[i]);

export async function evaluateEditing(store: AnalysisStore, model: EditEvalModel, o: EditEvalOptions): Promise<EditEvaluation> {
  const seed = o.seed ?? "42";
  // neurons from the source language's runs; the facts' labels in every language, runs or not
  const sourceRows = await store.indexedFacts({ checkpointId: o.checkpointId, setting: o.setting, languages: [o.sourceLanguage] });
  const rows = await store.factLabels(sourceRows.map((r) => r.factId));
  const languages = [...new Set(rows.map((r) => r.language))].sort();
  const byFact = new Map<string, Map<string, IndexedFact>>();
  for (const r of rows) byFact.set(r.factId, (byFact.get(r.factId) ?? new Map()).set(r.language, r));
  const measured = (f: IndexedFact) => withTemplates([f], o.templates, (x) => x.relationId);

  // facts answered correctly at the trained source prompt: only those have an answer to replace
  const sources = sourceRows.filter((r) => r.neurons.length > 0);
  const sourceProbes = sources.map((f) => probeOf(model, f));
  const base = await measureFacts(model, sourceProbes.filter((p): p is FactProbe => p !== null));
  let k = 0;
  const correct = sources.filter((_, i) => sourceProbes[i] && sameIds(base[k++].answerIds, sourceProbes[i]!.targetIds));

  // per relation a seeded sample; the new object comes from another fact of the relation with a different object
  const cases: Case[] = [];
  const byRelation = new Map<string, IndexedFact[]>();
  for (const f of correct) byRelation.set(f.relationId, [...(byRelation.get(f.relationId) ?? []), f]);
  for (const [relation, facts] of [...byRelation].sort(([a], [b]) => a.localeCompare(b))) {
    const pool = sourceRows.filter((r) => r.relationId === relation);
    for (const fact of seededShuffle(facts, `${seed}:${relation}`).slice(0, o.factsPerRelation)) {
      const byLanguage = byFact.get(fact.factId)!;
      const options = seededShuffle(pool.filter((p) => p.object !== fact.object && p.factId !== fact.factId), `${seed}:${fact.factId}`);
      const newFact = options.find((p) => [...byLanguage.keys()].every((l) => byFact.get(p.factId)?.has(l)));
      if (!newFact) continue;
      const newLabels = new Map([...byLanguage.keys()].map((l) => [l, byFact.get(newFact.factId)!.get(l)!.object]));
      cases.push({ fact, newFact, byLanguage, newLabels });
    }
  }

  // the unrelated sample: fixed per language, the edited fact left out of its own measurement
  const unrelated = new Map<string, IndexedFact[]>();
  for (const l of languages) {
    const inLanguage = rows.filter((r) => r.language === l);
    unrelated.set(l, seededShuffle(inLanguage, `${seed}:unrelated:${l}`).slice(0, o.unrelatedPerLanguage + 1));
  }

  // every probe of a case: gold and new object per language, then the unrelated facts
  type Item = { kind: "gold" | "new" | "unrelated"; language: string; factId: string; probe: FactProbe };
  const itemsOf = (c: Case): Item[] => {
    const items: Item[] = [];
    for (const [l, f] of c.byLanguage) {
      for (const m of measured(f)) {
        const gold = probeOf(model, m);
        const fresh = probeOf(model, { ...m, object: c.newLabels.get(l)! });
        if (gold && fresh) items.push({ kind: "gold", language: l, factId: f.factId, probe: gold }, { kind: "new", language: l, factId: f.factId, probe: fresh });
      }
    }
    for (const l of languages) {
      const others = unrelated.get(l)!.filter((u) => u.factId !== c.fact.factId).slice(0, o.unrelatedPerLanguage);
      for (const u of others) for (const m of measured(u)) {
        const p = probeOf(model, m);
        if (p) items.push({ kind: "unrelated", language: l, factId: u.factId, probe: p });
      }
    }
    return items;
  };

  // the unedited model's answers on the unrelated sample are the same for every case: measured once
  const unrelatedBase = new Map<string, FactMeasurement>();
  const baseKey = (i: Item) => (i.kind === "unrelated" ? `${i.language}\t${i.factId}` : null);
  const measureBefore = async (items: readonly Item[]): Promise<FactMeasurement[]> => {
    const fresh = items.filter((i) => !unrelatedBase.has(baseKey(i) ?? ""));
    const measured = await measureFacts(model, fresh.map((i) => i.probe));
    const own = new Map(fresh.map((i, k) => [i, measured[k]]));
    fresh.forEach((i, k) => baseKey(i) && unrelatedBase.set(baseKey(i)!, measured[k]));
    return items.map((i) => own.get(i) ?? unrelatedBase.get(baseKey(i)!)!);
  };

  const records: EditRecord[] = [];
  const total = cases.length * o.rules.length * o.strengths.length;
  for (const c of cases) {
    const items = itemsOf(c);
    const before = await measureBefore(items);
    const neurons: Neuron[] = c.fact.neurons.map(([l, u]) => [l, u]);
    const sourceProbe = probeOf(model, c.fact)!;
    const oldTokenId = sourceProbe.targetIds[0];
    const newTokenId = newObjectTokenId(model, c.newLabels.get(o.sourceLanguage)!, o.sourceLanguage);
    if (newTokenId === undefined || newTokenId === oldTokenId) continue;
    const original = await model.getValueVectors(neurons);
    for (const rule of o.rules) {
      const directions = await updateDirections(model, sourceProbe.steps[0], neurons, newTokenId, rule);
      for (const strength of o.strengths) {
        const vectors = await weightEditVectors("update", original, { oldTokenId, newTokenId, strength, rule, ...directions }, (t) => model.wordEmbedding(t));
        model.setValueVectors(neurons, vectors);
        let after;
        try {
          after = await measureFacts(model, items.map((i) => i.probe));
        } finally {
          model.setValueVectors(neurons, original);
        }
        records.push(recordOf(c, rule, strength, neurons.length, items, before, after));
        o.onProgress?.(records.length, total);
      }
    }
  }
  return { sourceLanguage: o.sourceLanguage, templates: o.templates, languages, candidates: correct.length, records, summaries: summarizeEdits(records, o.sourceLanguage, languages) };
}

/** log P, with a probability that underflowed float32 read as the smallest subnormal (finite deltas). */
const logP = (p: number) => Math.log(Math.max(p, 1e-45));

function recordOf(
  c: Case,
  rule: UpdateRule,
  strength: number,
  nNeurons: number,
  items: readonly { kind: string; language: string; probe: FactProbe }[],
  before: readonly { probability: number; answerIds: number[] }[],
  after: readonly { probability: number; answerIds: number[] }[],
): EditRecord {
  const outcomes: LanguageOutcome[] = [];
  const unrelated = new Map<string, { unchanged: number; delta: number[] }>();
  items.forEach((it, i) => {
    const logDelta = logP(after[i].probability) - logP(before[i].probability);
    if (it.kind === "gold") {
      const fresh = items[i + 1];
      outcomes.push({
        language: it.language,
        success: sameIds(after[i + 1].answerIds, fresh.probe.targetIds),
        goldBefore: sameIds(before[i].answerIds, it.probe.targetIds),
        goldAfter: sameIds(after[i].answerIds, it.probe.targetIds),
        deltaLogGold: logDelta,
        deltaLogNew: logP(after[i + 1].probability) - logP(before[i + 1].probability),
      });
    } else if (it.kind === "unrelated") {
      const u = unrelated.get(it.language) ?? { unchanged: 0, delta: [] };
      if (sameIds(before[i].answerIds, after[i].answerIds)) u.unchanged++;
      u.delta.push(logDelta);
      unrelated.set(it.language, u);
    }
  });
  return {
    rule,
    strength,
    factId: c.fact.factId,
    relationId: c.fact.relationId,
    newObjectFactId: c.newFact.factId,
    nNeurons,
    outcomes,
    locality: [...unrelated].map(([language, u]) => ({ language, unchanged: u.unchanged / u.delta.length, deltaLogGold: mean(u.delta), n: u.delta.length })),
  };
}

const rate = (flags: readonly boolean[]): RateSummary | null => {
  const k = flags.filter(Boolean).length;
  const w = wilsonInterval(k, flags.length);
  return w && { ...w, successes: k };
};

/** Per rule and strength: rates with Wilson intervals, locality with bootstrap intervals over edits. */
export function summarizeEdits(records: readonly EditRecord[], sourceLanguage: string, languages: readonly string[]): RuleSummary[] {
  const groups = new Map<string, EditRecord[]>();
  for (const r of records) groups.set(`${r.rule}\t${r.strength}`, [...(groups.get(`${r.rule}\t${r.strength}`) ?? []), r]);
  return [...groups.values()].map((rs) => {
    const inSource = rs.flatMap((r) => r.outcomes.filter((x) => x.language === sourceLanguage));
    const others = rs.flatMap((r) => r.outcomes.filter((x) => x.language !== sourceLanguage));
    return {
      rule: rs[0].rule,
      strength: rs[0].strength,
      edits: rs.length,
      reliability: rate(inSource.map((x) => x.success)),
      movedOff: rate(inSource.filter((x) => x.goldBefore).map((x) => !x.goldAfter)),
      generality: languages.filter((l) => l !== sourceLanguage).map((language) => ({ language, rate: rate(others.filter((x) => x.language === language).map((x) => x.success)) })),
      generalityPooled: rate(others.map((x) => x.success)),
      locality: languages.map((language) => {
        const per = rs.flatMap((r) => r.locality.filter((x) => x.language === language));
        return { language, unchanged: bootstrapMeanCI(per.map((x) => x.unchanged)), deltaLogGold: mean(per.map((x) => x.deltaLogGold)) };
      }),
    };
  });
}
