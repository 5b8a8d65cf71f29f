// LanguageModel on top of an architecture's Network: input checks, batching into chunks that fit
// in memory, tensor lifetimes (tf.tidy) and conversion to plain Float32Arrays.
import * as tf from "./tf.ts";
import type { BackendName } from "./backend.ts";
import type { ModelConfig } from "./config.ts";
import { ModelError } from "./errors.ts";
import type {
  Architecture, LanguageModel, Neuron, NeuronScale, PatchedGradient, ProbabilityOptions, ProbabilityRequest, PromptContext,
} from "./language-model.ts";
import type { LayerScales, Network, PromptCache } from "./network.ts";
import { tidyHost } from "./nn.ts";
import type { TextTokenizer } from "./tokenizer.ts";

/** Tokens per batched forward without gradients (bounds activation memory, ~25 MB per tensor at BERT-base). */
const FORWARD_TOKENS = 2048;
/** Tokens per batched forward+backward (the tape keeps every intermediate). */
const GRADIENT_TOKENS = 1024;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function badInput(message: string): ModelError {
  return new ModelError("bad-input", message);
}

export class TransformerModel<C extends PromptCache> implements LanguageModel {
  readonly architecture: Architecture;
  readonly modelType: "bert" | "gpt2";
  readonly nLayers: number;
  readonly hidden: number;
  readonly ffnWidth: number;
  readonly vocabSize: number;
  readonly maxPositions: number;
  /** Bumped by setValueVectors: prompt contexts built on older weights refuse to run. */
  private weightsVersion = 0;

  constructor(
    private readonly network: Network<C>,
    config: ModelConfig,
    readonly tokenizer: TextTokenizer,
    readonly dir: string,
    readonly backend: BackendName,
  ) {
    this.architecture = network.architecture;
    this.modelType = config.modelType;
    this.nLayers = network.nLayers;
    this.hidden = network.hidden;
    this.ffnWidth = network.ffnWidth;
    this.vocabSize = network.vocabSize;
    this.maxPositions = config.maxPositions;
  }

  // ---- input checks -------------------------------------------------------------------------

  targetPosition(ids: readonly number[]): number {
    if (this.architecture === "causal") return ids.length - 1;
    const maskId = this.tokenizer.maskId;
    const pos = maskId === undefined ? -1 : ids.indexOf(maskId);
    if (pos < 0) throw badInput(`the input has no mask token (${this.tokenizer.maskToken ?? "[MASK]"})`);
    return pos;
  }

