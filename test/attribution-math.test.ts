import { describe, expect, it } from "vitest";
import { attributeStep, blankedBaseline } from "../src/attribution/attribute.ts";
import { meanVectors, pathPoints } from "../src/attribution/integrated-gradients.ts";
import { selectKnowledgeNeurons, shareFilter, tauFor, topNeurons } from "../src/attribution/selection.ts";
import { ToyModel } from "./helpers/toy-model.ts";

const ids = [1, 2, 3, 4, 5];

describe("integrated gradients over a toy model with closed-form gradients", () => {
  const model = new ToyModel(8, 6, 7);
  const target = 2;

  it("amig-ig satisfies completeness: sum of scores = P(x) - P(mean blanked baseline)", async () => {
    const { scores } = await attributeStep(model, { ids, position: 0, targetId: target }, { method: "amig-ig", steps: 200 });
    const x = model.activation(ids);
    const b = (await blankedBaseline(model, ids, 0))[0];
    const expected = model.softmax(x)[target] - model.softmax(b)[target];
    const sum = scores[0].reduce((a, v) => a + v, 0);
    expect(Math.abs(sum - expected)).toBeLessThan(0.01 * Math.abs(expected));
  });

  it("amig-compat equals amig-ig scaled by x / (x - baseline), elementwise", async () => {
    const opts = { steps: 20 };
    const compat = (await attributeStep(model, { ids, position: 0, targetId: target }, { method: "amig-compat", ...opts })).scores[0];
    const ig = (await attributeStep(model, { ids, position: 0, targetId: target }, { method: "amig-ig", ...opts })).scores[0];
    const x = model.activation(ids);
    const b = (await blankedBaseline(model, ids, 0))[0];
    for (let i = 0; i < x.length; i++) expect(compat[i]).toBeCloseTo((ig[i] * x[i]) / (x[i] - b[i]), 5);
  });

  it("plain ig integrates from zero with both endpoints: completeness P(x) - P(0) at large N", async () => {
    const { scores } = await attributeStep(model, { ids, position: 0, targetId: target }, { method: "ig", steps: 400 });
    const x = model.activation(ids);
    const expected = model.softmax(x)[target] - model.softmax(new Float32Array(8))[target];
    const sum = scores[0].reduce((a, v) => a + v, 0);
    // left+right endpoints with divisor N: the Riemann bias is O(1/N)
    expect(Math.abs(sum - expected)).toBeLessThan(0.02 * Math.abs(expected));
  });

  it("reports the unpatched target probability", async () => {
    const r = await attributeStep(model, { ids, position: 0, targetId: target }, { method: "ig", steps: 4 });
    expect(r.targetProb).toBeCloseTo(model.softmax(model.activation(ids))[target], 6);
  });
});

describe("AMIG path identity", () => {
  it("the mean over baselines of b_j + (k/N)(x - b_j) is b̄ + (k/N)(x - b̄)", () => {
    const x = Float32Array.from([1, -2, 3]);
    const bs = [Float32Array.from([0, 1, 2]), Float32Array.from([4, 0, -1]), Float32Array.from([-1, 2, 5])];
    const N = 5;
    const perBaseline = bs.map((b) => pathPoints("amig-compat", x, b, N));
    const averaged = pathPoints("amig-compat", x, meanVectors(bs), N);
    for (let k = 0; k < N; k++) {
      const mean = meanVectors(perBaseline.map((p) => p[k]));
      for (let i = 0; i < 3; i++) expect(averaged[k][i]).toBeCloseTo(mean[i], 6);
    }
  });
});

describe("knowledge-neuron selection", () => {
  it("keeps scores strictly above tau * max, sorted descending", () => {
    const scores = [Float32Array.from([10, 3, 3.0001, -4]), Float32Array.from([2, 9, 0, 5])];
    const kn = selectKnowledgeNeurons(scores, 0.3);
    expect(kn.map((n) => [n.layer, n.unit])).toEqual([[0, 0], [1, 1], [1, 3], [0, 2]]);
  });

  it("returns nothing when the maximum is not positive", () => {
    expect(selectKnowledgeNeurons([Float32Array.from([-1, -2]), Float32Array.from([0, -3])], 0.3)).toEqual([]);
  });

  it("uses tau 0.3 for en, 0.2 for zh, 0.3 otherwise, and honours overrides", () => {
    expect([tauFor("en"), tauFor("zh"), tauFor("fr"), tauFor("fr", { fr: 0.25 })]).toEqual([0.3, 0.2, 0.3, 0.25]);
  });

  it("topNeurons returns the K best in selection order", () => {
    const scores = [Float32Array.from([1, 5]), Float32Array.from([4, 2])];
    expect(topNeurons(scores, 2).map((n) => n.score)).toEqual([5, 4]);
  });

  it("share filter keeps neurons selected in at least ceil(p*n) prompts, ranked by mean score", async () => {
    const a = { layer: 0, unit: 1, score: 1 };
    const b = { layer: 1, unit: 2, score: 5 };
    const c = { layer: 2, unit: 3, score: 9 };
    const lists = [[a, b], [{ ...a, score: 3 }], [c], [{ ...b, score: 1 }], []];
    // p = 0.3, n = 5 -> need 2 prompts: a (mean 2) and b (mean 3); c only once
    expect(shareFilter(lists, 0.3)).toEqual([{ layer: 1, unit: 2, score: 3 }, { layer: 0, unit: 1, score: 2 }]);
    expect(shareFilter([[a, b]])).toEqual([a, b]);
  });
});
