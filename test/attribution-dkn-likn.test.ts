import { describe, expect, it } from "vitest";
import { DEFAULT_DKN, findDegenerateSets, isDegenerate } from "../src/attribution/dkn.ts";
import { factCheckMetrics, meanScore, relationDegenerateNeurons } from "../src/attribution/fact-check.ts";
import { aggregateByNeuron, intersectNeurons } from "../src/attribution/likn.ts";
import type { Neuron } from "../src/attribution/model-port.ts";

const a: Neuron = [0, 1];
const b: Neuron = [1, 2];
const c: Neuron = [2, 3];
const d: Neuron = [3, 4];
const has = (set: Neuron[], n: Neuron) => set.some((m) => m[0] === n[0] && m[1] === n[1]);

describe("degenerate knowledge neurons (§6.2 oracle)", async () => {
  const P0 = 0.5;
  // Prob(S) = P0·(1 − 0.9·[a∈S ∧ b∈S]) − cCost·P0·|S ∩ {c}|
  const oracle = (cCost: number) => async (sets: Neuron[][]) =>
    sets.map((S) => P0 * (1 - 0.9 * Number(has(S, a) && has(S, b))) - cCost * P0 * Number(has(S, c)));

  it("finds exactly the pair (a, b) with its justifying probabilities", async () => {
    const r = await findDegenerateSets([a, b, c, d], oracle(0.05));
    expect(r.baseProb).toBe(P0);
    expect(r.sets.map((s) => s.neurons)).toEqual([[a, b]]);
    expect(r.sets[0].aloneProbs).toEqual([P0, P0]);
    expect(r.sets[0].jointProb).toBeCloseTo(P0 * 0.1, 12);
    expect(r.evaluations).toBe(1 + 4 + 6); // P0, singles, C(4,2) pairs
  });

  it("drops a candidate whose single suppression costs more than θ_low", async () => {
    const r = await findDegenerateSets([a, b, c, d], oracle(0.3));
    expect(r.evaluations).toBe(1 + 4 + 3); // c left S1, so only C(3,2) pairs
    expect(r.sets.map((s) => s.neurons)).toEqual([[a, b]]);
  });

  it("uses only the top-K pool", async () => {
    const r = await findDegenerateSets([c, d, a, b], oracle(0.05), { ...DEFAULT_DKN, poolSize: 3 });
    expect(r.sets).toEqual([]);
  });

  it("grows sets greedily beyond pairs when asked, never through a degenerate pair", async () => {
    // a, b, c each remove 10%; any two 20% (harmless); all three 40% (degenerate); d harmless.
    const triple = async (sets: Neuron[][]) => sets.map((S) => 1 - 0.1 * [a, b, c].filter((n) => has(S, n)).length * (has(S, a) && has(S, b) && has(S, c) ? 1.333 : 1));
    expect((await findDegenerateSets([a, b, c, d], triple)).sets).toEqual([]);
    const grown = await findDegenerateSets([a, b, c, d], triple, { ...DEFAULT_DKN, maxSetSize: 3 });
    expect(grown.sets.map((s) => s.neurons)).toEqual([[a, b, c]]);
    expect(grown.sets[0].jointProb).toBeLessThan(0.75);
  });
});

describe("superadditive degeneracy (§13.4)", () => {
  // a, b alone keep 85 % each, together 70 %: harmful by θ_high (< 75 %) but no more than
  // independent effects (0.85² = 72.25 %); c, d alone keep 95 %, together 30 % (0.9025 − 0.1 > 0.3)
  const P0 = 0.4;
  const rel = (S: Neuron[]) => {
    const ab = [a, b].filter((n) => has(S, n)).length;
    const cd = [c, d].filter((n) => has(S, n)).length;
    return (ab === 2 ? 0.7 : ab === 1 ? 0.85 : 1) * (cd === 2 ? 0.3 : cd === 1 ? 0.95 : 1);
  };
  const prob = async (sets: Neuron[][]) => sets.map((S) => P0 * rel(S));

  it("keeps only pairs whose joint effect beats the product of the single effects by the margin", async () => {
    expect((await findDegenerateSets([a, b, c, d], prob)).sets.map((s) => s.neurons)).toEqual([[a, b], [c, d]]);
    const strict = await findDegenerateSets([a, b, c, d], prob, { ...DEFAULT_DKN, criterion: "superadditive" });
    expect(strict.sets.map((s) => s.neurons)).toEqual([[c, d]]);
  });

  it("decides one set from its probabilities", () => {
    const o = { ...DEFAULT_DKN, criterion: "superadditive" as const, margin: 0.1 };
    expect(isDegenerate(1, [0.85, 0.85], 0.7, DEFAULT_DKN)).toBe(true);
    expect(isDegenerate(1, [0.85, 0.85], 0.7, o)).toBe(false); // 0.7 ≥ 0.7225 − 0.1
    expect(isDegenerate(1, [0.85, 0.85], 0.62, o)).toBe(true); // 0.62 < 0.6225
    expect(isDegenerate(1, [0.79, 0.99], 0.1, DEFAULT_DKN)).toBe(false); // 0.79 < 1 − θ_low
  });
});

describe("language-independent neurons (§5.1)", () => {
  it("intersects per-language lists and is empty when any language has none in common", () => {
    expect(intersectNeurons([[[1, 2], [3, 4]], [[3, 4], [5, 6]]])).toEqual([[3, 4]]);
    expect(intersectNeurons([[[1, 2]], [[5, 6]]])).toEqual([]);
    expect(intersectNeurons([[[1, 2], [3, 4]], [[3, 4], [1, 2]], [[1, 2]]])).toEqual([[1, 2]]);
  });

  it("aggregates a relation: facts per neuron, with a minimum", () => {
    const agg = aggregateByNeuron([[[1, 2], [3, 4]], [[3, 4]], [[3, 4], [5, 6]]], 2);
    expect(agg).toEqual([{ layer: 3, unit: 4, facts: 3 }]);
  });
});

describe("fact-checking (§7)", () => {
  it("computes the metrics of §12.2 test 6 with conventional names", () => {
    const m = factCheckMetrics({ truePositives: 8, trueNegatives: 6, positives: 10, negatives: 10 });
    // code: precision = TP/N+ = 0.8 (conventional recall); recall = TP/(TP+FP) = 8/12 (conventional precision)
    expect(m.recall).toBeCloseTo(0.8, 12);
    expect(m.precision).toBeCloseTo(8 / 12, 12);
    expect(m.f1).toBeCloseTo(0.727, 3);
    expect(m.accuracy).toBeCloseTo(0.7, 12);
  });

  it("keeps the DKN neurons counted more than floor(rho * max) times", () => {
    const setsPerFact: Neuron[][][] = [[[a, b]], [[a, c]], [[a, b]], [[d, a]]];
    // counts: a 4, b 2, c 1, d 1; floor(0.7*4) = 2 -> only a (count > 2)
    expect(relationDegenerateNeurons(setsPerFact, 0.7)).toEqual([a]);
    expect(relationDegenerateNeurons(setsPerFact, 0.3)).toEqual([a, b]);
    expect(relationDegenerateNeurons([], 0.7)).toEqual([]);
  });

  it("scores a candidate by the mean attribution over the neuron set", () => {
    const scores = [Float32Array.from([0, 2]), Float32Array.from([0, 0, 4])];
    expect(meanScore(scores, [a, b])).toBe(3);
  });
});
