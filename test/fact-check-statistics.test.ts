// Fact-checking statistics (§13.3) wired to stored candidates, against hand-computed values.
import { expect, it } from "vitest";
import { type ScoredFactCandidate, factCheckStatistics } from "../src/analysis/fact-checking.ts";

const c = (score: number, positive: boolean, direct = false): ScoredFactCandidate => ({ factId: "f", relation: "P1", candidate: "x", positive, score, direct });

it("AUROC, the rule at τ_fc, the direct answer and both baselines come from the stored candidates", () => {
  const candidates = [c(0.3, true, true), c(0.1, true), c(0.2, false), c(0.05, false), c(0.1, false, true)];
  const s = factCheckStatistics(candidates, 0.1);
  expect(s.n).toBe(5);
  // pairs (positive, negative): 0.3 beats all 3; 0.1 beats 0.05, ties 0.1 (½), loses to 0.2 → U = 4.5 of 6
  expect(s.auroc).toEqual({ auroc: 0.75, u: 4.5, nPositive: 2, nNegative: 3 });
  // every candidate belongs to fact "f": the fact bootstrap resamples that one fact, always the same AUROC
  expect([s.aurocCI!.estimate, s.aurocCI!.low, s.aurocCI!.high, s.aurocCI!.n]).toEqual([0.75, 0.75, 0.75, 1]);
  // accept score ≥ 0.1: 0.3, 0.1 (true), 0.2, 0.1 (wrong) → tp 2, fp 2, fn 0, tn 1
  expect([s.atThreshold.tp, s.atThreshold.fp, s.atThreshold.fn, s.atThreshold.tn]).toEqual([2, 2, 0, 1]);
  expect(s.atThreshold.precision).toBe(0.5);
  expect(s.atThreshold.recall).toBe(1);
  // direct: accepts the first true and the last wrong candidate
  expect([s.direct.tp, s.direct.fp, s.direct.fn, s.direct.tn]).toEqual([1, 1, 1, 2]);
  // accept-all: precision = prevalence 2/5, recall 1, F1 = 2·0.4/(1.4)
  expect(s.acceptAll.precision).toBeCloseTo(0.4, 12);
  expect(s.acceptAll.f1).toBeCloseTo(0.8 / 1.4, 12);
  expect(s.random.expected).toEqual({ precision: 0.4, recall: 0.5, f1: (2 * 0.4 * 0.5) / 0.9 });
  // sweep from accept-all upwards; best F1: τ = 0.3 gives P 1, R ½ → F1 2/3 < τ = 0.1 gives P ½, R 1 → 2/3; τ = 0.05: P 0.4, R 1 → 0.571
  expect(s.sweep.map((p) => p.threshold)).toEqual([0.05, 0.1, 0.2, 0.3]);
  expect(s.bestF1!.f1).toBeCloseTo(2 / 3, 12);
});
