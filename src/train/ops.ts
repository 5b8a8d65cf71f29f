// Differentiable building blocks for training on the tfjs wasm backend (PLATFORM.md "Tensor math"):
// every matmul's gradient is written with explicitly materialised transposes, because wasm runs
// matMul with transposeA/transposeB 10-40x slower than a plain one; gathers get their gradient by
// a scatter-add in JavaScript (wasm has no UnsortedSegmentSum kernel, which the Gather gradient
// needs).
import tf from "../model/tf.ts";

// tf.customGrad's typing wants one signature for every input; the ops below are typed at their call sites.
type LooseGradFunc = (...args: any[]) => { value: tf.Tensor; gradFunc: (dy: any, saved: any) => tf.Tensor | tf.Tensor[] }; // eslint-disable-line @typescript-eslint/no-explicit-any
function customGrad<F>(f: LooseGradFunc): F {
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as F;
}

const T2 = [1, 0];
const T3 = [0, 2, 1];

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

/** Batched a·b for a [G, M, K], b [G, K, N]. */
export const bmm = customGrad<(a: tf.Tensor3D, b: tf.Tensor3D) => tf.Tensor3D>((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [as, bs] = saved as tf.Tensor3D[];
      return [tf.matMul(dy as tf.Tensor3D, tf.transpose(bs, T3)), tf.matMul(tf.transpose(as, T3), dy as tf.Tensor3D)];
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

export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor {
  const centered = tf.sub(x, tf.mean(x, -1, true));
  const variance = tf.mean(tf.mul(centered, centered), -1, true);
  return tf.add(tf.mul(tf.mul(centered, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
}

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** BERT "gelu": x·Φ(x) with erf; gradient Φ(x) + x·φ(x) written by hand (fewer wasm ops). */
export const geluErf = customGrad<(x: tf.Tensor) => tf.Tensor>((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const cdf = tf.mul(tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1), 0.5);
  save([x, cdf]);
  return {
    value: tf.mul(x, cdf),
    gradFunc: (dy: tf.Tensor, [xs, c]: tf.Tensor[]) => {
      const pdf = tf.mul(tf.exp(tf.mul(tf.mul(xs, xs), -0.5)), INV_SQRT_2PI);
      return [tf.mul(dy, tf.add(c, tf.mul(xs, pdf)))];
    },
  };
});

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/** GPT-2 "gelu_new": 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), gradient by hand. */
export const geluTanh = customGrad<(x: tf.Tensor) => tf.Tensor>((x: tf.Tensor, save: tf.GradSaveFunc) => {
  const x2 = tf.mul(x, x);
  const t = tf.tanh(tf.mul(tf.mul(x, tf.add(tf.mul(x2, GELU_C), 1)), SQRT_2_OVER_PI));
  save([x, x2, t]);
  return {
    value: tf.mul(tf.mul(x, tf.add(t, 1)), 0.5),
    gradFunc: (dy: tf.Tensor, [xs, xx, th]: tf.Tensor[]) => {
      // 0.5(1+t) + 0.5·x·(1−t²)·√(2/π)·(1 + 3c·x²)
      const sech2 = tf.sub(1, tf.mul(th, th));
      const inner = tf.mul(tf.add(tf.mul(xx, 3 * GELU_C), 1), 0.5 * SQRT_2_OVER_PI);
      const g = tf.add(tf.mul(tf.add(th, 1), 0.5), tf.mul(tf.mul(xs, sech2), inner));
      return [tf.mul(dy, g)];
    },
  };
});

/**
 * Multi-head attention core. q, k, v: [B·T, H·dh]; returns [B·T, H·dh]. `mask` is added to the
 * scores and broadcasts to [B, H, T, T] ([B, 1, 1, T] key padding or [1, 1, T, T] causal).
 */
export function attention(q: tf.Tensor2D, k: tf.Tensor2D, v: tf.Tensor2D, batch: number, seq: number, heads: number, mask: tf.Tensor): tf.Tensor2D {
  const d = q.shape[1];
  const dh = d / heads;
  const split = (x: tf.Tensor2D, perm: number[], shape: [number, number, number]) =>
    tf.reshape(tf.transpose(tf.reshape(x, [batch, seq, heads, dh]), perm), shape) as tf.Tensor3D;
  const qh = split(q, [0, 2, 1, 3], [batch * heads, seq, dh]);
  const kt = split(k, [0, 2, 3, 1], [batch * heads, dh, seq]);
  const vh = split(v, [0, 2, 1, 3], [batch * heads, seq, dh]);
  const scores = tf.add(tf.reshape(tf.mul(bmm(qh, kt), 1 / Math.sqrt(dh)), [batch, heads, seq, seq]), mask);
  const probs = tf.reshape(tf.softmax(scores), [batch * heads, seq, seq]) as tf.Tensor3D;
  const ctx = bmm(probs, vh);
  return tf.reshape(tf.transpose(tf.reshape(ctx, [batch, heads, seq, dh]), [0, 2, 1, 3]), [batch * seq, d]) as tf.Tensor2D;
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
