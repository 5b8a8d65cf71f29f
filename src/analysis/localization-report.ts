// Statistics over stored localization measures (ALGORITHMS.md §13.2–13.3): per method, language,
// neuron set and target, the mean of each measure with a bootstrap 95 % CI (flip rates: Wilson
// when every fact has one 0/1 value), and paired comparisons on the facts two conditions share:
// method vs control, method vs method, related vs unrelated — bootstrap CI of the mean per-fact
// difference and a two-sided Wilcoxon signed-rank test. Every number carries its n.
import type { LocalizationMeasureRecord } from "./analysis-store.ts";
import type { NeuronSetName } from "./controls.ts";
import {
  type BootstrapEstimate, type Estimate, type WilcoxonResult, bootstrapMeanCI, mean, wilcoxonSignedRank, wilsonInterval,
} from "./statistics.ts";

export type MeasureRow = LocalizationMeasureRecord & { method: string; language: string };
export type Target = LocalizationMeasureRecord["target"];

/** The reference outlier filter of relative Δ (§5.4): suppression Δ > 20 and enhancement Δ ≥ 250 are left out. */
const keepSuppress = (x: number) => x <= 20;
const keepEnhance = (x: number) => x < 250;

export interface ConditionSummary {
  method: string;
  language: string;
  neuronSet: NeuronSetName;
  target: Target;
  /** Facts measured. */
  facts: number;
  /** Mean |N| per fact. */
  meanNeurons: number;
  /** Mean gold probability before any scaling (saturation shows here). */
  meanBase: number;
  suppressRel: Estimate | null;
  suppressLogp: Estimate | null;
  suppressFlip: Estimate | null;
  enhanceRel: Estimate | null;
  enhanceLogp: Estimate | null;
  enhanceFlip: Estimate | null;
}

export interface Comparison {
  language: string;
  /** "amig-compat kn related", ... */
  a: string;
  b: string;
  measure: "suppressLogp" | "enhanceLogp";
  /** Mean of a − b over the shared facts, with its bootstrap CI (n = facts). */
  difference: BootstrapEstimate | null;
  wilcoxon: WilcoxonResult | null;
}

export interface LocalizationReport {
  conditions: ConditionSummary[];
  comparisons: Comparison[];
}

type Measure = "pBase" | "suppressRel" | "suppressLogp" | "enhanceRel" | "enhanceLogp" | "suppressFlip" | "enhanceFlip";

/** Per fact: the mean over draws (random control) or seeds (unrelated facts) of a measure. */
function perFact(rows: readonly MeasureRow[], measure: Measure, keep: (x: number) => boolean = () => true): Map<string, number> {
  const sums = new Map<string, { s: number; n: number }>();
  for (const r of rows) {
    const v = Number(r[measure]);
    if (!keep(v)) continue;
    const e = sums.get(r.factId) ?? { s: 0, n: 0 };
    e.s += v;
    e.n++;
    sums.set(r.factId, e);
  }
  return new Map([...sums].map(([k, { s, n }]) => [k, s / n]));
}

/** Wilson when every fact contributes one 0/1 outcome, else the bootstrap CI of the per-fact mean. */
function proportion(values: readonly number[], seed: string): Estimate | null {
  if (values.every((v) => v === 0 || v === 1)) return wilsonInterval(values.filter((v) => v === 1).length, values.length);
  return bootstrapMeanCI(values, { seed });
}

const conditionKey = (r: Pick<MeasureRow, "method" | "language" | "neuronSet" | "target">) => `${r.method}\u0000${r.language}\u0000${r.neuronSet}\u0000${r.target}`;
export const conditionLabel = (method: string, neuronSet: string, target: Target) => `${method} ${neuronSet} ${target}`;

