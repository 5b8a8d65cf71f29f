// Each statistic against a case worked out by hand (the working is in the comments), plus the
// properties a percentile bootstrap and a seeded baseline must have.
import { describe, expect, it } from "vitest";
import {
  acceptAllBaseline,
  auroc,
  bootstrapCI,
  bootstrapMeanCI,
  classificationMetrics,
  confusion,
  erfc,
  mean,
  midranks,
  normalCdf,
  pairedBootstrapCI,
  quantile,
  randomVerdictBaseline,
  thresholdSweep,
  twoSidedZ,
  wilcoxonPaired,
  wilcoxonSignedRank,
  wilsonInterval,
} from "../src/analysis/statistics.ts";

/** A "generator" that returns the given draws in order, so every resample is known. */
function draws(values: number[]): () => number {
  let i = 0;
  return () => {
    if (i >= values.length) throw new Error("test ran out of draws");
    return values[i++];
  };
}

describe("normal distribution", () => {
  it("erfc and Φ agree with reference values (Python math.erfc) to 1e-13 relative", () => {
    const cases: [number, number][] = [
      [0.5, 0.4795001221869535],
      [-1, 1.842700792949715],
      [0.99, 0.1614919304446302], // last points of the series
      [1, 0.15729920705028513], // first points of the continued fraction
      [2.4, 6.885138966450789e-4],
      [3, 2.2090496998585438e-5],
      [6, 2.1519736712498916e-17],
    ];
    for (const [x, want] of cases) expect(Math.abs(erfc(x) - want) / want, `erfc(${x})`).toBeLessThan(1e-13);
    expect(normalCdf(1.96)).toBeCloseTo(0.9750021048517795, 14);
    expect(normalCdf(0)).toBe(0.5);
    expect(twoSidedZ(0.95)).toBeCloseTo(1.959963984540054, 12);
  });
});

describe("descriptive helpers", () => {
  it("quantile interpolates between order statistics (type 7)", () => {
    // [1, 3, 3, 14/3]: q = 0.25 → h = 0.75 → 1 + 0.75·(3 − 1) = 2.5
    expect(quantile([1, 3, 3, 14 / 3], 0.25)).toBeCloseTo(2.5, 12);
    expect(quantile([1, 3, 3, 14 / 3], 1)).toBeCloseTo(14 / 3, 12);
    expect(quantile([7], 0.3)).toBe(7);
  });

  it("midranks share tied positions", () => {
    // sorted 0.1 | 0.5 0.5 0.5 | 0.9 → ranks 1 | 3 3 3 | 5
    expect(midranks([0.9, 0.5, 0.5, 0.5, 0.1])).toEqual([5, 3, 3, 3, 1]);
  });
});

describe("bootstrap", () => {
  it("resamples with replacement and takes percentiles, as worked out by hand", () => {
    // values [1, 2, 6], B = 4, index = floor(draw · 3):
    //   draws 0.0 0.5 0.9 → [1, 2, 6] mean 3
    //   draws 0.1 0.1 0.1 → [1, 1, 1] mean 1
    //   draws 0.9 0.9 0.5 → [6, 6, 2] mean 14/3
    //   draws 0.4 0.7 0.2 → [2, 6, 1] mean 3
    // sorted means [1, 3, 3, 14/3]; level 0.95 → q = 0.025: h = 0.075 → 1 + 0.075·2 = 1.15
    //                                             q = 0.975: h = 2.925 → 3 + 0.925·(5/3) = 4.541666…
    const random = draws([0, 0.5, 0.9, 0.1, 0.1, 0.1, 0.9, 0.9, 0.5, 0.4, 0.7, 0.2]);
    const ci = bootstrapMeanCI([1, 2, 6], { resamples: 4, random })!;
    expect(ci.estimate).toBe(3);
    expect(ci.n).toBe(3);
    expect(ci.low).toBeCloseTo(1.15, 12);
    expect(ci.high).toBeCloseTo(3 + 0.925 * (5 / 3), 12);
  });

  it("paired version resamples the per-fact differences", () => {
    // a − b = [3−1, 5−2, 4−4] = [2, 3, 0]; the same draws as above pick
    //   [2, 3, 0] → 5/3, [2, 2, 2] → 2, [0, 0, 3] → 1, [3, 0, 2] → 5/3
    // sorted [1, 5/3, 5/3, 2]; level 0.5 → q 0.25: 1 + 0.75·(2/3) = 1.5; q 0.75: 5/3 + 0.25·(1/3) = 1.75
    const random = draws([0, 0.5, 0.9, 0.1, 0.1, 0.1, 0.9, 0.9, 0.5, 0.4, 0.7, 0.2]);
    const ci = pairedBootstrapCI([3, 5, 4], [1, 2, 4], { resamples: 4, random, level: 0.5 })!;
    expect(ci.estimate).toBeCloseTo(5 / 3, 12);
    expect(ci.low).toBeCloseTo(1.5, 12);
    expect(ci.high).toBeCloseTo(1.75, 12);
    expect(() => pairedBootstrapCI([1, 2], [1], {})).toThrow(/differ in length/);
  });

  it("is seeded, defaults to B = 2000, and its width matches the normal-theory interval", () => {
    // 400 values with mean 0 and sd 1 (alternating ±1): the mean's 95 % interval is about
    // ±1.96/√400 = ±0.098.
    const values = Array.from({ length: 400 }, (_, i) => (i % 2 ? 1 : -1));
    const a = bootstrapMeanCI(values, { seed: "s" })!;
    const b = bootstrapMeanCI(values, { seed: "s" })!;
    const c = bootstrapMeanCI(values, { seed: "other" })!;
    expect(a).toEqual(b);
    expect(c.low).not.toBe(a.low);
    expect(a.resamples).toBe(2000);
    expect(a.low).toBeLessThan(0);
    expect(a.high).toBeGreaterThan(0);
    expect((a.high - a.low) / 2).toBeGreaterThan(0.098 * 0.9);
    expect((a.high - a.low) / 2).toBeLessThan(0.098 * 1.1);
  });

  it("takes any statistic, and refuses empty or non-finite data", () => {
    const median = (s: readonly number[]) => quantile([...s].sort((x, y) => x - y), 0.5);
    const ci = bootstrapCI([5, 5, 5, 5], median, { resamples: 50 })!;
    expect([ci.estimate, ci.low, ci.high]).toEqual([5, 5, 5]);
    expect(bootstrapMeanCI([])).toBeNull();
    expect(() => bootstrapMeanCI([1, Number.NaN])).toThrow(/not a finite number/);
    expect(mean([1, 2, 6])).toBe(3);
  });
});

