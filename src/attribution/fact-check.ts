// Fact-checking with degenerate knowledge neurons (ALGORITHMS.md §7).
import { type Neuron, neuronKey } from "./model-port.ts";

/** τ_fc: a candidate is flagged wrong when its mean attribution over D_r is below this. */
export const DEFAULT_FACT_CHECK_THRESHOLD = 1e-6;
/** ρ: keep neurons counted more than floor(ρ · max count) times (§7.1 step 4). */
export const DEFAULT_DKN_FILTER = 0.7;

/** D_r: the neurons that occur most often in the degenerate sets of a relation's training facts. */
export function relationDegenerateNeurons(setsPerFact: readonly (readonly (readonly Neuron[])[])[], rho = DEFAULT_DKN_FILTER): Neuron[] {
  const counts = new Map<string, { n: Neuron; count: number }>();
  for (const sets of setsPerFact) {
    for (const set of sets) {
      for (const n of set) {
        const k = neuronKey(n);
        const e = counts.get(k) ?? { n: [n[0], n[1]] as Neuron, count: 0 };
        e.count++;
        counts.set(k, e);
      }
    }
  }
  if (!counts.size) return [];
  const max = Math.max(...[...counts.values()].map((e) => e.count));
  const cut = Math.floor(rho * max);
  return [...counts.values()]
    .filter((e) => e.count > cut)
    .sort((a, b) => b.count - a.count || a.n[0] - b.n[0] || a.n[1] - b.n[1])
    .map((e) => e.n);
}

/** Mean attribution over the neuron set: the fact-check score. */
export function meanScore(scores: readonly Float32Array[], neurons: readonly Neuron[]): number {
  if (!neurons.length) return Number.NaN;
  return neurons.reduce((s, [l, u]) => s + scores[l][u], 0) / neurons.length;
}

export interface FactCheckCounts {
  /** true facts accepted */
  truePositives: number;
  /** wrong facts rejected */
  trueNegatives: number;
  /** true facts tested */
  positives: number;
  /** wrong facts tested */
  negatives: number;
}

export interface FactCheckMetrics {
  /** Conventional precision with "true fact" as the positive class: TP / (TP + FP). The reference code calls this "recall". */
  precision: number;
  /** Conventional recall: TP / positives. The reference code calls this "precision". */
  recall: number;
  f1: number;
  accuracy: number;
}

/** §7.4, with the conventional names (the code's precision and recall are swapped; F1 is the same). */
export function factCheckMetrics(c: FactCheckCounts): FactCheckMetrics {
  const falsePositives = c.negatives - c.trueNegatives;
  const recall = c.positives ? c.truePositives / c.positives : 0;
  const precision = c.truePositives + falsePositives ? c.truePositives / (c.truePositives + falsePositives) : 0;
  const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
  const total = c.positives + c.negatives;
  return { precision, recall, f1, accuracy: total ? (c.truePositives + c.trueNegatives) / total : 0 };
}