  private checkIds(ids: readonly number[]): void {
    if (ids.length === 0) throw badInput("empty input");
    if (ids.length > this.maxPositions) throw badInput(`${ids.length} tokens exceed the model's ${this.maxPositions} positions`);
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw badInput(`token id ${id} is outside the vocabulary (0..${this.vocabSize - 1})`);
    }
  }

  /** The tokens the network sees and the position to read; causal models drop tokens after it. */
  private sequence(ids: readonly number[], position?: number): { seq: number[]; position: number } {
    this.checkIds(ids);
    const pos = position ?? this.targetPosition(ids);
    if (!Number.isInteger(pos) || pos < 0 || pos >= ids.length) throw badInput(`position ${pos} is outside the ${ids.length} input tokens`);
    return { seq: this.architecture === "causal" ? ids.slice(0, pos + 1) : [...ids], position: pos };
  }

  private checkNeuron([layer, unit]: Neuron): void {
    if (!Number.isInteger(layer) || layer < 0 || layer >= this.nLayers || !Number.isInteger(unit) || unit < 0 || unit >= this.ffnWidth) {
      throw badInput(`neuron (${layer}, ${unit}) is outside ${this.nLayers} layers × ${this.ffnWidth} units`);
    }
  }

  private checkTarget(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) throw badInput(`target id ${id} is outside the vocabulary`);
  }

  private checkRows(rows: readonly Float32Array[]): void {
    if (rows.length === 0) throw badInput("no rows to patch in");
    for (const r of rows) if (r.length !== this.ffnWidth) throw badInput(`a patch row has ${r.length} values, expected ${this.ffnWidth}`);
  }

  // ---- tensor helpers -----------------------------------------------------------------------

  /** Per-layer multipliers [B, ffnWidth] for B scale requests (undefined = no scaling). */
  private layerScales(scales: ReadonlyArray<NeuronScale | undefined>): LayerScales {
    const B = scales.length;
    const hosts: Array<Float32Array | undefined> = new Array(this.nLayers).fill(undefined);
    scales.forEach((s, b) => {
      for (const n of s?.neurons ?? []) {
        this.checkNeuron(n);
        const [layer, unit] = n;
        const m = (hosts[layer] ??= new Float32Array(B * this.ffnWidth).fill(1));
        m[b * this.ffnWidth + unit] = s!.factor;
      }
    });
    return hosts.map((m) => (m ? tf.tensor2d(m, [B, this.ffnWidth]) : undefined));
  }

  private rowsTensor(rows: readonly Float32Array[]): tf.Tensor2D {
    const flat = new Float32Array(rows.length * this.ffnWidth);
    rows.forEach((r, b) => flat.set(r, b * this.ffnWidth));
    return tf.tensor2d(flat, [rows.length, this.ffnWidth]);
  }

  /** Softmax of [B, V] logits, read back per row (all of it, or only `targetIds`). */
  private readProbabilities(logits: tf.Tensor2D, targetIds?: readonly number[]): Float32Array[] {
    targetIds?.forEach((id) => this.checkTarget(id));
    const probs = tf.softmax(logits);
    const data = probs.dataSync() as Float32Array;
    const V = this.vocabSize;
    const out: Float32Array[] = [];
    for (let b = 0; b < logits.shape[0]; b++) {
      const row = data.subarray(b * V, (b + 1) * V);
      out.push(targetIds ? Float32Array.from(targetIds, (id) => row[id]) : row.slice());
    }
    return out;
  }

  // ---- probabilities ------------------------------------------------------------------------

  probabilities(ids: readonly number[], options: ProbabilityOptions = {}): Float32Array {
    return this.probabilitiesBatch([{ ids, ...options }])[0];
  }

  probabilitiesBatch(requests: readonly ProbabilityRequest[], targetIds?: readonly number[]): Float32Array[] {
    const results: Float32Array[] = new Array(requests.length);
    // identical prompts share one cached pass; other prompts of one length share a batched forward
    const byPrompt = new Map<string, { seq: number[]; position: number; members: number[] }>();
    requests.forEach((r, i) => {
      const { seq, position } = this.sequence(r.ids, r.position);
      const key = `${position}:${seq.join(",")}`;
      const group = byPrompt.get(key) ?? { seq, position, members: [] };
      group.members.push(i);
      byPrompt.set(key, group);
    });
    const singles = new Map<string, { seqs: number[][]; position: number; members: number[] }>();
    for (const g of byPrompt.values()) {
      if (g.members.length > 1) {
        const ctx = this.prepare(g.seq, g.position);
        try {
          const out = ctx.scaledProbabilitiesEach(g.members.map((i) => requests[i].scale), targetIds);
          g.members.forEach((i, k) => (results[i] = out[k]));
        } finally {
          ctx.dispose();
        }
      } else {
        const key = `${g.seq.length}:${g.position}`;
        const s = singles.get(key) ?? { seqs: [], position: g.position, members: [] };
        s.seqs.push(g.seq);
        s.members.push(g.members[0]);
        singles.set(key, s);
      }
    }
    for (const s of singles.values()) {
      const size = Math.max(1, Math.floor(FORWARD_TOKENS / s.seqs[0].length));
      chunks(s.members.map((_, k) => k), size).forEach((ks) => {
        const out = tidyHost(() => {
          const scales = this.layerScales(ks.map((k) => requests[s.members[k]].scale));
          const { logits } = this.network.forward(ks.map((k) => s.seqs[k]), s.position, { scales });
          return this.readProbabilities(logits!, targetIds);
        });
        ks.forEach((k, j) => (results[s.members[k]] = out[j]));
      });
    }
    return results;
  }

  probabilitiesForScaleSets(
    ids: readonly number[],
    position: number,
    scaleSets: ReadonlyArray<readonly Neuron[]>,
    factor: number,
    targetIds?: readonly number[],
  ): Float32Array[] {
    const ctx = this.prepare(ids, position);
    try {
      return ctx.scaledProbabilities(scaleSets, factor, targetIds);
    } finally {
      ctx.dispose();
    }
  }

  // ---- activations --------------------------------------------------------------------------

  activations(ids: readonly number[], position?: number): Float32Array[] {
    const { seq, position: pos } = this.sequence(ids, position);
    return this.activationsBatch([seq], pos)[0];
  }

  activationsBatch(idsList: ReadonlyArray<readonly number[]>, position: number, layers?: readonly number[]): Float32Array[][] {
    if (idsList.length === 0) return [];
    const wanted = layers ?? Array.from({ length: this.nLayers }, (_, l) => l);
    for (const l of wanted) if (!Number.isInteger(l) || l < 0 || l >= this.nLayers) throw badInput(`layer ${l} does not exist`);
    const length = idsList[0].length;
    const seqs = idsList.map((ids) => {
      if (ids.length !== length) throw badInput("activationsBatch needs inputs of one length");
      return this.sequence(ids, position).seq;
    });
    if (wanted.length === 0) return seqs.map(() => []);
    const lastLayer = Math.max(...wanted);
    const size = Math.max(1, Math.floor(FORWARD_TOKENS / seqs[0].length));
    const F = this.ffnWidth;
    return chunks(seqs, size).flatMap((chunk) =>
      tidyHost(() => {
        const { activations } = this.network.forward(chunk, position, { lastLayer, logits: false });
        const perLayer = wanted.map((l) => activations[l].dataSync() as Float32Array);
        return chunk.map((_, b) => perLayer.map((data) => data.slice(b * F, (b + 1) * F)));
      }),
    );
  }

  // ---- prompt contexts ----------------------------------------------------------------------

  prepare(ids: readonly number[], position?: number): PromptContext & PromptContextInternal {
    const { seq, position: pos } = this.sequence(ids, position);
    return new CachedPrompt(this, this.network, this.network.prepare(seq, pos), [...ids], pos);
  }

  /** @internal used by CachedPrompt */
  get version(): number {
    return this.weightsVersion;
  }

  /** @internal */ helpers = {
    layerScales: (s: ReadonlyArray<NeuronScale | undefined>) => this.layerScales(s),
    rowsTensor: (rows: readonly Float32Array[]) => this.rowsTensor(rows),
    readProbabilities: (logits: tf.Tensor2D, targetIds?: readonly number[]) => this.readProbabilities(logits, targetIds),
    checkRows: (rows: readonly Float32Array[]) => this.checkRows(rows),
    checkTarget: (id: number) => this.checkTarget(id),
    checkLayer: (l: number) => {
      if (!Number.isInteger(l) || l < 0 || l >= this.nLayers) throw badInput(`layer ${l} does not exist`);
    },
  };

  // ---- weights ------------------------------------------------------------------------------

  private byLayer(neurons: readonly Neuron[]): Map<number, number[]> {
    const groups = new Map<number, number[]>();
    neurons.forEach((n, k) => {
      this.checkNeuron(n);
      const g = groups.get(n[0]) ?? [];
      g.push(k);
      groups.set(n[0], g);
    });
    return groups;
  }

  getValueVectors(neurons: readonly Neuron[]): Float32Array[] {
    const out: Float32Array[] = new Array(neurons.length);
    for (const [layer, ks] of this.byLayer(neurons)) {
      const rows = this.network.valueProjection(layer).getRows(ks.map((k) => neurons[k][1]));
      ks.forEach((k, j) => (out[k] = rows[j]));
    }
    return out;
  }

  setValueVectors(neurons: readonly Neuron[], vectors: readonly Float32Array[]): void {
    if (vectors.length !== neurons.length) throw badInput(`${neurons.length} neurons but ${vectors.length} vectors`);
    for (const v of vectors) if (v.length !== this.hidden) throw badInput(`a value vector has ${v.length} values, expected ${this.hidden}`);
    for (const [layer, ks] of this.byLayer(neurons)) {
      this.network.valueProjection(layer).setRows(ks.map((k) => neurons[k][1]), ks.map((k) => vectors[k]));
    }
    this.weightsVersion++;
  }

  wordEmbedding(tokenId: number): Float32Array {
    this.checkTarget(tokenId);
    return tidyHost(() => tf.slice(this.network.wordEmbeddings, [tokenId, 0], [1, this.hidden]).dataSync() as Float32Array).slice();
  }

  dispose(): void {
    this.network.dispose();
  }
}

