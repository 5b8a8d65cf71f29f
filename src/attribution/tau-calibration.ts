// τ per language (ALGORITHMS.md §13.6). The paper fixes τ for en (0.3) and zh (0.2) only; with
// one τ everywhere, a language whose attributions are spread over more neurons gets larger
// knowledge-neuron sets, which confounds every comparison across languages. The calibration
// chooses τ_L so that the mean |KN| over a seeded sample of facts in language L equals the mean
// |KN| of the reference language (en) over the same facts at its own τ. Pure: it takes the
// score matrices, whoever computed them.
import { type NeuronSelection, factKnowledgeNeurons } from "./selection.ts";

/** One fact's attribution: a score matrix ([layer] → scores) per prompt (template). */
export type FactScores = readonly (readonly Float32Array[])[];

/** Mean number of knowledge neurons per fact at threshold τ (each fact's prompts shared, §4.2). */
export function meanKnowledgeNeurons(facts: readonly FactScores[], tau: number): number {
  if (!facts.length) return Number.NaN;
  const selection: NeuronSelection = { tau, rule: { rule: "given" } };
  return facts.reduce((sum, f) => sum + factKnowledgeNeurons(f, selection).length, 0) / facts.length;
}

export interface Calibration {
  tau: number;
  /** Mean |KN| of the language at tau, and the reference's mean |KN| it was matched to. */
  meanKn: number;
  referenceMeanKn: number;
  facts: number;
}

/**
 * Bisection on τ ∈ [0, 1] for the mean |KN| of `facts` to cross `target`. The mean |KN| only
 * falls as τ grows (a neuron above τ·max is above every smaller τ·max), is 0 at τ = 1 (nothing
 * scores strictly above its maximum) and largest at τ = 0. Each of the 40 halvings keeps
 * mean(lo) > target ≥ mean(hi); of the two end points, the one whose mean is closer to the
 * target is returned (the higher τ on a tie). A target at or above the τ = 0 mean gives τ = 0.
 */
export function calibrateTau(facts: readonly FactScores[], target: number, iterations = 40): Calibration {
  if (!facts.length) throw new RangeError("calibrating τ needs at least one fact");
  if (!Number.isFinite(target) || target < 0) throw new RangeError(`target mean |KN| must be a finite number ≥ 0 (got ${target})`);
  let lo = 0;
  let hi = 1;
  let meanLo = meanKnowledgeNeurons(facts, lo);
  let meanHi = meanKnowledgeNeurons(facts, hi);
  if (meanLo <= target) return { tau: 0, meanKn: meanLo, referenceMeanKn: target, facts: facts.length };
  for (let i = 0; i < iterations; i++) {
    const mid = (lo + hi) / 2;
    const meanMid = meanKnowledgeNeurons(facts, mid);
    if (meanMid > target) [lo, meanLo] = [mid, meanMid];
    else [hi, meanHi] = [mid, meanMid];
  }
  const pickLo = Math.abs(meanLo - target) < Math.abs(meanHi - target);
  return { tau: pickLo ? lo : hi, meanKn: pickLo ? meanLo : meanHi, referenceMeanKn: target, facts: facts.length };
}

/**
 * The selection of language L calibrated against a reference language on the same facts:
 * target = mean |KN| of the reference at its τ.
 */
export function calibratedSelection(
  reference: { language: string; tau: number; facts: readonly FactScores[] },
  target: readonly FactScores[],
  seed: string,
): NeuronSelection {
  const referenceMeanKn = meanKnowledgeNeurons(reference.facts, reference.tau);
  const c = calibrateTau(target, referenceMeanKn);
  return {
    tau: c.tau,
    rule: { rule: "calibrated", reference: reference.language, referenceTau: reference.tau, referenceMeanKn, meanKn: c.meanKn, facts: c.facts, seed },
  };
}
