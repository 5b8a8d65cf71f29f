// Differentiable building blocks for training on the tfjs wasm backend (PLATFORM.md "Tensor math"):
// every matmul's gradient is written with explicitly materialised transposes, because wasm runs
// matMul with transposeA/transposeB 10-40x slower than a plain one; gathers get their gradient by
// a scatter-add in JavaScript (wasm has no UnsortedSegmentSum kernel, which the Gather gradient
// needs).
import { attend, mergeHeads, splitHeads, splitHeadsTransposed } from "../model/nn.ts";
import tf from "../model/tf.ts";

// tf.customGrad's typing wants one signature for every input; the ops below are typed at their call sites.
type LooseGradFunc = (...args: any[]) => { value: tf.Tensor; gradFunc: (dy: any, saved: any) => tf.Tensor | tf.Tensor[] }; // eslint-disable-line @typescript-eslint/no-explicit-any
function customGrad<F>(f: LooseGradFunc): F {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as F;
}

const T2 = [1, 0];
const T3 = [0, 2, 1];
const T4 = [0, 1, 3, 2];

/** y = x·W + b for x [N, in], W [in, out], b [out]. */
export function dense(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D | null): tf.Tensor2D {
  if (b) return denseBias(x, w, b) as tf.Tensor2D;
  return denseNoBias(x, w) as tf.Tensor2D;
}

const denseBias = customGrad<(x: tf.Tensor2D, w: tf.Tensor2D, b: tf.Tensor1D) => tf.Tensor2D>((x: tf.Tensor, w: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  const value = tf.fused.matMul({ a: x as tf.Tensor2D, b: w as tf.Tensor2D, bias: b });
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as tf.Tensor2D[];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws, T2)), tf.matMul(tf.transpose(xs, T2), dy as tf.Tensor2D), tf.sum(dy, 0)];
    },
  };
});

const denseNoBias = customGrad<(x: tf.Tensor2D, w: tf.Tensor2D) => tf.Tensor2D>((x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x, w]);
  const value = tf.matMul(x as tf.Tensor2D, w as tf.Tensor2D);
  return {
    value,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as tf.Tensor2D[];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(ws, T2)), tf.matMul(tf.transpose(xs, T2), dy as tf.Tensor2D)];
    },
  };
});

/** Batched a·b over the leading axes (a [..., M, K], b [..., K, N]), gradients with explicit transposes. */
export const bmm = customGrad<(a: tf.Tensor, b: tf.Tensor) => tf.Tensor>((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [as, bs] = saved;
      const t = (x: tf.Tensor) => tf.transpose(x, x.rank === 3 ? T3 : T4);
      return [tf.matMul(dy as tf.Tensor3D, t(bs) as tf.Tensor3D), tf.matMul(t(as) as tf.Tensor3D, dy as tf.Tensor3D)];
    },
  };
});

/** Rows `ids` of table [V, D] -> [ids.length, D]; the gradient is scattered back in JS. */
export function embed(table: tf.Tensor2D, ids: Int32Array): tf.Tensor2D {
  const [v, d] = table.shape;
  const f = customGrad<(t: tf.Tensor) => tf.Tensor>((t: tf.Tensor) => ({
    value: tf.gather(t, tf.tensor1d(ids, "int32")),
    gradFunc: (dy: tf.Tensor) => {
      const g = dy.dataSync() as Float32Array;
      const out = new Float32Array(v * d);
      for (let r = 0; r < ids.length; r++) {
        const base = ids[r] * d;
        const src = r * d;
        for (let k = 0; k < d; k++) out[base + k] += g[src + k];
      }
      return tf.tensor2d(out, [v, d]);
    },
  }));
  return f(table) as tf.Tensor2D;
}

/** Rows `rows` of x [N, D] -> [rows.length, D], with a JS scatter-add gradient. */
export function selectRows(x: tf.Tensor2D, rows: Int32Array): tf.Tensor2D {
  const [n, d] = x.shape;
  const f = customGrad<(t: tf.Tensor) => tf.Tensor>((t: tf.Tensor) => ({
    value: tf.gather(t, tf.tensor1d(rows, "int32")),
    gradFunc: (dy: tf.Tensor) => {
      const g = dy.dataSync() as Float32Array;
      const out = new Float32Array(n * d);
      for (let r = 0; r < rows.length; r++) {
        const base = rows[r] * d;
        const src = r * d;
        for (let k = 0; k < d; k++) out[base + k] += g[src + k];
      }
      return tf.tensor2d(out, [n, d]);
    },
  }));
  return f(x) as tf.Tensor2D;
}

/**
 * Multi-head attention over [B·T, H·dh] rows (the layout the trainer keeps): the inference
 * `attend` with `bmm` as its matmul. `mask` broadcasts to [B, H, T, T] ([B, 1, 1, T] key padding
 * or [1, 1, T, T] causal).
 */
export function attention(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, batch: number, seq: number, heads: number, mask: tf.Tensor): tf.Tensor2D {
  const d = q.shape[1];
  const rows = (x: tf.Tensor2D) => tf.reshape(x, [batch, seq, d]);
  const ctx = attend(splitHeads(rows(q), heads), splitHeadsTransposed(rows(k), heads), splitHeads(rows(v), heads), 1 / Math.sqrt(d / heads), mask, bmm);
  return tf.reshape(mergeHeads(ctx), [batch * seq, d]) as tf.Tensor2D;
}

export interface LossStats {
  /** Rows whose argmax equals the target. */
  correct: number;
  rows: number;
  /** Optional per-row detail of the last call: argmax correct, gold probability. */
  rowCorrect?: Uint8Array;
  rowGoldProb?: Float32Array;
}

/**
 * Weighted mean cross-entropy of logits [M, V] against targets. The softmax runs once on wasm;
 * the loss, the argmax statistics and the gradient (p − onehot)·w/Σw are computed in JS from it.
 */
export function crossEntropy(logits: tf.Tensor2D, targets: Int32Array, weights: Float32Array, stats?: LossStats): tf.Scalar {
  const [m, v] = logits.shape;
  let total = 0;
  for (let i = 0; i < m; i++) total += weights[i];
  total = Math.max(total, 1e-9);
  const f = customGrad<(l: tf.Tensor) => tf.Tensor>((l: tf.Tensor) => {
    const p = tf.softmax(l).dataSync() as Float32Array;
    let loss = 0;
    let correct = 0;
    const rowCorrect = new Uint8Array(m);
    const rowGoldProb = new Float32Array(m);
    for (let i = 0; i < m; i++) {
      const row = i * v;
      const pt = p[row + targets[i]];
      loss -= weights[i] * Math.log(Math.max(pt, 1e-30));
      let best = 0;
      for (let j = 1; j < v; j++) if (p[row + j] > p[row + best]) best = j;
      rowGoldProb[i] = pt;
      if (best === targets[i]) {
        correct++;
        rowCorrect[i] = 1;
      }
    }
    if (stats) {
      stats.correct += correct;
      stats.rows += m;
      stats.rowCorrect = rowCorrect;
      stats.rowGoldProb = rowGoldProb;
    }
    return {
      value: tf.scalar(loss / total),
      gradFunc: (dy: tf.Tensor) => {
        const scale = (dy.dataSync() as Float32Array)[0] / total;
        const g = new Float32Array(p);
        for (let i = 0; i < m; i++) {
          const row = i * v;
          g[row + targets[i]] -= 1;
          const w = weights[i] * scale;
          for (let j = 0; j < v; j++) g[row + j] *= w;
        }
        return tf.tensor2d(g, [m, v]);
      },
    };
  });
  return f(logits) as tf.Scalar;
}
