// A toy "language model" with closed-form gradients, for testing attribution logic exactly:
// activation a(ids) = mean of per-token embedding rows (so blanking a token changes it),
// one FFN layer per layer index, probabilities = softmax(W · z + c) read from the LAST layer's z.
import type { AttributionModel, Neuron, PromptContext } from "../../src/attribution/model-port.ts";
import type { PatchedGradient, PatchedGradientRequest } from "../../src/model/language-model.ts";

type Scale = { neurons: readonly Neuron[]; factor: number };

function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class ToyModel implements AttributionModel {
  readonly architecture = "masked" as const;
  readonly nLayers = 1;
  readonly blankId = 0;
  private readonly emb: Float64Array[];
  private readonly W: Float64Array[];
  private readonly c: Float64Array;

  constructor(readonly ffnWidth = 8, readonly vocab = 6, seed = 1) {
    const r = rng(seed);
    const g = () => (r() - 0.5) * 2;
    this.emb = Array.from({ length: vocab }, () => Float64Array.from({ length: ffnWidth }, g));
    this.W = Array.from({ length: vocab }, () => Float64Array.from({ length: ffnWidth }, g));
    this.c = Float64Array.from({ length: vocab }, g);
  }

  activation(ids: readonly number[]): Float32Array {
    const z = new Float32Array(this.ffnWidth);
    for (const id of ids) for (let i = 0; i < z.length; i++) z[i] += this.emb[id][i] / ids.length;
    return z;
  }

  softmax(z: ArrayLike<number>): Float64Array {
    const logits = this.W.map((w, k) => w.reduce((s, wi, i) => s + wi * z[i], this.c[k]));
    const m = Math.max(...logits);
    const e = logits.map((l) => Math.exp(l - m));
    const sum = e.reduce((a, b) => a + b, 0);
    return Float64Array.from(e, (v) => v / sum);
  }

  /** dP_y/dz = P_y (W_y - Σ_k P_k W_k) */
  gradient(z: ArrayLike<number>, y: number): Float32Array {
    const p = this.softmax(z);
    const g = new Float32Array(this.ffnWidth);
    for (let i = 0; i < g.length; i++) {
      let mean = 0;
      for (let k = 0; k < this.vocab; k++) mean += p[k] * this.W[k][i];
      g[i] = p[y] * (this.W[y][i] - mean);
    }
    return g;
  }

  async prepare(ids: readonly number[], position = 0): Promise<PromptContext> {
    return this.context(ids, position);
  }

  private context(ids: readonly number[], position: number): PromptContext {
    const x = this.activation(ids);
    const scaled = (neurons: readonly Neuron[], factor: number) => {
      const z = Float32Array.from(x);
      for (const [, unit] of neurons) z[unit] *= factor;
      return Float32Array.from(this.softmax(z));
    };
    const pick = (p: Float32Array, targetIds?: readonly number[]) => (targetIds ? Float32Array.from(targetIds, (t) => p[t]) : p);
    return {
      ids,
      position,
      probabilities: Float32Array.from(this.softmax(x)),
      activations: [x],
      patchedGradient: async (_layer, rows, targetId) => ({
        probs: Float32Array.from(rows, (r) => this.softmax(r)[targetId]),
        grads: rows.map((r) => this.gradient(r, targetId)),
      }),
      patchedProbabilities: async (_layer, rows, targetIds) => rows.map((r) => pick(Float32Array.from(this.softmax(r)), targetIds)),
      scaledProbabilities: async (sets, factor, targetIds) => sets.map((s) => pick(scaled(s, factor), targetIds)),
      // §13.1 on the toy: residual h = 0, value vector of unit i = e_i, head z -> softmax(W·z + c)
      staticScores: async (targetId) => {
        const logp = (z: Float32Array) => Math.log(this.softmax(z)[targetId]);
        const zero = new Float32Array(this.ffnWidth);
        return [Float32Array.from(x, (xi, i) => logp(Float32Array.from(zero, (_, j) => (j === i ? xi : 0))) - logp(zero))];
      },
      dispose() {},
    };
  }

  /** One request at a time: the toy has no batching to test. */
  async patchedGradients(requests: readonly PatchedGradientRequest[]): Promise<PatchedGradient[]> {
    return Promise.all(requests.map((r) => r.context.patchedGradient(r.layer, r.rows, r.targetId)));
  }

  async activationsBatch(inputs: ReadonlyArray<readonly number[]>): Promise<Float32Array[][]> {
    return inputs.map((ids) => [this.activation(ids)]);
  }

  probabilitiesForScaleSets(ids: readonly number[], position: number, sets: ReadonlyArray<readonly Neuron[]>, factor: number, targetIds?: readonly number[]) {
    return this.context(ids, position).scaledProbabilities(sets, factor, targetIds);
  }

  async probabilities(ids: readonly number[], scale?: Scale): Promise<Float32Array> {
    return (await this.context(ids, 0).scaledProbabilities([scale?.neurons ?? []], scale?.factor ?? 1))[0];
  }
}
