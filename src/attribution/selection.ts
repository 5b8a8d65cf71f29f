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