interface PromptContextInternal {
  /** Per item an optional scale (each with its own factor); used by probabilitiesBatch. */
  scaledProbabilitiesEach(scales: ReadonlyArray<NeuronScale | undefined>, targetIds?: readonly number[]): Float32Array[];
}

class CachedPrompt<C extends PromptCache> implements PromptContext, PromptContextInternal {
  readonly probabilities: Float32Array;
  readonly activations: readonly Float32Array[];
  private readonly version: number;
  private disposed = false;

  constructor(
    private readonly model: TransformerModel<C>,
    private readonly network: Network<C>,
    private readonly cache: C,
    readonly ids: readonly number[],
    readonly position: number,
  ) {
    this.version = model.version;
    this.probabilities = tidyHost(() => tf.softmax(cache.logits).dataSync() as Float32Array).slice();
    const acts = cache.activations.dataSync() as Float32Array;
    const F = network.ffnWidth;
    this.activations = Array.from({ length: network.nLayers }, (_, l) => acts.slice(l * F, (l + 1) * F));
  }

  private check(): void {
    if (this.disposed) throw badInput("this prompt context was disposed");
    if (this.model.version !== this.version) throw badInput("the model's weights changed since prepare(): prepare the prompt again");
  }

  private rowChunk(): number {
    // BERT recomputes the whole sequence above the hooked layer; GPT-2 only the last position
    const tokensPerRow = this.network.architecture === "masked" ? this.cache.length : 1;
    return Math.max(1, Math.floor(GRADIENT_TOKENS / tokensPerRow));
  }