describe("Wilcoxon signed-rank", () => {
  it("exact p for a small vector, by enumeration of the 32 sign patterns", () => {
    // d = [1.5, −0.5, 2, 3, −4]: |d| ranks 0.5→1, 1.5→2, 2→3, 3→4, 4→5.
    // W+ = 2 + 3 + 4 = 9, W− = 1 + 5 = 6, E[W+] = 15/2 = 7.5, |9 − 7.5| = 1.5.
    // Subsets of {1..5} by sum: 0:1 1:1 2:1 3:2 4:2 5:3 6:3 (and symmetric 9..15), so
    // P(W+ ≤ 6) = 13/32 and P(W+ ≥ 9) = 13/32: p = 26/32 = 0.8125.
    const r = wilcoxonSignedRank([1.5, -0.5, 2, 3, -4]);
    expect(r).toMatchObject({ n: 5, zeros: 0, wPlus: 9, wMinus: 6, statistic: 6, method: "exact", z: null });
    expect(r.p).toBeCloseTo(0.8125, 14);
  });

  it("exact p with tied ranks", () => {
    // d = [1, −1, 2, 3]: |d| = 1, 1, 2, 3 → ranks 1.5, 1.5, 3, 4 (sum 10, E = 5).
    // W+ = 1.5 + 3 + 4 = 8.5, W− = 1.5; |8.5 − 5| = 3.5.
    // Of the 16 sign patterns, W+ ≤ 1.5 for {}, {a}, {b} (3) and W+ ≥ 8.5 for their
    // complements (3): p = 6/16 = 0.375.
    const r = wilcoxonSignedRank([1, -1, 2, 3]);
    expect(r).toMatchObject({ n: 4, wPlus: 8.5, wMinus: 1.5, statistic: 1.5 });
    expect(r.p).toBeCloseTo(0.375, 14);
  });

  it("zeros: dropped before ranking (wilcox) or ranked then dropped (pratt)", () => {
    // wilcox: d = [1, −2, 3] → ranks 1, 2, 3; W+ = 4, E = 3; sums of subsets of {1,2,3}:
    //   0 1 2 3 3 4 5 6 → |s − 3| ≥ 1 for 6 of 8: p = 0.75
    const w = wilcoxonSignedRank([0, 1, -2, 3]);
    expect(w).toMatchObject({ n: 3, zeros: 1, wPlus: 4, wMinus: 2 });
    expect(w.p).toBeCloseTo(0.75, 14);
    // pratt: |d| = 0, 1, 2, 3 → ranks 1, 2, 3, 4; the zero's rank 1 is dropped: W+ = 2 + 4 = 6,
    //   W− = 3, E = 9/2; subsets of {2,3,4}: 0 2 3 4 5 6 7 9 → |s − 4.5| ≥ 1.5 for 0 2 3 6 7 9: p = 6/8
    const p = wilcoxonSignedRank([0, 1, -2, 3], { zeroMethod: "pratt" });
    expect(p).toMatchObject({ n: 3, zeros: 1, wPlus: 6, wMinus: 3 });
    expect(p.p).toBeCloseTo(0.75, 14);
    expect(wilcoxonSignedRank([0, 0]).p).toBe(1);
  });

  it("normal approximation above n = 25", () => {
    // d = −1..−10, +11..+30 (n = 30): W− = 55, W+ = 410, E = 465/2 = 232.5,
    // Var = 30·31·61/24 = 2363.75, z = (410 − 232.5)/48.6184 = 3.65088,
    // p = erfc(3.65088/√2) = 2.61343e−4.
    const d = Array.from({ length: 30 }, (_, i) => (i < 10 ? -(i + 1) : i + 1));
    const r = wilcoxonSignedRank(d);
    expect(r).toMatchObject({ n: 30, wPlus: 410, wMinus: 55, statistic: 55, method: "normal" });
    expect(r.z!).toBeCloseTo(3.6508802354937036, 10);
    expect(r.p).toBeCloseTo(2.613430922667159e-4, 12);
  });

  it("normal approximation with the tie correction", () => {
    // ten +1, five −1, ten +2, five −2 (n = 30): |d| = 1 takes ranks 1..15 (midrank 8),
    // |d| = 2 ranks 16..30 (midrank 23). W+ = 10·8 + 10·23 = 310, W− = 155, E = 232.5.
    // Var = 2363.75 − 2·(15³ − 15)/48 = 2363.75 − 140 = 2223.75 (= Σr²/4 = (15·64 + 15·529)/4),
    // z = 77.5/√2223.75 = 1.643458, p = erfc(1.643458/√2) = 0.1002881.
    const d = [...Array(10).fill(1), ...Array(5).fill(-1), ...Array(10).fill(2), ...Array(5).fill(-2)];
    const r = wilcoxonSignedRank(d);
    expect(r).toMatchObject({ n: 30, wPlus: 310, wMinus: 155, method: "normal" });
    expect(r.z!).toBeCloseTo(1.643458424490803, 10);
    expect(r.p).toBeCloseTo(0.10028812058311075, 10);
  });

  it("the paired form tests a_i − b_i", () => {
    const r = wilcoxonPaired([2.5, 0.5, 3, 4, 0], [1, 1, 1, 1, 4]);
    expect(r).toEqual(wilcoxonSignedRank([1.5, -0.5, 2, 3, -4]));
  });
});

