// The hand-written gradients of the demo-model trainer (src/train/ops.ts) against tfjs autodiff
// of the same functions written with plain ops.
import { beforeAll, describe, expect, it } from "vitest";
import { useBackend } from "../src/model/backend.ts";
import tf from "../src/model/tf.ts";
import { geluErf, geluTanh, layerNorm } from "../src/model/nn.ts";
import { bmm, crossEntropy, dense, embed, selectRows } from "../src/train/ops.ts";
import { Rng } from "../src/train/rng.ts";

const rng = new Rng(7);
const sq = (t: tf.Tensor) => tf.mul(t, t);
const rand = (shape: number[], scale = 1) => tf.tensor(rng.truncatedNormal(shape.reduce((a, b) => a * b, 1), scale), shape);

function expectClose(a: tf.Tensor, b: tf.Tensor, tol = 1e-4): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.dataSync();
  const y = b.dataSync();
  let worst = 0;
  let scale = 1e-6;
  for (let i = 0; i < x.length; i++) {
    worst = Math.max(worst, Math.abs(x[i] - y[i]));
    scale = Math.max(scale, Math.abs(y[i]));
  }
  expect(worst / scale).toBeLessThan(tol);
}

beforeAll(async () => {
  await useBackend("wasm");
});

describe("demo-model training ops", () => {
  it("dense and bmm give the gradients of plain matMul", () => {
    const x = rand([6, 5]);
    const w = rand([5, 4]);
    const b = rand([4]);
    const loss = (f: (x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor) => (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(tf.mul(f(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D), tf.reshape(tf.range(0, 24), [6, 4])));
    const ours = tf.grads(loss((a, c, d) => dense(a, c, d)))([x, w, b]);
    const ref = tf.grads(loss((a, c, d) => tf.add(tf.matMul(a, c), d)))([x, w, b]);
    ours.forEach((g, i) => expectClose(g, ref[i]));
    const noBias = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(sq(dense(xx as tf.Tensor2D, ww as tf.Tensor2D, null))))([x, w]);
    const noBiasRef = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(sq(tf.matMul(xx as tf.Tensor2D, ww as tf.Tensor2D))))([x, w]);
    noBias.forEach((g, i) => expectClose(g, noBiasRef[i]));

    const a = rand([3, 4, 5]);
    const c = rand([3, 5, 2]);
    const g1 = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(sq(bmm(p as tf.Tensor3D, q as tf.Tensor3D))))([a, c]);
    const g2 = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(sq(tf.matMul(p as tf.Tensor3D, q as tf.Tensor3D))))([a, c]);
    g1.forEach((g, i) => expectClose(g, g2[i]));
  });

  it("embed and selectRows scatter their gradients back", () => {
    const table = rand([7, 3]);
    const ids = new Int32Array([2, 5, 2, 0]);
    const target = rand([4, 3]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(embed(t as tf.Tensor2D, ids), target)))(table);
    const expected = new Float32Array(21);
    const tg = target.dataSync();
    ids.forEach((id, r) => {
      for (let k = 0; k < 3; k++) expected[id * 3 + k] += tg[r * 3 + k];
    });
    expectClose(g, tf.tensor2d(expected, [7, 3]));
    const x = rand([5, 3]);
    const rows = new Int32Array([4, 1, 4]);
    const gs = tf.grad((t: tf.Tensor) => tf.sum(sq(selectRows(t as tf.Tensor2D, rows))))(x);
    const xd = x.dataSync();
    const exp2 = new Float32Array(15);
    rows.forEach((r) => {
      for (let k = 0; k < 3; k++) exp2[r * 3 + k] += 2 * xd[r * 3 + k];
    });
    expectClose(gs, tf.tensor2d(exp2, [5, 3]));
  });

  it("GELU variants match their plain-op definitions and gradients", () => {
    const x = tf.linspace(-5, 5, 101);
    const erfRef = (t: tf.Tensor) => tf.mul(tf.mul(t, tf.add(tf.erf(tf.mul(t, Math.SQRT1_2)), 1)), 0.5);
    const c = Math.sqrt(2 / Math.PI);
    const tanhRef = (t: tf.Tensor) => tf.mul(tf.mul(t, tf.add(tf.tanh(tf.mul(tf.add(t, tf.mul(tf.mul(tf.mul(t, t), t), 0.044715)), c)), 1)), 0.5);
    expectClose(geluErf(x), erfRef(x), 1e-6);
    expectClose(geluTanh(x), tanhRef(x), 1e-6);
    expectClose(tf.grad((t: tf.Tensor) => tf.sum(geluErf(t)))(x), tf.grad((t: tf.Tensor) => tf.sum(erfRef(t)))(x), 1e-5);
    expectClose(tf.grad((t: tf.Tensor) => tf.sum(geluTanh(t)))(x), tf.grad((t: tf.Tensor) => tf.sum(tanhRef(t)))(x), 1e-5);
  });

  it("cross-entropy: weighted mean NLL, its gradient, and argmax statistics", () => {
    const logits = rand([4, 6], 2);
    const targets = new Int32Array([1, 0, 5, 3]);
    const weights = new Float32Array([1, 0.5, 0, 2]);
    const stats = { correct: 0, rows: 0 };
    const value = crossEntropy(logits as tf.Tensor2D, targets, weights, stats).dataSync()[0];
    const ref = (l: tf.Tensor) => {
      const nll = tf.neg(tf.sum(tf.mul(tf.logSoftmax(l), tf.oneHot(tf.tensor1d(targets, "int32"), 6)), 1));
      return tf.div(tf.sum(tf.mul(nll, tf.tensor1d(weights))), 3.5);
    };
    expect(value).toBeCloseTo(ref(logits).dataSync()[0], 5);
    expect(stats.rows).toBe(4);
    const argmax = tf.argMax(logits, 1).dataSync();
    expect(stats.correct).toBe(Array.from(targets).filter((t, i) => argmax[i] === t).length);
    expectClose(tf.grad((l: tf.Tensor) => crossEntropy(l as tf.Tensor2D, targets, weights))(logits), tf.grad(ref)(logits), 1e-5);
  });

  it("layerNorm normalises the last axis", () => {
    const x = rand([3, 8], 3);
    const y = layerNorm(x, tf.ones([8]) as tf.Tensor1D, tf.zeros([8]) as tf.Tensor1D, 1e-12);
    const { mean, variance } = tf.moments(y, -1);
    mean.dataSync().forEach((m) => expect(Math.abs(m)).toBeLessThan(1e-5));
    variance.dataSync().forEach((v) => expect(v).toBeCloseTo(1, 4));
  });
});
