// Gradients for the kernels the model runs under tf.grad. The Node bundle of
// @tensorflow/tfjs-core registers no gradients at all (they live in its ESM-only source tree,
// which Node cannot import), so the few this runtime needs are defined here, from the public API.
// Where tfjs has its own registration (e.g. the full @tensorflow/tfjs package), that one is kept.
import * as tf from "@tensorflow/tfjs-core";

type Grads = Record<string, () => tf.Tensor> | Array<() => tf.Tensor>;
type GradFn = (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: Record<string, unknown>) => Grads;

/** Sums dx over the axes along which `shape` was broadcast, then reshapes to `shape`. */
function unbroadcast(dx: tf.Tensor, shape: number[]): tf.Tensor {
  const axes = tf.backend_util.getReductionAxes(shape, dx.shape);
  return tf.reshape(axes.length > 0 ? tf.sum(dx, axes) : dx, shape);
}

/** [..., m, n] -> [..., n, m] */
function swapLast2(x: tf.Tensor): tf.Tensor {
  const perm = x.shape.map((_, i) => i);
  const r = perm.length;
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return tf.transpose(x, perm);
}

/**
 * Broadcasts dy (reduced over `axes`) back to `shape`. broadcastTo runs the Tile kernel on the
 * device; multiplying by tf.ones(shape) built the ones on the host and uploaded them, per call
 * (on an H100 that upload and its buffer churn were 17 % of an attribution's time).
 */
function spread(dy: tf.Tensor, shape: number[], axis: unknown): tf.Tensor {
  const axes = tf.util.parseAxisParam(axis as number | number[], shape);
  const kept = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return tf.broadcastTo(tf.reshape(dy, kept), shape);
}

const single = (dy: tf.Tensor | tf.Tensor[]) => dy as tf.Tensor;

