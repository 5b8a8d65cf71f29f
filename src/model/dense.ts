// A fully connected layer y = x·W + b whose gradient (with respect to x only: the knowledge-neuron
// code never trains) is written by hand. tf.grad through matMul would compute dy·Wᵀ with the
// transposeB flag: the wasm backend sends only plain 2-D matmuls to XNNPACK and runs anything with
// a transpose flag through a naive loop, 10-40x slower. A pre-transposed copy of W makes the
// backward pass a plain matmul too (PLATFORM.md). Memory cost on wasm: XNNPACK keeps a packed copy
// of every right-hand matrix it has seen, so W, Wᵀ and their two packed copies all stay resident.
import * as tf from "./tf.ts";
import { prefersPretransposedWeights } from "./backend.ts";

/**
 * How the backward pass gets Wᵀ. `pretransposed`: a stored copy (fast on wasm, 2x memory);
 * `transposeB`: matMul's flag (fine where transposes are free); `autodiff`: plain tf.grad through
 * matMul, kept so the benchmark can show what the custom gradient saves.
 */
export type DenseGradMode = "pretransposed" | "transposeB" | "autodiff";

export function defaultGradMode(): DenseGradMode {
  return prefersPretransposedWeights() ? "pretransposed" : "transposeB";
}

export class Dense {
  private w: tf.Tensor2D; // [in, out]
  private wT: tf.Tensor2D | null; // [out, in], only in pretransposed mode
  private readonly b: tf.Tensor1D | null;
  private readonly withCustomGrad: (x: tf.Tensor) => tf.Tensor;

  /** Takes ownership of `w` ([in, out]), `b` ([out]) and `wT` ([out, in], computed if needed and absent). */
  constructor(
    w: tf.Tensor2D,
    b: tf.Tensor1D | null,
    readonly gradMode: DenseGradMode = defaultGradMode(),
    wT?: tf.Tensor2D,
  ) {
    this.w = w;
    this.b = b;
    if (gradMode === "pretransposed") this.wT = wT ?? tf.keep(tf.transpose(w));
    else {
      wT?.dispose();
      this.wT = null;
    }
    this.withCustomGrad = tf.customGrad((...inputs) => {
      const x = inputs[0] as tf.Tensor;
      return {
        value: this.matMul(x),
        // read the weights at call time: setRows may have replaced them
        gradFunc: (dy: tf.Tensor) => {
          const dy2 = tf.reshape(dy, [-1, this.outFeatures]) as tf.Tensor2D;
          const dx = this.wT ? tf.matMul(dy2, this.wT) : tf.matMul(dy2, this.w, false, true);
          return tf.reshape(dx, x.shape);
        },
      };
    });
  }

  /** From a PyTorch nn.Linear weight ([out, in]); keeps it as the transposed copy when one is wanted. */
  static fromLinear(weight: tf.Tensor2D, bias: tf.Tensor1D | null, gradMode?: DenseGradMode): Dense {
    return new Dense(tf.keep(tf.transpose(weight)), bias, gradMode, weight);
  }

  /** From a GPT-2 Conv1D weight, already [in, out]. */
  static fromConv1D(weight: tf.Tensor2D, bias: tf.Tensor1D | null, gradMode?: DenseGradMode): Dense {
    return new Dense(weight, bias, gradMode);
  }

  get inFeatures(): number {
    return this.w.shape[0];
  }

  get outFeatures(): number {
    return this.w.shape[1];
  }

  /** x: [..., in] -> [..., out] */
  apply(x: tf.Tensor): tf.Tensor {
    return this.gradMode === "autodiff" ? this.matMul(x) : this.withCustomGrad(x);
  }

  private matMul(x: tf.Tensor): tf.Tensor {
    const x2 = tf.reshape(x, [-1, this.inFeatures]) as tf.Tensor2D;
    const y =
      this.gradMode === "autodiff" // tf.fused.matMul's own gradient is not registered: keep plain ops
        ? this.b
          ? tf.add(tf.matMul(x2, this.w), this.b)
          : tf.matMul(x2, this.w)
        : tf.fused.matMul({ a: x2, b: this.w, bias: this.b ?? undefined });
    return tf.reshape(y, [...x.shape.slice(0, -1), this.outFeatures]);
  }

  /** Rows of W ([in, out]) as a new [rows, out] tensor: row i is what input unit i adds to the output (a value vector). */
  rows(rows: readonly number[]): tf.Tensor2D {
    return tf.gather(this.w, tf.tensor1d([...rows], "int32"));
  }

  /**
   * Replaces rows of W (and of the transposed copy) with the given float32 values, bit for bit,
   * on the device: the new W is the untouched row ranges and the new rows concatenated, so
   * nothing is read back. A row given twice takes its last value.
   */
  setRows(rows: readonly number[], values: readonly Float32Array[]): void {
    const [inF, outF] = this.w.shape;
    const byRow = new Map<number, Float32Array>();
    rows.forEach((i, k) => byRow.set(i, values[k]));
    const w = tf.keep(
      tf.tidy(() => {
        const parts: tf.Tensor2D[] = [];
        let next = 0;
        for (const i of [...byRow.keys()].sort((x, y) => x - y)) {
          if (i > next) parts.push(tf.slice(this.w, [next, 0], [i - next, outF]));
          parts.push(tf.tensor2d(byRow.get(i)!, [1, outF]));
          next = i + 1;
        }
        if (next < inF) parts.push(tf.slice(this.w, [next, 0], [inF - next, outF]));
        return parts.length === 1 ? tf.clone(parts[0]) : tf.concat(parts, 0);
      }),
    );
    this.w.dispose();
    this.w = w;
    if (this.wT) {
      this.wT.dispose();
      this.wT = tf.keep(tf.transpose(w));
    }
  }

  dispose(): void {
    tf.dispose([this.w, ...(this.wT ? [this.wT] : []), ...(this.b ? [this.b] : [])]);
  }
}
