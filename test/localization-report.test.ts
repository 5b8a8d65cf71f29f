// The localization report's statistics, wired to stored measures, against hand-computed values.
import { describe, expect, it } from "vitest";
import { type MeasureRow, localizationReport } from "../src/analysis/localization-report.ts";

function row(p: Partial<MeasureRow> & Pick<MeasureRow, "factId" | "neuronSet" | "target">): MeasureRow {
  return {
    method: "amig-compat", language: "en", draw: 0, relationId: "P1", seed: 0, targetFactId: p.factId, nNeurons: 2, pBase: 0.5,
    suppressRel: 0, suppressLogp: 0, suppressFlip: false, enhanceRel: 0, enhanceLogp: 0, enhanceFlip: false, ...p,
  };
}

const rows: MeasureRow[] = [
  // the run's neurons on their own facts: Δlog p −1, −2, −3; one flip in three; one relative Δ of 25 (> 20: filtered)
  row({ factId: "a", neuronSet: "kn", target: "related", suppressLogp: -1, suppressRel: -0.5, suppressFlip: true, nNeurons: 1 }),
  row({ factId: "b", neuronSet: "kn", target: "related", suppressLogp: -2, suppressRel: -0.7, nNeurons: 2 }),
  row({ factId: "c", neuronSet: "kn", target: "related", suppressLogp: -3, suppressRel: 25, nNeurons: 6 }),
  // random control, two draws per fact: per-fact means −0.5, −0.25, −1
  row({ factId: "a", neuronSet: "random", target: "related", draw: 0, suppressLogp: -0.4, suppressFlip: true }),
  row({ factId: "a", neuronSet: "random", target: "related", draw: 1, suppressLogp: -0.6 }),
  row({ factId: "b", neuronSet: "random", target: "related", draw: 0, suppressLogp: 0 }),
  row({ factId: "b", neuronSet: "random", target: "related", draw: 1, suppressLogp: -0.5 }),
  row({ factId: "c", neuronSet: "random", target: "related", draw: 0, suppressLogp: -1 }),
  row({ factId: "c", neuronSet: "random", target: "related", draw: 1, suppressLogp: -1 }),
  // unrelated facts of the same relation for two of the facts only
  row({ factId: "a", neuronSet: "kn", target: "same-relation", seed: 1, suppressLogp: -0.1 }),
  row({ factId: "b", neuronSet: "kn", target: "same-relation", seed: 1, suppressLogp: 0.2 }),
];

describe("localization report", () => {
  const report = localizationReport(rows);
  const cond = (set: string, target: string) => report.conditions.find((c) => c.neuronSet === set && c.target === target)!;

  it("summarizes each condition per fact with its n", () => {
    const kn = cond("kn", "related");
    expect([kn.facts, kn.meanNeurons, kn.suppressLogp!.estimate, kn.suppressLogp!.n]).toEqual([3, 3, -2, 3]);
    // relative Δ 25 is left out by the reference filter: mean of −0.5 and −0.7 over 2 facts
    expect(kn.suppressRel!.estimate).toBeCloseTo(-0.6, 12);
    expect(kn.suppressRel!.n).toBe(2);
    // bootstrap CI of −1, −2, −3 lies within the range of the data and contains the mean
    expect(kn.suppressLogp!.low).toBeGreaterThanOrEqual(-3);
    expect(kn.suppressLogp!.high).toBeLessThanOrEqual(-1);
    // one flip in three facts: Wilson 95 % = [0.0615, 0.7923] (hand-computed, z = 1.95996)
    expect(kn.suppressFlip!.estimate).toBeCloseTo(1 / 3, 12);
    expect(kn.suppressFlip!.low).toBeCloseTo(0.06149, 4);
    expect(kn.suppressFlip!.high).toBeCloseTo(0.79234, 4);
    const random = cond("random", "related");
    expect(random.suppressLogp!.estimate).toBeCloseTo((-0.5 - 0.25 - 1) / 3, 12);
    // per-fact flip fractions ½, 0, 0 are not 0/1 outcomes: the bootstrap CI of their mean
    expect(random.suppressFlip!.estimate).toBeCloseTo(1 / 6, 12);
    expect(random.suppressFlip!.n).toBe(3);
  });

  it("pairs facts for method vs control and related vs unrelated", () => {
    const vsRandom = report.comparisons.find((c) => c.b === "amig-compat random related" && c.measure === "suppressLogp")!;
    // differences −1 − (−0.5) = −0.5, −2 − (−0.25) = −1.75, −3 − (−1) = −2: all negative, n = 3,
    // exact Wilcoxon W+ = 0, two-sided p = 2/2³ = 0.25
    expect(vsRandom.difference!.estimate).toBeCloseTo(-4.25 / 3, 12);
    expect(vsRandom.difference!.n).toBe(3);
    expect([vsRandom.wilcoxon!.n, vsRandom.wilcoxon!.wPlus, vsRandom.wilcoxon!.method]).toEqual([3, 0, "exact"]);
    expect(vsRandom.wilcoxon!.p).toBeCloseTo(0.25, 12);
    const vsSame = report.comparisons.find((c) => c.b === "amig-compat kn same-relation" && c.measure === "suppressLogp")!;
    // only a and b have an unrelated measurement: −1 − (−0.1) = −0.9, −2 − 0.2 = −2.2
    expect(vsSame.difference!.n).toBe(2);
    expect(vsSame.difference!.estimate).toBeCloseTo(-1.55, 12);
  });

  it("compares methods on the facts both measured", () => {
    const other = rows.filter((r) => r.neuronSet === "kn" && r.target === "related").map((r) => ({ ...r, method: "ig", suppressLogp: r.suppressLogp + 1 }));
    const r = localizationReport([...rows, ...other.slice(0, 2)]);
    const m = r.comparisons.find((c) => c.a === "amig-compat kn related" && c.b === "ig kn related" && c.measure === "suppressLogp")!;
    expect(m.difference!.n).toBe(2);
    expect(m.difference!.estimate).toBeCloseTo(-1, 12);
    expect(m.wilcoxon!.p).toBeCloseTo(0.5, 12); // two ties of |−1|: W+ = 0, p = 2/4
  });
});
