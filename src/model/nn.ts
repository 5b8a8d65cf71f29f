// The small building blocks shared by BERT and GPT-2. Only ops that have a wasm kernel and a
// gradient (see gradients.ts) are used: no BroadcastTo, no StridedSlice, no Gather on the
// differentiated path.
import * as tf from "./tf.ts";
import type { Activation } from "./config.ts";
import type { HostTensor } from "./safetensors.ts";
import type { VocabTable } from "./vocab-table.ts";
import { placeOnDevice } from "./webgpu.ts";

// weights go to the GPU as they are read (placeOnDevice): one host copy at a time
export function toTensor1d(t: HostTensor): tf.Tensor1D {
  return placeOnDevice(tf.tensor1d(t.data));
}

export function toTensor2d(t: HostTensor): tf.Tensor2D {
  return placeOnDevice(tf.tensor2d(t.data, [t.shape[0], t.shape[1]]));
}

/** (x − mean)/√(var + eps)·γ + β over the last axis: inference (LayerNorm below) and training share it. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, eps: number): tf.Tensor {
  const centred = tf.sub(x, tf.mean(x, -1, true));
  const variance = tf.mean(tf.mul(centred, centred), -1, true);
  return tf.add(tf.mul(tf.mul(centred, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
}

export class LayerNorm {
  constructor(
    private readonly gamma: tf.Tensor1D,
    private readonly beta: tf.Tensor1D,
    private readonly eps: number,
  ) {}

  apply(x: tf.Tensor): tf.Tensor {
    return layerNorm(x, this.gamma, this.beta, this.eps);
  }

  /** 1/σ this norm divides by for x [R, d] -> [R, 1]. */
  inverseScale(x: tf.Tensor): tf.Tensor {
    const centred = tf.sub(x, tf.mean(x, -1, true));
    return tf.rsqrt(tf.add(tf.mean(tf.mul(centred, centred), -1, true), this.eps));
  }

  /** The norm with its division fixed (ALGORITHMS.md §13.1): γ ⊙ (x − mean(x))·inverseScale + β, linear in x. */
  applyFixed(x: tf.Tensor, inverseScale: tf.Tensor): tf.Tensor {
    return tf.add(tf.mul(tf.mul(tf.sub(x, tf.mean(x, -1, true)), inverseScale), this.gamma), this.beta);
  }

  dispose(): void {
    tf.dispose([this.gamma, this.beta]);
  }
}

// The GELUs carry hand-written gradients (fewer wasm ops than autodiff through erf/tanh); the
// demo-model trainer uses these same functions, so its weights depend on exactly this math.
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_C = 0.044715;

/** BERT "gelu": x·Φ(x) with erf; gradient Φ(x) + x·φ(x). */
export const geluErf = tf.customGrad((...args) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const cdf = tf.mul(tf.add(tf.erf(tf.mul(x, Math.SQRT1_2)), 1), 0.5);
  save([x, cdf]);
  return {
    value: tf.mul(x, cdf),
    gradFunc: (dy: tf.Tensor, [xs, c]: tf.Tensor[]) => {
      const pdf = tf.mul(tf.exp(tf.mul(tf.mul(xs, xs), -0.5)), INV_SQRT_2PI);
      return [tf.mul(dy, tf.add(c, tf.mul(xs, pdf)))];
    },
  };
}) as (x: tf.Tensor) => tf.Tensor;

/** GPT-2 "gelu_new": 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
export const geluTanh = tf.customGrad((...args) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
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
}) as (x: tf.Tensor) => tf.Tensor;

export function activate(x: tf.Tensor, fn: Activation): tf.Tensor {
  switch (fn) {
    case "gelu":
      return geluErf(x);
    case "gelu_tanh":
      return geluTanh(x);
    case "relu":
      return tf.relu(x);
  }
}

/** Word embeddings of a [B, T] batch of ids plus the first T position embeddings. */
export function tokenAndPositionEmbeddings(word: VocabTable, positions: tf.Tensor2D, ids: ReadonlyArray<readonly number[]>): tf.Tensor3D {
  const t = ids[0].length;
  const tokens = word.lookup(tf.tensor2d(ids.map((r) => [...r]), [ids.length, t], "int32"));
  return tf.add(tokens, tf.slice(positions, [0, 0], [t, word.hidden])) as tf.Tensor3D;
}

/** [B, T, H·dh] -> [B, H, T, dh] */
export function splitHeads(x: tf.Tensor, nHeads: number): tf.Tensor4D {
  const [b, t, d] = x.shape;
  return tf.transpose(tf.reshape(x, [b, t, nHeads, d / nHeads]), [0, 2, 1, 3]);
}

/** [B, T, H·dh] -> [B, H, dh, T]: keys laid out so q·kᵀ is a plain matmul. */
export function splitHeadsTransposed(x: tf.Tensor, nHeads: number): tf.Tensor4D {
  const [b, t, d] = x.shape;
  return tf.transpose(tf.reshape(x, [b, t, nHeads, d / nHeads]), [0, 2, 3, 1]);
}