const GRADIENTS: Array<{ kernel: string; inputsToSave?: string[]; outputsToSave?: boolean[]; saveAllInputs?: boolean; grad: GradFn }> = [
  {
    kernel: "Add",
    inputsToSave: ["a", "b"],
    grad: (dy, [a, b]) => ({ a: () => unbroadcast(single(dy), a.shape), b: () => unbroadcast(single(dy), b.shape) }),
  },
  {
    kernel: "Sub",
    inputsToSave: ["a", "b"],
    grad: (dy, [a, b]) => ({ a: () => unbroadcast(single(dy), a.shape), b: () => unbroadcast(tf.neg(single(dy)), b.shape) }),
  },
  {
    kernel: "Multiply",
    inputsToSave: ["a", "b"],
    grad: (dy, [a, b]) => ({
      a: () => unbroadcast(tf.mul(single(dy), b), a.shape),
      b: () => unbroadcast(tf.mul(single(dy), a), b.shape),
    }),
  },
  {
    kernel: "RealDiv",
    inputsToSave: ["a", "b"],
    grad: (dy, [a, b]) => ({
      a: () => unbroadcast(tf.div(single(dy), b), a.shape),
      b: () => unbroadcast(tf.neg(tf.div(tf.mul(single(dy), a), tf.mul(b, b))), b.shape),
    }),
  },
  { kernel: "Neg", grad: (dy) => ({ x: () => tf.neg(single(dy)) }) },
  { kernel: "Identity", grad: (dy) => ({ x: () => single(dy) }) },
  { kernel: "Cast", grad: (dy) => ({ x: () => single(dy) }) },
  { kernel: "Reshape", inputsToSave: ["x"], grad: (dy, [x]) => ({ x: () => tf.reshape(single(dy), x.shape) }) },
  {
    kernel: "Transpose",
    grad: (dy, _s, attrs) => {
      const perm = attrs.perm as number[];
      const inverse = perm.map((_, i) => perm.indexOf(i));
      return { x: () => tf.transpose(single(dy), inverse) };
    },
  },
  {
    // explicit transposes instead of matMul's transpose flags, which wasm runs 10-40x slower
    kernel: "BatchMatMul",
    inputsToSave: ["a", "b"],
    grad: (dy, [a, b], attrs) => {
      const g = single(dy);
      const ta = attrs.transposeA === true;
      const tb = attrs.transposeB === true;
      const A = ta ? swapLast2(a) : a; // the operands as multiplied: y = A·B
      const B = tb ? swapLast2(b) : b;
      const dA = () => tf.matMul(g, swapLast2(B));
      const dB = () => tf.matMul(swapLast2(A), g);
      return {
        a: () => unbroadcast(ta ? swapLast2(dA()) : dA(), a.shape),
        b: () => unbroadcast(tb ? swapLast2(dB()) : dB(), b.shape),
      };
    },
  },
  {
    kernel: "Softmax",
    outputsToSave: [true],
    grad: (dy, [y], attrs) => {
      const dyY = tf.mul(single(dy), y);
      return { logits: () => tf.sub(dyY, tf.mul(tf.sum(dyY, [attrs.dim as number], true), y)) };
    },
  },
  {
    kernel: "Erf",
    inputsToSave: ["x"],
    grad: (dy, [x]) => ({ x: () => tf.mul(single(dy), tf.mul(tf.exp(tf.neg(tf.mul(x, x))), 2 / Math.sqrt(Math.PI))) }),
  },
  {
    kernel: "Tanh",
    outputsToSave: [true],
    grad: (dy, [y]) => ({ x: () => tf.mul(single(dy), tf.sub(1, tf.mul(y, y))) }),
  },
  {
    kernel: "Rsqrt",
    outputsToSave: [true],
    grad: (dy, [y]) => ({ x: () => tf.mul(single(dy), tf.mul(tf.mul(y, tf.mul(y, y)), -0.5)) }), // d x^-1/2 = -1/2 y³
  },
  {
    kernel: "Relu",
    inputsToSave: ["x"],
    grad: (dy, [x]) => ({ x: () => tf.mul(single(dy), tf.cast(tf.greater(x, 0), "float32")) }),
  },
  {
    kernel: "Sum",
    inputsToSave: ["x"],
    grad: (dy, [x], attrs) => ({ x: () => spread(single(dy), x.shape, attrs.axis) }),
  },
  {
    kernel: "Mean",
    inputsToSave: ["x"],
    grad: (dy, [x], attrs) => {
      const axes = tf.util.parseAxisParam(attrs.axis as number | number[], x.shape);
      const n = axes.reduce((p, a) => p * x.shape[a], 1);
      return { x: () => tf.div(spread(single(dy), x.shape, axes), n) };
    },
  },
  {
    kernel: "Slice",
    inputsToSave: ["x"],
    grad: (dy, [x], attrs) => {
      const [begin, size] = tf.slice_util.parseSliceParams(x, attrs.begin as number[], attrs.size as number[]);
      const paddings = x.shape.map((d, i) => [begin[i], d - begin[i] - size[i]] as [number, number]);
      return { x: () => tf.pad(single(dy), paddings) };
    },
  },
  {
    kernel: "Concat",
    saveAllInputs: true,
    grad: (dy, saved, attrs) => {
      const axis = tf.util.parseAxisParam(attrs.axis as number, saved[0].shape)[0];
      const parts = tf.split(single(dy), saved.map((t) => t.shape[axis]), axis);
      return parts.map((p) => () => p);
    },
  },
  {
    kernel: "SplitV",
    grad: (dy, _s, attrs) => ({ x: () => tf.concat(dy as tf.Tensor[], attrs.axis as number) }),
  },
];

let registered = false;

export function registerModelGradients(): void {
  if (registered) return;
  registered = true;
  for (const g of GRADIENTS) {
    if (tf.getGradient(g.kernel)) continue;
    tf.registerGradient({
      kernelName: g.kernel,
      inputsToSave: g.inputsToSave,
      outputsToSave: g.outputsToSave,
      saveAllInputs: g.saveAllInputs,
      gradFunc: g.grad as unknown as tf.GradConfig["gradFunc"],
    });
  }
}