describe("proportions", () => {
  it("Wilson interval of 8/10 and 0/10", () => {
    // z = 1.959964, z² = 3.841459, z²/n = 0.3841459.
    // 8/10: center = (0.8 + 0.1920729)/1.3841459 = 0.7167400,
    //       half = (1.959964/1.3841459)·√(0.016 + 0.0096036) = 1.4160128·0.1600114 = 0.2265776
    //       → [0.4901625, 0.9433178]
    // 0/10: center = 0.1920729/1.3841459 = 0.1387665, half = 1.4160128·√0.0096036 = 0.1387665
    //       → [0, 0.2775329]
    const w = wilsonInterval(8, 10)!;
    expect(w.estimate).toBe(0.8);
    expect(w.low).toBeCloseTo(0.4901624715366418, 9);
    expect(w.high).toBeCloseTo(0.9433178485456248, 9);
    const zero = wilsonInterval(0, 10)!;
    expect(zero.low).toBeCloseTo(0, 12);
    expect(zero.high).toBeCloseTo(0.2775329, 6);
    expect(wilsonInterval(0, 0)).toBeNull();
    expect(() => wilsonInterval(11, 10)).toThrow(RangeError);
  });
});

describe("fact-checking statistics", () => {
  const candidates = [
    { score: 0.9, positive: true },
    { score: 0.5, positive: true },
    { score: 0.5, positive: false },
    { score: 0.2, positive: false },
    { score: 0.1, positive: true },
  ];

  it("AUROC with ties counted ½", () => {
    // positives 0.9, 0.5, 0.5 against negatives 0.5, 0.1:
    //   (0.9,0.5)=1 (0.9,0.1)=1 (0.5,0.5)=½ (0.5,0.1)=1 (0.5,0.5)=½ (0.5,0.1)=1 → U = 5, AUROC = 5/6
    const r = auroc([
      { score: 0.9, positive: true },
      { score: 0.5, positive: true },
      { score: 0.5, positive: true },
      { score: 0.5, positive: false },
      { score: 0.1, positive: false },
    ])!;
    expect(r).toMatchObject({ u: 5, nPositive: 3, nNegative: 2 });
    expect(r.auroc).toBeCloseTo(5 / 6, 14);
    // the five candidates above: positives 0.9, 0.5, 0.1; negatives 0.5, 0.2:
    //   0.9 beats both (2), 0.5 ties 0.5 and beats 0.2 (1.5), 0.1 beats none (0) → U = 3.5, AUROC = 3.5/6
    expect(auroc(candidates)!.auroc).toBeCloseTo(3.5 / 6, 14);
    expect(auroc([{ score: 1, positive: true }])).toBeNull();
  });

  it("τ sweep over the observed scores", () => {
    // accept when score ≥ τ; 3 positives, 2 negatives:
    //   τ 0.1: all 5 accepted    tp 3 fp 2 → P 0.6, R 1,   F1 0.75
    //   τ 0.2: 0.9 0.5 0.5 0.2   tp 2 fp 2 → P 0.5, R 2/3, F1 4/7
    //   τ 0.5: 0.9 0.5 0.5       tp 2 fp 1 → P 2/3, R 2/3, F1 2/3
    //   τ 0.9: 0.9               tp 1 fp 0 → P 1,   R 1/3, F1 0.5
    const sweep = thresholdSweep(candidates);
    expect(sweep.map((s) => s.threshold)).toEqual([0.1, 0.2, 0.5, 0.9]);
    expect(sweep.map((s) => [s.tp, s.fp, s.fn, s.tn])).toEqual([[3, 2, 0, 0], [2, 2, 1, 0], [2, 1, 1, 1], [1, 0, 2, 2]]);
    const want = [[0.6, 1, 0.75], [0.5, 2 / 3, 4 / 7], [2 / 3, 2 / 3, 2 / 3], [1, 1 / 3, 0.5]];
    sweep.forEach((s, i) => {
      expect(s.precision!).toBeCloseTo(want[i][0], 14);
      expect(s.recall!).toBeCloseTo(want[i][1], 14);
      expect(s.f1!).toBeCloseTo(want[i][2], 14);
    });
  });

  it("metrics of verdicts, with Wilson intervals and undefined cases", () => {
    const c = confusion([true, true, false, false, true], [true, false, true, false, true]);
    expect(c).toEqual({ tp: 2, fp: 1, fn: 1, tn: 1 });
    const m = classificationMetrics(c);
    expect(m.precision).toBeCloseTo(2 / 3, 14);
    expect(m.accuracy).toBeCloseTo(3 / 5, 14);
    expect(m.precisionCI!.n).toBe(3);
    expect(m.recallCI!.n).toBe(3);
    const none = classificationMetrics({ tp: 0, fp: 0, fn: 2, tn: 3 });
    expect(none.precision).toBeNull();
    expect(none.f1).toBeNull();
    expect(classificationMetrics({ tp: 0, fp: 1, fn: 1, tn: 0 }).f1).toBe(0);
  });

  it("accept-all baseline: precision = prevalence, recall = 1", () => {
    // labels T T F F F: tp 2 fp 3 → P 0.4, R 1, F1 = 0.8/1.4 = 4/7
    const b = acceptAllBaseline([true, true, false, false, false]);
    expect(b).toMatchObject({ tp: 2, fp: 3, fn: 0, tn: 0, recall: 1 });
    expect(b.precision).toBeCloseTo(0.4, 14);
    expect(b.f1).toBeCloseTo(4 / 7, 14);
    // balanced classes (one true and one wrong object per fact): F1 = 2·0.5/1.5 = 2/3
    expect(acceptAllBaseline([true, false, true, false]).f1).toBeCloseTo(2 / 3, 14);
  });

  it("random-verdict baseline: seeded draws, and its expectation", () => {
    // draws 0.1 0.7 0.3 0.9 with accept rate ½ → verdicts T F T F against labels T T F F:
    // tp 1 fp 1 fn 1 tn 1; expectation: P = prevalence ½, R = ½, F1 = ½
    const r = randomVerdictBaseline([true, true, false, false], { random: draws([0.1, 0.7, 0.3, 0.9]) });
    expect(r).toMatchObject({ tp: 1, fp: 1, fn: 1, tn: 1, precision: 0.5, recall: 0.5, f1: 0.5 });
    expect(r.expected).toEqual({ precision: 0.5, recall: 0.5, f1: 0.5 });
    // seeded: the same seed gives the same verdicts, and over 4000 candidates the observed
    // precision and recall are within 0.03 of the expectation
    const labels = Array.from({ length: 4000 }, (_, i) => i % 4 === 0);
    const a = randomVerdictBaseline(labels, { seed: "7", acceptRate: 0.3 });
    expect(randomVerdictBaseline(labels, { seed: "7", acceptRate: 0.3 })).toEqual(a);
    expect(Math.abs(a.precision! - 0.25)).toBeLessThan(0.03);
    expect(Math.abs(a.recall! - 0.3)).toBeLessThan(0.03);
    expect(a.expected.f1).toBeCloseTo((2 * 0.25 * 0.3) / 0.55, 14);
  });
});
