// The TypeScript runtime against the float64 PyTorch goldens (tools/golden/FORMAT.md), on the
// wasm, cpu and webgpu backends (test/helpers/webgpu.ts: KN_PARITY_BACKENDS; webgpu fails in CI
// without an adapter, and is skipped with the reason elsewhere): token ids, probabilities over the whole vocabulary, FFN activations,
// patched-row probabilities and gradients, and neuron scaling.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadModel, type LanguageModel } from "../src/model/index.ts";
import { goldenCases, maxAbs, maxAbsDiff } from "./helpers/model-golden.ts";
import { describeBackends } from "./helpers/webgpu.ts";

const PROB_TOL = 1e-5; // absolute
const ACT_TOL = 1e-4; // × max|ref| per layer
const GRAD_TOL = 1e-3; // × max|ref| per row

const cases = goldenCases();
describe.skipIf(cases.length === 0)("golden parity", () => {
  describeBackends((backend) => {
    describe.each(cases.map((c) => [c.case, c] as const))("%s", (_name, golden) => {
      let model: LanguageModel;
      beforeAll(async () => {
        model = await loadModel(golden.dir, { backend });
      });
      afterAll(() => model?.dispose());

      it("reads the architecture and sizes from config.json", () => {
        expect(model.backend).toBe(backend);
        expect([model.architecture, model.nLayers, model.hidden, model.ffnWidth, model.vocabSize]).toEqual([
          golden.arch, golden.nLayers, golden.hidden, golden.ffnWidth, golden.vocabSize,
        ]);
      });

      it.each(golden.prompts.map((p, i) => [i, p] as const))("prompt %i", async (_i, p) => {
        // tokenization (special tokens included) and the position read
        expect(model.tokenizer.encode(p.text)).toEqual(p.inputIds);
        expect(model.targetPosition(p.inputIds)).toBe(p.position);

        const probs = await model.probabilities(p.inputIds);
        expect(probs.length).toBe(golden.vocabSize);
        expect(maxAbsDiff(probs, p.probs)).toBeLessThanOrEqual(PROB_TOL);

        const acts = await model.activations(p.inputIds);
        expect(acts.length).toBe(golden.nLayers);
        acts.forEach((a, l) => expect(maxAbsDiff(a, p.activations[l]) / maxAbs(p.activations[l]), `layer ${l}`).toBeLessThanOrEqual(ACT_TOL));

        const ctx = await model.prepare(p.inputIds, p.position);
        try {
          expect(maxAbsDiff(ctx.probabilities, p.probs)).toBeLessThanOrEqual(PROB_TOL);
          ctx.activations.forEach((a, l) => expect(maxAbsDiff(a, p.activations[l]) / maxAbs(p.activations[l])).toBeLessThanOrEqual(ACT_TOL));

          const g = p.gradient;
          const rows = g.rows.map((r) => Float32Array.from(r));
          const patched = await ctx.patchedGradient(g.layer, rows, g.targetId);
          expect(maxAbsDiff(patched.probs, g.probs)).toBeLessThanOrEqual(PROB_TOL);
          patched.grads.forEach((grad, b) => expect(maxAbsDiff(grad, g.grads[b]) / maxAbs(g.grads[b]), `row ${b}`).toBeLessThanOrEqual(GRAD_TOL));
          const forwardOnly = (await ctx.patchedProbabilities(g.layer, rows, [g.targetId])).map((r) => r[0]);
          expect(maxAbsDiff(forwardOnly, g.probs)).toBeLessThanOrEqual(PROB_TOL);

          // scaling: one request at a time, and all of them as one batch of scale sets
          for (const s of p.scaled) {
            const single = await model.probabilities(p.inputIds, { scale: { neurons: s.neurons, factor: s.factor } });
            expect(Math.abs(single[s.targetId] - s.prob), `${s.factor}× ${JSON.stringify(s.neurons)}`).toBeLessThanOrEqual(PROB_TOL);
          }
          for (const factor of new Set(p.scaled.map((s) => s.factor))) {
            const sets = p.scaled.filter((s) => s.factor === factor);
            const batched = await ctx.scaledProbabilities(sets.map((s) => s.neurons), factor);
            sets.forEach((s, k) => expect(Math.abs(batched[k][s.targetId] - s.prob)).toBeLessThanOrEqual(PROB_TOL));
          }
        } finally {
          ctx.dispose();
        }
      });
    });
  });
});

// Missing fixtures fail the suite instead of letting it pass with nothing compared.
it("the golden fixtures are present", () => {
  expect(cases.length, "no golden fixtures: run /usr/bin/python3 tools/golden/generate.py --out test/fixtures/golden").toBeGreaterThan(0);
});
