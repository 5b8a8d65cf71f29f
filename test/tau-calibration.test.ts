// τ per language (§13.6) and the fixed-k selection, on score matrices worked out by hand.
import { describe, expect, it } from "vitest";
import { effectiveTau, factKnowledgeNeurons, paperSelection, selectNeurons, topKSelection } from "../src/attribution/selection.ts";
import { calibrateTau, calibratedSelection, meanKnowledgeNeurons } from "../src/attribution/tau-calibration.ts";

/** One fact, one prompt, one layer. */
const fact = (...scores: number[]) => [[Float32Array.from(scores)]];
// A: shares of the maximum 1, 0.8, 0.5, 0.2 (and one negative); B: 1, 0.75, 0.25
const A = fact(10, 8, 5, 2, -1);
const B = fact(4, 3, 1);

describe("mean |KN| as a function of τ", () => {
  it("counts the neurons strictly above τ·max, per fact, averaged", () => {
    // τ 0: A 4 (the positive ones), B 3 → 3.5;  τ 0.3: A 3, B 2 → 2.5;  τ 0.5: A 2 (0.5 is not
    // strictly above), B 2 → 2;  τ 0.78: A 2, B 1 → 1.5;  τ 0.9: 1, 1 → 1;  τ 1: nothing → 0
    const at = (tau: number) => meanKnowledgeNeurons([A, B], tau);
    expect([at(0), at(0.3), at(0.5), at(0.78), at(0.9), at(1)]).toEqual([3.5, 2.5, 2, 1.5, 1, 0]);
  });
});

describe("bisection on τ", () => {
  it("finds the τ where the mean crosses an attainable target", () => {
    // mean is 2.5 just below τ = 0.5 and 2 from 0.5 to 0.75: target 2 → τ = 0.5 (from above)
    const c = calibrateTau([A, B], 2);
    expect(c.meanKn).toBe(2);
    expect(c.tau).toBeGreaterThanOrEqual(0.5);
    expect(c.tau - 0.5).toBeLessThan(1e-9);
    expect(c.facts).toBe(2);
  });

  it("between two attainable means it takes the closer one", () => {
    // target 1.7: 2 below τ = 0.75, 1.5 from 0.75 on; |1.5 − 1.7| < |2 − 1.7| → τ ≈ 0.75, mean 1.5
    const c = calibrateTau([A, B], 1.7);
    expect(c.meanKn).toBe(1.5);
    expect(c.tau - 0.75).toBeLessThan(1e-9);
    expect(c.tau).toBeGreaterThanOrEqual(0.75);
    // target 1.9: 2 is closer than 1.5 → τ just below 0.75
    const d = calibrateTau([A, B], 1.9);
    expect(d.meanKn).toBe(2);
    expect(0.75 - d.tau).toBeLessThan(1e-9);
    expect(d.tau).toBeLessThan(0.75);
  });

  it("a target at or above the τ = 0 mean gives τ = 0; bad input is refused", () => {
    expect(calibrateTau([A, B], 3.5)).toMatchObject({ tau: 0, meanKn: 3.5 });
    expect(calibrateTau([A, B], 9)).toMatchObject({ tau: 0, meanKn: 3.5 });
    expect(() => calibrateTau([], 2)).toThrow(/at least one fact/);
    expect(() => calibrateTau([A], Number.NaN)).toThrow(RangeError);
  });

  it("calibrates a language against en on the same facts and records the rule", () => {
    // en at τ 0.3: C = [5, 4, 1] (shares 1, 0.8, 0.2) → 2; D = [2, 1.5, 1.2, 0.2] (1, 0.75, 0.6, 0.1) → 3;
    // reference mean 2.5. The language's facts A, B have mean 2.5 for τ in [0.25, 0.5) and 3
    // just below 0.25 → τ = 0.25.
    const sel = calibratedSelection({ language: "en", tau: 0.3, facts: [fact(5, 4, 1), fact(2, 1.5, 1.2, 0.2)] }, [A, B], "42");
    expect(sel.tau - 0.25).toBeLessThan(1e-9);
    expect(sel.tau).toBeGreaterThanOrEqual(0.25);
    expect(sel.rule).toEqual({ rule: "calibrated", reference: "en", referenceTau: 0.3, referenceMeanKn: 2.5, meanKn: 2.5, facts: 2, seed: "42" });
  });
});

describe("fixed-k selection", () => {
  it("keeps the k best positive scores, none when the maximum is not positive", () => {
    const top2 = topKSelection(2);
    expect(selectNeurons(A[0], top2).map((n) => n.score)).toEqual([10, 8]);
    expect(selectNeurons(fact(-1, -2)[0], top2)).toEqual([]);
    expect(selectNeurons(fact(3, 0, -1)[0], topKSelection(5)).map((n) => n.score)).toEqual([3]);
    expect(effectiveTau(selectNeurons(A[0], top2), 10)).toBe(0.8);
    expect(() => topKSelection(0)).toThrow(RangeError);
  });

  it("with several prompts, shares first and keeps k after", () => {
    // prompt 1 top-2: units 0, 1; prompt 2 top-2: units 1, 2. Shared (≥ ⌈0.3·2⌉ = 1 prompt): 0, 1, 2
    // with mean scores 10, (8 + 9)/2 = 8.5, 7 → top 2: units 0 and 1.
    const twoPrompts = [[Float32Array.from([10, 8, 1])], [Float32Array.from([1, 9, 7])]];
    expect(factKnowledgeNeurons(twoPrompts, topKSelection(2)).map((n) => [n.unit, n.score])).toEqual([[0, 10], [1, 8.5]]);
    expect(factKnowledgeNeurons(twoPrompts, paperSelection("en")).map((n) => n.unit)).toEqual([0, 1, 2]);
  });
});
