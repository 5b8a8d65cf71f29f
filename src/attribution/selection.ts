// Knowledge-neuron selection (ALGORITHMS.md §4).

export interface ScoredNeuron {
  layer: number;
  unit: number;
  score: number;
}

/** Relative thresholds of the AMIG scripts: en 0.3, zh 0.2; other languages default to 0.3. */
export const DEFAULT_TAU: Readonly<Record<string, number>> = { en: 0.3, zh: 0.2 };
export const FALLBACK_TAU = 0.3;

export function tauFor(language: string, overrides: Readonly<Record<string, number>> = {}): number {
  return overrides[language] ?? DEFAULT_TAU[language] ?? FALLBACK_TAU;
}

/** How a run's τ (or k) was chosen; stored with the run (attribution_run.tau_rule). */
export type TauRule =
  /** en 0.3, zh 0.2 (the paper's), 0.3 for every other language */
  | { rule: "paper" }
  /** given by the user (--tau) */
  | { rule: "given" }
  /** bisection on τ so that the language's mean |KN| on a seeded sample matches the reference's (§13.6) */
  | {
      rule: "calibrated";
      reference: string;
      referenceTau: number;
      /** mean |KN| of the reference language at referenceTau, and of this language at τ, on the sample */
      referenceMeanKn: number;
      meanKn: number;
      facts: number;
      seed: string;
    }
  /** the k best neurons with a positive score, whatever their share of the maximum */
  | { rule: "top-k"; k: number };

/** A knowledge-neuron selection: strictly above τ·max, or the top k (rule "top-k"). */
export interface NeuronSelection {
  tau: number;
  rule: TauRule;
}

export function paperSelection(language: string): NeuronSelection {
  return { tau: tauFor(language), rule: { rule: "paper" } };
}

export function topKSelection(k: number): NeuronSelection {
  if (!(Number.isInteger(k) && k >= 1)) throw new RangeError(`k must be a positive integer (got ${k})`);
  return { tau: 0, rule: { rule: "top-k", k } };
}

/**
 * The knowledge neurons of one prompt under a selection. Top-k takes the k highest scores among
 * the positive ones (none when the maximum is not positive, as for τ).
 */
export function selectNeurons(scores: readonly Float32Array[], selection: NeuronSelection): ScoredNeuron[] {
  if (selection.rule.rule === "top-k") return selectKnowledgeNeurons(scores, 0).slice(0, selection.rule.k);
  return selectKnowledgeNeurons(scores, selection.tau);
}

/**
 * The knowledge neurons of a fact from its prompts' score matrices: each prompt selected, then
 * shared across prompts (§4.2); top-k keeps k after sharing.
 */
export function factKnowledgeNeurons(perPrompt: readonly (readonly Float32Array[])[], selection: NeuronSelection): ScoredNeuron[] {
  const shared = shareFilter(perPrompt.map((scores) => selectNeurons(scores, selection)));
  return selection.rule.rule === "top-k" ? shared.slice(0, selection.rule.k) : shared;
}

/**
 * The τ stored with a top-k run: the kept neurons hold at least this share of the maximum score
 * (the last kept neuron's score / max; 0 when none is kept).
 */
export function effectiveTau(neurons: readonly ScoredNeuron[], max: number): number {
  return neurons.length && max > 0 ? neurons[neurons.length - 1].score / max : 0;
}

export function maxScore(scores: readonly Float32Array[]): number {
  let max = Number.NEGATIVE_INFINITY;
  for (const row of scores) for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  return max;
}

/**
 * Coarse selection: every neuron with score strictly above tau * max, sorted by score
 * (descending; ties by layer, unit). Empty when max <= 0, where the relative rule would
 * otherwise select nearly everything (§4.1 [R]).
 */
export function selectKnowledgeNeurons(scores: readonly Float32Array[], tau: number): ScoredNeuron[] {
  const max = maxScore(scores);
  if (!(max > 0)) return [];
  const threshold = tau * max;
  const out: ScoredNeuron[] = [];
  scores.forEach((row, layer) => {
    for (let unit = 0; unit < row.length; unit++) if (row[unit] > threshold) out.push({ layer, unit, score: row[unit] });
  });
  return out.sort(byScore);
}

/** The K highest-scoring neurons (for heatmaps), same order as selection. */
export function topNeurons(scores: readonly Float32Array[], k: number): ScoredNeuron[] {
  const all: ScoredNeuron[] = [];
  scores.forEach((row, layer) => row.forEach((score, unit) => all.push({ layer, unit, score })));
  return all.sort(byScore).slice(0, k);
}

function byScore(a: ScoredNeuron, b: ScoredNeuron): number {
  return b.score - a.score || a.layer - b.layer || a.unit - b.unit;
}

/**
 * Several prompts of one fact (paraphrased templates): keep the neurons selected in at least
 * ceil(p * n) prompts, ranked by their mean score over the prompts that selected them (§4.2 [R]).
 */
export function shareFilter(perPrompt: readonly ScoredNeuron[][], p = 0.3): ScoredNeuron[] {
  if (perPrompt.length === 1) return [...perPrompt[0]];
  const need = Math.max(1, Math.ceil(p * perPrompt.length));
  const acc = new Map<string, { layer: number; unit: number; sum: number; count: number }>();
  for (const list of perPrompt) {
    for (const n of list) {
      const key = `${n.layer}:${n.unit}`;
      const e = acc.get(key) ?? { layer: n.layer, unit: n.unit, sum: 0, count: 0 };
      e.sum += n.score;
      e.count++;
      acc.set(key, e);
    }
  }
  return [...acc.values()]
    .filter((e) => e.count >= need)
    .map((e) => ({ layer: e.layer, unit: e.unit, score: e.sum / e.count }))
    .sort(byScore);
}

/** One layer of a full attribution grid, summarized: what heatmap overviews show for every run. */
export interface LayerSummary {
  /** Highest score of the layer, and its unit (the first on ties). */
  maxScore: number;
  maxUnit: number;
  /** Sum of the layer's positive scores. */
  positiveSum: number;
}

export function summarizeLayers(scores: readonly Float32Array[]): LayerSummary[] {
  return scores.map((row) => {
    let maxUnit = 0;
    let positiveSum = 0;
    for (let u = 0; u < row.length; u++) {
      if (row[u] > row[maxUnit]) maxUnit = u;
      if (row[u] > 0) positiveSum += row[u];
    }
    return { maxScore: row.length ? row[maxUnit] : 0, maxUnit, positiveSum };
  });
}
