// The vocabulary table in row blocks (what lets a vocabulary larger than one WebGPU binding load)
// gives the same lookups, logits and logit gradients as the one-block table, on every backend.
import { afterAll, describe, expect, it } from "vitest";
import { useBackend } from "../src/model/backend.ts";
import * as tf from "../src/model/tf.ts";
import { VocabTable } from "../src/model/vocab-table.ts";
import { releaseWebgpu } from "../src/model/webgpu.ts";
import { maxAbsDiff } from "./helpers/model-golden.ts";
import { describeBackends } from "./helpers/webgpu.ts";

afterAll(() => releaseWebgpu());

const V = 37;
const d = 8;
const random = (n: number, seed: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 12.9898 + i * 78.233) * 0.5);
const table = { shape: [V, d], data: random(V * d, 1) };

describeBackends((backend) => {
  it("splits the table into blocks that fit the limit and computes what one block computes", async () => {
    await useBackend(backend);
    const one = new VocabTable(table, { pretransposed: backend === "wasm" });
    const split = new VocabTable(table, { maxBlockBytes: 10 * d * 4, pretransposed: backend === "wasm" }); // 10 rows a block
    try {
      expect([one.blockCount, split.blockCount]).toEqual([1, 4]);
      const ids = tf.tensor2d([[0, 9, 10, 36], [35, 20, 19, 11]], [2, 4], "int32");
      const x = tf.tensor2d(random(3 * d, 2), [3, d]);
      const dyHost = random(3 * V, 3);
      const dy = tf.tensor2d(dyHost, [3, V]);
      for (const t of [one, split]) {
        expect(Array.from(await t.row(36).data())).toEqual(Array.from(table.data.subarray(36 * d)));
      }
      expect(maxAbsDiff(await split.lookup(ids).data(), await one.lookup(ids).data())).toBe(0);
      expect(Array.from(await one.lookup(ids).data()).slice(d, 2 * d)).toEqual(Array.from(table.data.subarray(9 * d, 10 * d)));
      const logitsAndGrad = (t: VocabTable) => tf.valueAndGrad((z: tf.Tensor2D) => tf.sum(tf.mul(t.logits(z), dy)))(x);
      const a = logitsAndGrad(one);
      const b = logitsAndGrad(split);
      expect(maxAbsDiff(await split.logits(x).data(), await one.logits(x).data())).toBeLessThan(1e-6);
      expect(maxAbsDiff(await b.grad.data(), await a.grad.data())).toBeLessThan(1e-6);
      // dx = dy·E, computed on the host
      const expected = new Float32Array(3 * d);
      for (let n = 0; n < 3; n++) for (let v = 0; v < V; v++) for (let k = 0; k < d; k++) expected[n * d + k] += dyHost[n * V + v] * table.data[v * d + k];
      expect(maxAbsDiff(await b.grad.data(), expected)).toBeLessThan(1e-5);
    } finally {
      one.dispose();
      split.dispose();
    }
  });
});
