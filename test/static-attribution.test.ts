// The static log-probability attribution (ALGORITHMS.md §13.1) against the float64 PyTorch
// reference of tools/golden/static_scores.py on the golden GPT-2 and BERT checkpoints, and its
// wiring as an attribution method (`static`: one forward pass, summed over object pieces).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attributeStep } from "../src/attribution/attribute.ts";
import { attributionModel } from "../src/attribution/model-port.ts";
import { type LanguageModel, loadModel } from "../src/model/index.ts";
import { ToyModel } from "./helpers/toy-model.ts";

const GOLDEN = join(import.meta.dirname, "fixtures/golden");
interface Item {
  case: string;
  ids: number[];
  position: number;
  target: number;
  scores: number[][];
}
const items: Item[] = JSON.parse(readFileSync(join(GOLDEN, "static-scores.json"), "utf8")).items;

describe.each(["gpt2-tied-f32", "bert-tied-f32"])("static scores on %s", (name) => {
  let lm: LanguageModel;
  beforeAll(async () => {
    lm = await loadModel(join(GOLDEN, name));
  });
  afterAll(() => lm?.dispose());

  it("match the float64 PyTorch reference within 1e-4 of the largest score", async () => {
    const cases = items.filter((i) => i.case === name);
    expect(cases.length).toBeGreaterThan(1);
    for (const c of cases) {
      const ctx = await lm.prepare(c.ids, c.position);
      const scores = await ctx.staticScores(c.target);
      ctx.dispose();
      const scale = Math.max(...c.scores.flat().map(Math.abs));
      expect(scale).toBeGreaterThan(0.01);
      c.scores.forEach((row, l) => row.forEach((v, i) => expect(Math.abs(scores[l][i] - v)).toBeLessThan(1e-4 * scale + 1e-6)));
      // only the layers asked for are computed
      const one = await (await lm.prepare(c.ids, c.position)).staticScores(c.target, [1]);
      expect([...one[0]].every((v) => v === 0)).toBe(true);
      expect(Array.from(one[1])).toEqual(Array.from(scores[1]));
    }
  });

  it("is the attribution of method static, with the unpatched prediction", async () => {
    const c = items.find((i) => i.case === name)!;
    const r = await attributeStep(attributionModel(lm), { ids: c.ids, position: c.position, targetId: c.target }, { method: "static", steps: 20 });
    const ctx = await lm.prepare(c.ids, c.position);
    expect(r.scores.map((s) => Array.from(s))).toEqual((await ctx.staticScores(c.target)).map((s) => Array.from(s)));
    expect(r.targetProb).toBe(ctx.probabilities[c.target]);
    ctx.dispose();
  });
});

it("a toy model's static score is log p(y | m_i e_i) − log p(y | 0), computed by hand", async () => {
  // toy: z = mean embedding, P = softmax(W z + c); unit 0 alone: logits c + x_0 W[:, 0]
  const toy = new ToyModel(3, 2, 7);
  const ctx = await toy.prepare([1, 0]);
  const x = ctx.activations[0];
  const [scores] = await ctx.staticScores(1);
  const p1 = (z: number[]) => toy.softmax(z)[1];
  expect(scores[0]).toBeCloseTo(Math.log(p1([x[0], 0, 0])) - Math.log(p1([0, 0, 0])), 6);
});
