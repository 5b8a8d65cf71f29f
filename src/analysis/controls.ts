// Control neuron sets for localization (ALGORITHMS.md §13.2). Each is matched to the method's set N
// of a fact: the same number of neurons in every layer (n_l), so a difference in effect cannot come
// from suppressing more neurons or neurons of other layers.
import { attributeFact, planFact } from "../attribution/fact-attribution.ts";
import type { FactModel, Neuron } from "../attribution/model-port.ts";
import type { PromptFact } from "../attribution/prompts.ts";

export const CONTROLS = ["random", "activation", "grad-x-act", "static"] as const;
export type Control = (typeof CONTROLS)[number];
/** The method's own knowledge neurons, then the controls. */
export type NeuronSetName = "kn" | Control;

/** n_l: how many of the neurons lie in each layer. */
export function layerCounts(neurons: readonly Neuron[], nLayers: number): number[] {
  const counts = new Array<number>(nLayers).fill(0);
  for (const [l] of neurons) counts[l]++;
  return counts;
}

/** The n_l highest-scoring units of every layer l (ties: lower unit first), layer by layer. */
export function topPerLayer(scores: readonly Float32Array[], counts: readonly number[]): Neuron[] {
  const out: Neuron[] = [];
  counts.forEach((k, l) => {
    if (!k) return;
    const units = Array.from(scores[l].keys()).sort((a, b) => scores[l][b] - scores[l][a] || a - b);
    for (const i of units.slice(0, k)) out.push([l, i]);
  });
  return out;
}

/** n_l distinct units drawn uniformly in every layer l (partial Fisher–Yates with `random`). */
export function randomPerLayer(counts: readonly number[], ffnWidth: number, random: () => number): Neuron[] {
  const out: Neuron[] = [];
  counts.forEach((k, l) => {
    if (!k) return;
    const units = Array.from({ length: ffnWidth }, (_, i) => i);
    for (let j = 0; j < Math.min(k, ffnWidth); j++) {
      const r = j + Math.floor(random() * (ffnWidth - j));
      [units[j], units[r]] = [units[r], units[j]];
      out.push([l, units[j]]);
    }
  });
  return out;
}

/** Per-layer scores of a fact under each deterministic control (summed over object pieces, §3.5). */
export interface ControlScores {
  activation: Float32Array[];
  "grad-x-act": Float32Array[];
  static: Float32Array[];
}

/**
 * activation: |x| at the target position; grad×act: x ⊙ ∂P/∂x in one gradient step (plain IG
 * with N = 1, whose only point is x itself); static: §13.1. All in the clean target mode.
 */
export async function controlScores(model: FactModel, fact: PromptFact): Promise<ControlScores> {
  const plan = await planFact(model, fact);
  const activation = Array.from({ length: model.nLayers }, () => new Float32Array(model.ffnWidth));
  for (const step of plan.steps) {
    const ctx = await model.prepare(step.ids, step.position);
    ctx.activations.forEach((a, l) => a.forEach((v, i) => (activation[l][i] += Math.abs(v))));
    ctx.dispose();
  }
  const gradXAct = (await attributeFact(model, fact, { method: "ig", steps: 1 })).scores;
  const staticScores = (await attributeFact(model, fact, { method: "static", steps: 1 })).scores;
  return { activation, "grad-x-act": gradXAct, static: staticScores };
}
