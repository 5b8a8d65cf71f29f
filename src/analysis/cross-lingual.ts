// Cross-lingual editing experiment (ALGORITHMS.md §5.3), generalized from en/zh to a pair
// (source, target) of any two languages. For every fact with knowledge neurons in both:
//   likn            N = KN_src ∩ KN_tgt, measured in both languages
//   src→tgt         N = KN_src, measured in the target language (transfer)
//   tgt→src         N = KN_tgt, measured in the source language
//   joint           N = KN_src ∪ KN_tgt applied together, measured in both (the reference code
//                   kept only its second run here; §5.3 [R])
// Each: Δ of suppression (×0) and enhancement (×2) on the fact and on an unrelated fact (drawn
// uniformly from the other facts, seeded), with the fact's N applied to both.
import type { FactModel, Neuron } from "../attribution/model-port.ts";
import type { AnalysisStore, IndexedFact, RunScope } from "./analysis-store.ts";
import { type ChangeCase, type ScaleEffect, scaleEffects } from "./gold-probabilities.ts";
import { seededRandom } from "./random.ts";
import { type BootstrapEstimate, type WilcoxonResult, bootstrapMeanCI, mean, pairedDifferences, wilcoxonSignedRank } from "./statistics.ts";

export const CONDITIONS = ["likn", "src->tgt", "tgt->src", "joint"] as const;
export type Condition = (typeof CONDITIONS)[number];

export interface ConditionResult {
  condition: Condition;
  language: string;
  facts: number;
  /** Means over facts of relative Δ (§5.4, no outlier filter). */
  suppressRelated: number;
  suppressUnrelated: number;
  enhanceRelated: number;
  enhanceUnrelated: number;
  /** Δlog p (§13.2) means with bootstrap 95 % CIs over facts. */
  logp: { suppressRelated: BootstrapEstimate | null; suppressUnrelated: BootstrapEstimate | null; enhanceRelated: BootstrapEstimate | null; enhanceUnrelated: BootstrapEstimate | null };
  /** Suppression Δlog p, related − unrelated per fact: is the effect beyond the unrelated control? */
  specificity: { difference: BootstrapEstimate | null; wilcoxon: WilcoxonResult | null };
}

type FactInLanguage = Pick<IndexedFact, "template" | "subject" | "object" | "neurons">;

async function loadFacts(store: AnalysisStore, scope: RunScope, languages: string[]): Promise<Map<string, Map<string, FactInLanguage>>> {
  const out = new Map<string, Map<string, FactInLanguage>>();
  for (const f of await store.indexedFacts({ ...scope, languages })) out.set(f.factId, (out.get(f.factId) ?? new Map()).set(f.language, f));
  return out;
}

const key = (n: Neuron) => `${n[0]}:${n[1]}`;
const intersect = (a: Neuron[], b: Neuron[]) => a.filter((n) => new Set(b.map(key)).has(key(n)));
const union = (a: Neuron[], b: Neuron[]) => [...a, ...b.filter((n) => !new Set(a.map(key)).has(key(n)))];

export async function crossLingualEditing(
  store: AnalysisStore,
  model: FactModel,
  o: RunScope & { source: string; target: string; seed?: number },
): Promise<ConditionResult[]> {
  const facts = [...(await loadFacts(store, o, [o.source, o.target]))].filter(([, m]) => m.has(o.source) && m.has(o.target));
  const random = seededRandom(`${o.seed ?? 42}:${o.source}:${o.target}`);
  // per fact, partner drawn in fact order; then every (condition, language) it measures
  const cells: (ChangeCase & { key: string })[] = facts.flatMap(([, byLang], i) => {
    let j = Math.floor(random() * facts.length);
    while (facts.length > 1 && j === i) j = Math.floor(random() * facts.length);
    const other = facts[j][1];
    const src = byLang.get(o.source)!.neurons;
    const tgt = byLang.get(o.target)!.neurons;
    const plans: [Condition, Neuron[], string[]][] = [
      ["likn", intersect(src, tgt), [o.source, o.target]],
      ["src->tgt", src, [o.target]],
      ["tgt->src", tgt, [o.source]],
      ["joint", union(src, tgt), [o.source, o.target]],
    ];
    return plans.flatMap(([condition, neurons, languages]) =>
      neurons.length
        ? languages.map((language) => ({
            key: `${condition}|${language}`,
            related: { ...byLang.get(language)!, language },
            unrelated: { ...other.get(language)!, language },
            neurons,
          }))
        : [],
    );
  });
  // each cell: its fact and the unrelated one, both with the fact's neurons scaled
  const effects = await scaleEffects(model, cells.flatMap((c) => [{ fact: c.related, neurons: c.neurons }, { fact: c.unrelated, neurons: c.neurons }]));
  const byKey = new Map<string, { related: ScaleEffect; unrelated: ScaleEffect }[]>();
  cells.forEach((c, k) => byKey.set(c.key, [...(byKey.get(c.key) ?? []), { related: effects[2 * k], unrelated: effects[2 * k + 1] }]));
  return [...byKey].map(([k, list]) => {
    const [condition, language] = k.split("|") as [Condition, string];
    const of = (side: "related" | "unrelated", m: keyof ScaleEffect) => list.map((e) => Number(e[side][m]));
    const ci = (side: "related" | "unrelated", m: keyof ScaleEffect) => bootstrapMeanCI(of(side, m));
    const diffs = pairedDifferences(of("related", "suppressLogp"), of("unrelated", "suppressLogp"));
    return {
      condition,
      language,
      facts: list.length,
      suppressRelated: mean(of("related", "suppressRel")),
      suppressUnrelated: mean(of("unrelated", "suppressRel")),
      enhanceRelated: mean(of("related", "enhanceRel")),
      enhanceUnrelated: mean(of("unrelated", "enhanceRel")),
      logp: { suppressRelated: ci("related", "suppressLogp"), suppressUnrelated: ci("unrelated", "suppressLogp"), enhanceRelated: ci("related", "enhanceLogp"), enhanceUnrelated: ci("unrelated", "enhanceLogp") },
      specificity: { difference: bootstrapMeanCI(diffs), wilcoxon: wilcoxonSignedRank(diffs) },
    };
  });
}