/** [B, H, T, dh] -> [B, T, H·dh] */
export function mergeHeads(x: tf.Tensor): tf.Tensor3D {
  const [b, h, t, dh] = x.shape;
  return tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [b, t, h * dh]);
}

/** A batched matmul over the leading axes; training passes one with explicit-transpose gradients. */
export type BatchMatMul = (a: tf.Tensor, b: tf.Tensor) => tf.Tensor;

/**
 * softmax(q·kᵀ·scale + mask)·v for q [B,H,T,dh], kT [B,H,dh,S], v [B,H,S,dh]; mask broadcasts to
 * [B,H,T,S] ([T,S] causal, [B,1,1,S] key padding).
 */
export function attend(
  q: tf.Tensor4D, kT: tf.Tensor4D, v: tf.Tensor4D, scale: number, mask?: tf.Tensor, matMul: BatchMatMul = tf.matMul,
): tf.Tensor4D {
  let scores = tf.mul(matMul(q, kT), scale);
  if (mask) scores = tf.add(scores, mask);
  return matMul(tf.softmax(scores), v) as tf.Tensor4D;
}

/** Additive causal mask [T, T]: 0 on and below the diagonal, -1e9 above (exp underflows to 0). */
export function causalMask(t: number): tf.Tensor2D {
  const m = new Float32Array(t * t);
  for (let i = 0; i < t; i++) for (let j = i + 1; j < t; j++) m[i * t + j] = -1e9;
  return tf.tensor2d(m, [t, t]);
}

/** Row `position` of every sequence: [B, T, D] -> [B, D]. */
export function atPosition(x: tf.Tensor, position: number): tf.Tensor2D {
  const [b, , d] = x.shape;
  return tf.reshape(tf.slice(x, [0, position, 0], [b, 1, d]), [b, d]);
}

/** Multiplies row `position` of x [B, T, D] by m [B, D] (or [1, D]); other rows pass unchanged. */
export function scaleAtPosition(x: tf.Tensor, position: number, m: tf.Tensor2D): tf.Tensor3D {
  return replaceAtPosition(x, position, tf.mul(atPosition(x, position), m));
}

/** x [B or 1, T, D] with row `position` replaced by rows [B, D] -> [B, T, D] (slices + concat: no scatter). */
export function replaceAtPosition(x: tf.Tensor, position: number, rows: tf.Tensor2D): tf.Tensor3D {
  const [xb, t, d] = x.shape;
  const b = rows.shape[0];
  // implicit broadcasting stands in for BroadcastTo (no wasm kernel); adding 0 is exact
  const widen = (part: tf.Tensor) => (xb === b ? part : tf.add(part, tf.zeros([b, 1, 1])));
  const parts: tf.Tensor[] = [];
  if (position > 0) parts.push(widen(tf.slice(x, [0, 0, 0], [xb, position, d])));
  parts.push(tf.reshape(rows, [b, 1, d]));
  if (position < t - 1) parts.push(widen(tf.slice(x, [0, position + 1, 0], [xb, t - position - 1, d])));
  return (parts.length === 1 ? parts[0] : tf.concat(parts, 1)) as tf.Tensor3D;
}

/**
 * softmax(logits)[:, target] for [B, V] logits, with a gradient that stays accurate when the
 * model is confident. Autodiff of softmax forms dP_t/dz_t as p_t − p_t², which cancels in float32
 * once p_t nears 1 (PyTorch parity then fails on confident facts); here 1 − p_t is the sum of the
 * other probabilities, which has no cancellation.
 */
export function targetProbability(logits: tf.Tensor2D, targetId: number): tf.Tensor1D {
  const onehot = tf.cast(tf.oneHot(tf.tensor1d([targetId], "int32"), logits.shape[1]), "float32");
  const f = tf.customGrad((...args) => {
    const [logits, save] = args as [tf.Tensor, tf.GradSaveFunc];
    const p = tf.softmax(logits);
    const pt = tf.sum(tf.mul(p, onehot), 1, true);
    save([p, pt, onehot]);
    return {
      value: tf.reshape(pt, [-1]),
      gradFunc: (dy: tf.Tensor, [p, pt, onehot]: tf.Tensor[]) => {
        const rest = tf.sum(tf.mul(p, tf.sub(1, onehot)), 1, true);
        // p_t · (e_t − p), with its t-th entry p_t · Σ_{j≠t} p_j
        const g = tf.mul(pt, tf.sub(tf.mul(onehot, rest), tf.mul(tf.sub(1, onehot), p)));
        return tf.mul(g, tf.reshape(dy, [-1, 1]));
      },
    };
  });
  return f(logits) as tf.Tensor1D;
}
