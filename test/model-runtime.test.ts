// Behaviour of the LanguageModel runtime beyond golden parity: batched paths agree with single
// ones, weight edits apply and revert bit for bit, and repeated calls leak no tensors; on wasm and
// webgpu (cpu is covered by model-parity).
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ModelError, loadModel, openCheckpoint, type LanguageModel, type Neuron } from "../src/model/index.ts";
import { goldenCase, maxAbsDiff, type GoldenCase } from "./helpers/model-golden.ts";
import { describeBackends, parityBackends } from "./helpers/webgpu.ts";

const bits = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

describeBackends((backend) => {
  for (const name of ["bert-tied-f32", "gpt2-tied-f32"]) {
    const golden = goldenCase(name);
    describe.skipIf(!golden)(name, () => {
      const g = golden as GoldenCase;
      const prompt = g?.prompts[0];
      let model: LanguageModel;
      beforeAll(async () => {
        model = await loadModel(g.dir, { backend });
      });
      afterAll(() => model?.dispose());

      it("evaluates many scale sets in one call exactly like one by one", async () => {
        const sets: Neuron[][] = [[], [[0, 3]], [[1, 7], [0, 5]], [[g.nLayers - 1, 1]], [[0, 3], [0, 4], [1, 2]]];
        for (const factor of [0, 2]) {
          const one = await Promise.all(sets.map((neurons) => model.probabilities(prompt.inputIds, { scale: { neurons, factor } })));
          const many = await model.probabilitiesForScaleSets(prompt.inputIds, prompt.position, sets, factor);
          many.forEach((p, k) => expect(maxAbsDiff(p, one[k])).toBeLessThan(1e-6));
          const targets = [prompt.gradient.targetId, 0];
          const picked = await model.probabilitiesForScaleSets(prompt.inputIds, prompt.position, sets, factor, targets);
          picked.forEach((p, k) => expect(Array.from(p)).toEqual(targets.map((id) => many[k][id])));
        }
      });

      it("batches mixed probability requests", async () => {
        const other = g.prompts[1];
        const requests = [
          { ids: prompt.inputIds },
          { ids: prompt.inputIds, scale: { neurons: [[0, 1]] as Neuron[], factor: 0 } },
          { ids: other.inputIds },
          { ids: prompt.inputIds, scale: { neurons: [[1, 2]] as Neuron[], factor: 2 } },
        ];
        const batched = await model.probabilitiesBatch(requests);
        for (const [k, r] of requests.entries()) expect(maxAbsDiff(batched[k], await model.probabilities(r.ids, { scale: r.scale }))).toBeLessThan(1e-6);
      });

      it("reads activations of many inputs in one batch like one by one", async () => {
        const blank = g.arch === "masked" ? model.tokenizer.maskId! : model.tokenizer.eosId!;
        const inputs = prompt.inputIds.map((_, j) => prompt.inputIds.map((id, k) => (k === j ? blank : id)));
        const batch = await model.activationsBatch(inputs, prompt.position, [1, 0]);
        for (const [i, ids] of inputs.entries()) {
          const single = await model.activations(ids, prompt.position);
          expect(maxAbsDiff(batch[i][0], single[1])).toBeLessThan(1e-5);
          expect(maxAbsDiff(batch[i][1], single[0])).toBeLessThan(1e-5);
        }
      });

      it("patching a layer with its own activation reproduces the unpatched probability", async () => {
        const ctx = await model.prepare(prompt.inputIds, prompt.position);
        try {
          const target = prompt.gradient.targetId;
          for (let l = 0; l < g.nLayers; l++) {
            const { probs } = await ctx.patchedGradient(l, [ctx.activations[l]], target);
            expect(Math.abs(probs[0] - ctx.probabilities[target])).toBeLessThan(1e-6);
          }
        } finally {
          ctx.dispose();
        }
      });

      if (g?.arch === "causal") {
        it("ignores tokens after the position read", async () => {
          const ids = prompt.inputIds;
          const cut = ids.length - 2;
          expect(maxAbsDiff(await model.probabilities(ids, { position: cut }), await model.probabilities(ids.slice(0, cut + 1)))).toBe(0);
        });
      } else {
        it("refuses a prompt without a mask token", async () => {
          expect(() => model.targetPosition([2, 5, 3])).toThrow(ModelError);
        });
      }

      it("returns value vectors and word embeddings as stored in the checkpoint", async () => {
        const ckpt = openCheckpoint(g.dir);
        const { hidden: d, ffnWidth: f } = g;
        const [layer, unit] = [1, 5];
        const v = (await model.getValueVectors([[layer, unit]]))[0];
        if (g.arch === "masked") {
          const w = ckpt.weights.get(`encoder.layer.${layer}.output.dense.weight`, [d, f]).data; // column `unit`
          expect(Array.from(v)).toEqual(Array.from({ length: d }, (_, i) => w[i * f + unit]));
          const e = ckpt.weights.get("embeddings.word_embeddings.weight", [g.vocabSize, d]).data;
          expect(Array.from(await model.wordEmbedding(7))).toEqual(Array.from(e.subarray(7 * d, 8 * d)));
        } else {
          const w = ckpt.weights.get(`h.${layer}.mlp.c_proj.weight`, [f, d]).data; // row `unit`
          expect(Array.from(v)).toEqual(Array.from(w.subarray(unit * d, (unit + 1) * d)));
          const e = ckpt.weights.get("wte.weight", [g.vocabSize, d]).data;
          expect(Array.from(await model.wordEmbedding(7))).toEqual(Array.from(e.subarray(7 * d, 8 * d)));
        }
      });

      it("applies and reverts value-vector edits bit for bit", async () => {
        const neurons: Neuron[] = [[0, 3], [g.nLayers - 1, 9], [0, 11]];
        const target = prompt.gradient.targetId;
        const rows = prompt.gradient.rows.map((r) => Float32Array.from(r));
        const layer = prompt.gradient.layer;
        const before = await model.probabilities(prompt.inputIds);
        const ctx0 = await model.prepare(prompt.inputIds);
        const gradBefore = await ctx0.patchedGradient(layer, rows, target);
        ctx0.dispose();
        const saved = await model.getValueVectors(neurons);

        // erase (Dai et al. / §5.5): the erased units stop mattering, in the forward and the backward pass
        model.setValueVectors(neurons, neurons.map(() => new Float32Array(g.hidden)));
        expect((await model.getValueVectors(neurons)).every((v) => v.every((x) => x === 0))).toBe(true);
        expect(maxAbsDiff(await model.probabilities(prompt.inputIds), before)).toBeGreaterThan(0);
        const ctx1 = await model.prepare(prompt.inputIds);
        const erased = await ctx1.patchedGradient(layer, rows, target);
        for (const [l, i] of neurons) if (l === layer) erased.grads.forEach((gr) => expect(gr[i]).toBe(0));
        // a context prepared before an edit refuses to run on the new weights
        model.setValueVectors([neurons[0]], [saved[0]]);
        await expect(ctx1.patchedGradient(layer, rows, target)).rejects.toThrow(/weights changed/);
        ctx1.dispose();

        model.setValueVectors(neurons, saved);
        (await model.getValueVectors(neurons)).forEach((v, k) => expect(bits(v)).toEqual(bits(saved[k])));
        expect(bits(await model.probabilities(prompt.inputIds))).toEqual(bits(before));
        const ctx2 = await model.prepare(prompt.inputIds);
        const gradAfter = await ctx2.patchedGradient(layer, rows, target);
        ctx2.dispose();
        expect(bits(gradAfter.probs)).toEqual(bits(gradBefore.probs));
        gradAfter.grads.forEach((gr, b) => expect(bits(gr)).toEqual(bits(gradBefore.grads[b])));
      });

      it("keeps the number of tensors stable across repeated calls", async () => {
        const run = async () => {
          await model.probabilities(prompt.inputIds);
          await model.probabilities(prompt.inputIds, { scale: { neurons: [[0, 1]], factor: 2 } });
          await model.probabilitiesBatch([{ ids: prompt.inputIds }, { ids: prompt.inputIds, scale: { neurons: [[1, 1]], factor: 0 } }]);
          await model.activations(prompt.inputIds);
          await model.activationsBatch([prompt.inputIds, prompt.inputIds], prompt.position);
          await model.probabilitiesForScaleSets(prompt.inputIds, prompt.position, [[[0, 1]], [[1, 2]]], 0, [1]);
          const ctx = await model.prepare(prompt.inputIds);
          await ctx.patchedGradient(1, [ctx.activations[1], ctx.activations[1]], prompt.gradient.targetId);
          await ctx.patchedProbabilities(0, [ctx.activations[0]]);
          await ctx.scaledProbabilities([[[0, 2]]], 2);
          ctx.dispose();
          const v = await model.getValueVectors([[0, 1]]);
          model.setValueVectors([[0, 1]], v);
          await model.wordEmbedding(3);
        };
        await run(); // first call may create lazily cached tensors
        const start = tf.memory().numTensors;
        for (let i = 0; i < 3; i++) await run();
        expect(tf.memory().numTensors).toBe(start);
      });
    });
  }
}, parityBackends().filter((b) => b !== "cpu"));

it("two models, one per architecture, can be loaded side by side", async () => {
  const bert = goldenCase("bert-tied-f32");
  const gpt = goldenCase("gpt2-tied-f32");
  if (!bert || !gpt) throw new Error("golden fixtures missing: run /usr/bin/python3 tools/golden/generate.py --out test/fixtures/golden");
  const a = await loadModel(bert.dir, { backend: "wasm" });
  const b = await loadModel(path.resolve(gpt.dir), { backend: "wasm" });
  expect(maxAbsDiff(await a.probabilities(bert.prompts[0].inputIds), bert.prompts[0].probs)).toBeLessThan(1e-5);
  expect(maxAbsDiff(await b.probabilities(gpt.prompts[0].inputIds), gpt.prompts[0].probs)).toBeLessThan(1e-5);
  a.dispose();
  b.dispose();
});

// Missing fixtures fail the suite instead of letting the describe blocks above skip.
it("the golden fixtures these tests read are present", () => {
  for (const name of ["bert-tied-f32", "gpt2-tied-f32"]) expect(goldenCase(name), `${name}: run /usr/bin/python3 tools/golden/generate.py --out test/fixtures/golden`).toBeDefined();
});