  patchedGradient(layer: number, rows: readonly Float32Array[], targetId: number): PatchedGradient {
    this.check();
    const h = this.model.helpers;
    h.checkLayer(layer);
    h.checkRows(rows);
    h.checkTarget(targetId);
    const probs = new Float32Array(rows.length);
    const grads: Float32Array[] = [];
    const F = this.network.ffnWidth;
    let offset = 0;
    for (const part of chunks(rows, this.rowChunk())) {
      const [p, g] = tidyHost(() => {
        const onehot = tf.cast(tf.oneHot(tf.tensor1d([targetId], "int32"), this.network.vocabSize), "float32");
        // rows do not interact, so the gradient of Σ_b P_b gives every row its own gradient
        const f = (z: tf.Tensor2D) => tf.sum(tf.mul(tf.softmax(this.network.logitsFromActivation(this.cache, layer, z)), onehot), 1);
        const { value, grad } = tf.valueAndGrad(f)(h.rowsTensor(part), tf.ones([part.length]));
        return [value.dataSync() as Float32Array, grad.dataSync() as Float32Array];
      });
      probs.set(p, offset);
      for (let b = 0; b < part.length; b++) grads.push(g.slice(b * F, (b + 1) * F));
      offset += part.length;
    }
    return { probs, grads };
  }

  patchedProbabilities(layer: number, rows: readonly Float32Array[], targetIds?: readonly number[]): Float32Array[] {
    this.check();
    const h = this.model.helpers;
    h.checkLayer(layer);
    h.checkRows(rows);
    return chunks(rows, this.rowChunk() * 2).flatMap((part) =>
      tidyHost(() => h.readProbabilities(this.network.logitsFromActivation(this.cache, layer, h.rowsTensor(part)), targetIds)),
    );
  }

  scaledProbabilities(scaleSets: ReadonlyArray<readonly Neuron[]>, factor: number, targetIds?: readonly number[]): Float32Array[] {
    return this.scaledProbabilitiesEach(scaleSets.map((neurons) => ({ neurons, factor })), targetIds);
  }

  scaledProbabilitiesEach(scales: ReadonlyArray<NeuronScale | undefined>, targetIds?: readonly number[]): Float32Array[] {
    this.check();
    const h = this.model.helpers;
    const firstLayer = (s: NeuronScale | undefined) => Math.min(Infinity, ...(s?.neurons ?? []).map((n) => n[0]));
    const results: Float32Array[] = new Array(scales.length);
    // Unscaled requests read the cached distribution. The others run from their lowest scaled
    // layer up; sorting by that layer lets each chunk start as high as possible.
    const order = scales.map((_, i) => i).filter((i) => firstLayer(scales[i]) !== Infinity);
    scales.forEach((s, i) => {
      if (firstLayer(s) === Infinity) {
        results[i] = targetIds ? Float32Array.from(targetIds, (id) => (h.checkTarget(id), this.probabilities[id])) : this.probabilities.slice();
      }
    });
    order.sort((a, b) => firstLayer(scales[b]) - firstLayer(scales[a]));
    for (const part of chunks(order, this.rowChunk() * 2)) {
      const out = tidyHost(() => {
        const layerScales = h.layerScales(part.map((i) => scales[i]));
        const start = Math.min(...part.map((i) => firstLayer(scales[i])));
        // the activation at the start layer is the cached one times this item's multipliers
        const cached = tf.slice(this.cache.activations, [start, 0], [1, this.network.ffnWidth]);
        const act = tf.mul(cached, layerScales[start]!) as tf.Tensor2D;
        return h.readProbabilities(this.network.logitsFromActivation(this.cache, start, act, layerScales), targetIds);
      });
      part.forEach((i, k) => (results[i] = out[k]));
    }
    return results;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.cache.dispose();
  }
}