function summarize(rows: readonly MeasureRow[], seed: string): ConditionSummary {
  const first = rows[0];
  const ci = (m: Measure, keep?: (x: number) => boolean) => bootstrapMeanCI([...perFact(rows, m, keep).values()], { seed });
  const facts = new Set(rows.map((r) => r.factId));
  const byFact = new Map(rows.map((r) => [r.factId, r]));
  return {
    method: first.method,
    language: first.language,
    neuronSet: first.neuronSet,
    target: first.target,
    facts: facts.size,
    meanNeurons: mean([...byFact.values()].map((r) => r.nNeurons)),
    meanBase: mean([...perFact(rows, "pBase").values()]),
    suppressRel: ci("suppressRel", keepSuppress),
    suppressLogp: ci("suppressLogp"),
    suppressFlip: proportion([...perFact(rows, "suppressFlip").values()], seed),
    enhanceRel: ci("enhanceRel", keepEnhance),
    enhanceLogp: ci("enhanceLogp"),
    enhanceFlip: proportion([...perFact(rows, "enhanceFlip").values()], seed),
  };
}

function compare(language: string, a: { label: string; rows: MeasureRow[] }, b: { label: string; rows: MeasureRow[] }, seed: string): Comparison[] {
  return (["suppressLogp", "enhanceLogp"] as const).map((measure) => {
    const va = perFact(a.rows, measure);
    const vb = perFact(b.rows, measure);
    const shared = [...va.keys()].filter((k) => vb.has(k)).sort();
    const diffs = shared.map((k) => va.get(k)! - vb.get(k)!);
    return {
      language,
      a: a.label,
      b: b.label,
      measure,
      difference: bootstrapMeanCI(diffs, { seed }),
      wilcoxon: diffs.length ? wilcoxonSignedRank(diffs) : null,
    };
  });
}

/**
 * Summaries of every (method, language, neuron set, target) in the rows, and the paired tests:
 * each method's kn against each of its controls and against its kn on same- and other-relation
 * facts, and every pair of methods' kn (related) in each language.
 */
export function localizationReport(rows: readonly MeasureRow[], options: { seed?: string } = {}): LocalizationReport {
  const seed = options.seed ?? "42";
  const groups = new Map<string, MeasureRow[]>();
  for (const r of rows) {
    const k = conditionKey(r);
    const g = groups.get(k);
    if (g) g.push(r);
    else groups.set(k, [r]);
  }
  const conditions = [...groups.values()].map((g) => summarize(g, seed));
  const get = (method: string, language: string, neuronSet: string, target: Target) => groups.get(conditionKey({ method, language, neuronSet: neuronSet as NeuronSetName, target }));
  const comparisons: Comparison[] = [];
  const methods = [...new Set(rows.map((r) => r.method))];
  const languages = [...new Set(rows.map((r) => r.language))];
  for (const language of languages) {
    for (const method of methods) {
      const kn = get(method, language, "kn", "related");
      if (!kn) continue;
      const a = { label: conditionLabel(method, "kn", "related"), rows: kn };
      for (const c of conditions.filter((c) => c.method === method && c.language === language && c.neuronSet !== "kn" && c.target === "related")) {
        comparisons.push(...compare(language, a, { label: conditionLabel(method, c.neuronSet, "related"), rows: get(method, language, c.neuronSet, "related")! }, seed));
      }
      for (const target of ["same-relation", "other-relation"] as const) {
        const u = get(method, language, "kn", target);
        if (u) comparisons.push(...compare(language, a, { label: conditionLabel(method, "kn", target), rows: u }, seed));
      }
    }
    for (let i = 0; i < methods.length; i++) {
      for (let j = i + 1; j < methods.length; j++) {
        const a = get(methods[i], language, "kn", "related");
        const b = get(methods[j], language, "kn", "related");
        if (a && b) comparisons.push(...compare(language, { label: conditionLabel(methods[i], "kn", "related"), rows: a }, { label: conditionLabel(methods[j], "kn", "related"), rows: b }, seed));
      }
    }
  }
  return { conditions, comparisons };
}
