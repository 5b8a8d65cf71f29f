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
import { targetProbability, tidyHost } from "./nn.ts";
import type { TextTokenizer } from "./tokenizer.ts";

/** Tokens per batched forward without gradients (bounds activation memory: ~25 MB per tensor at BERT-base). */
const FORWARD_TOKENS = 2048;
/** Tokens per batched forward+backward (the tape keeps every intermediate). */
const GRADIENT_TOKENS = 1024;

type Shape = Pick<Network, "nLayers" | "ffnWidth" | "vocabSize">;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function badInput(message: string): ModelError {
  return new ModelError("bad-input", message);
}

const isIndex = (i: number, n: number) => Number.isInteger(i) && i >= 0 && i < n;

function checkLayer(s: Shape, layer: number): void {
  if (!isIndex(layer, s.nLayers)) throw badInput(`layer ${layer} does not exist (the model has ${s.nLayers})`);
}

function checkNeuron(s: Shape, [layer, unit]: Neuron): void {
  if (!isIndex(layer, s.nLayers) || !isIndex(unit, s.ffnWidth)) {
    throw badInput(`neuron (${layer}, ${unit}) is outside ${s.nLayers} layers × ${s.ffnWidth} units`);
  }
}

function checkToken(s: Shape, id: number): void {
  if (!isIndex(id, s.vocabSize)) throw badInput(`token id ${id} is outside the vocabulary (0..${s.vocabSize - 1})`);
}

function checkRows(s: Shape, rows: readonly Float32Array[]): void {
  if (rows.length === 0) throw badInput("no rows to patch in");
  for (const r of rows) if (r.length !== s.ffnWidth) throw badInput(`a patch row has ${r.length} values, expected ${s.ffnWidth}`);
}

/** Per-layer multipliers [B, ffnWidth] for B scale requests (undefined where no request scales the layer). */
function layerScales(s: Shape, scales: ReadonlyArray<NeuronScale | undefined>): LayerScales {
  const B = scales.length;
  const hosts: Array<Float32Array | undefined> = new Array(s.nLayers).fill(undefined);
  scales.forEach((scale, b) => {
    if (!scale) return;
    if (!Number.isFinite(scale.factor)) throw badInput(`scale factor ${scale.factor} is not a finite number`);
    for (const n of scale.neurons) {
      checkNeuron(s, n);
      const m = (hosts[n[0]] ??= new Float32Array(B * s.ffnWidth).fill(1));
      m[b * s.ffnWidth + n[1]] = scale.factor;
    }
  });
  return hosts.map((m) => (m ? tf.tensor2d(m, [B, s.ffnWidth]) : undefined));
}

function rowsTensor(s: Shape, rows: readonly Float32Array[]): tf.Tensor2D {
  const flat = new Float32Array(rows.length * s.ffnWidth);
  rows.forEach((r, b) => flat.set(r, b * s.ffnWidth));
  return tf.tensor2d(flat, [rows.length, s.ffnWidth]);
}

/** Softmax of [B, V] logits, read back per row: all of it, or only `targetIds`. */
function readProbabilities(s: Shape, logits: tf.Tensor2D, targetIds?: readonly number[]): Float32Array[] {
  targetIds?.forEach((id) => checkToken(s, id));
  let probs = tf.softmax(logits);
  // pick the targets on the device: 200 scale sets × a 120k vocabulary is a lot to copy out
  if (targetIds) probs = tf.gather(probs, tf.tensor1d([...targetIds], "int32"), 1);
  const width = probs.shape[1];
  const data = probs.dataSync() as Float32Array;
  return Array.from({ length: logits.shape[0] }, (_, b) => data.slice(b * width, (b + 1) * width));
}

const firstScaledLayer = (s: NeuronScale | undefined) => Math.min(Infinity, ...(s?.neurons ?? []).map((n) => n[0]));

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

  targetPosition(ids: readonly number[]): number {
    if (this.architecture === "causal") return ids.length - 1;
    const maskId = this.tokenizer.maskId;
    const pos = maskId === undefined ? -1 : ids.indexOf(maskId);
    if (pos < 0) throw badInput(`the input has no mask token (${this.tokenizer.maskToken ?? "[MASK]"})`);
    return pos;
  }

  /** The tokens the network sees and the position to read; causal models drop tokens after it. */
  private sequence(ids: readonly number[], position?: number): { seq: number[]; position: number } {
    if (ids.length === 0) throw badInput("empty input");
    if (ids.length > this.maxPositions) throw badInput(`${ids.length} tokens exceed the model's ${this.maxPositions} positions`);
    for (const id of ids) checkToken(this, id);
    const pos = position ?? this.targetPosition(ids);
    if (!isIndex(pos, ids.length)) throw badInput(`position ${pos} is outside the ${ids.length} input tokens`);
    return { seq: this.architecture === "causal" ? ids.slice(0, pos + 1) : [...ids], position: pos };
  }

  // ---- probabilities ------------------------------------------------------------------------

  probabilities(ids: readonly number[], options: ProbabilityOptions = {}): Float32Array {
    return this.probabilitiesBatch([{ ids, ...options }])[0];
  }

  probabilitiesBatch(requests: readonly ProbabilityRequest[], targetIds?: readonly number[]): Float32Array[] {
    const results: Float32Array[] = new Array(requests.length);
    // identical prompts share one cached pass; other prompts of one length share batched forwards
    const byPrompt = new Map<string, { seq: number[]; position: number; members: number[] }>();
    requests.forEach((r, i) => {
      const { seq, position } = this.sequence(r.ids, r.position);
      const key = `${position}:${seq.join(",")}`;
      const group = byPrompt.get(key) ?? { seq, position, members: [] };
      group.members.push(i);
      byPrompt.set(key, group);
    });
    const byLength = new Map<string, { seqs: number[][]; position: number; members: number[] }>();
    for (const g of byPrompt.values()) {
      if (g.members.length > 1) {
        const ctx = this.prepareCached(g.seq, g.position);
        try {
          const out = ctx.scaledProbabilitiesEach(g.members.map((i) => requests[i].scale), targetIds);
          g.members.forEach((i, k) => (results[i] = out[k]));
        } finally {
          ctx.dispose();
        }
        continue;
      }
      const key = `${g.seq.length}:${g.position}`;
      const s = byLength.get(key) ?? { seqs: [], position: g.position, members: [] };
      s.seqs.push(g.seq);
      s.members.push(g.members[0]);
      byLength.set(key, s);
    }
    for (const s of byLength.values()) {
      const size = Math.max(1, Math.floor(FORWARD_TOKENS / s.seqs[0].length));
      for (const ks of chunks(s.members.map((_, k) => k), size)) {
        const out = tidyHost(() => {
          const scales = layerScales(this, ks.map((k) => requests[s.members[k]].scale));
          const { logits } = this.network.forward(ks.map((k) => s.seqs[k]), s.position, { scales });
          return readProbabilities(this, logits!, targetIds);
        });
        ks.forEach((k, j) => (results[s.members[k]] = out[j]));
      }
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
    const ctx = this.prepareCached(ids, position);
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
    wanted.forEach((l) => checkLayer(this, l));
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

  prepare(ids: readonly number[], position?: number): PromptContext {
    return this.prepareCached(ids, position);
  }

  private prepareCached(ids: readonly number[], position?: number): CachedPrompt<C> {
    const { seq, position: pos } = this.sequence(ids, position);
    return new CachedPrompt(this.network, this.network.prepare(seq, pos), [...ids], pos, () => this.weightsVersion);
  }

  // ---- weights ------------------------------------------------------------------------------

  /** Indices into `neurons`, grouped by layer. */
  private byLayer(neurons: readonly Neuron[]): Map<number, number[]> {
    const groups = new Map<number, number[]>();
    neurons.forEach((n, k) => {
      checkNeuron(this, n);
      groups.set(n[0], [...(groups.get(n[0]) ?? []), k]);
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
    checkToken(this, tokenId);
    return tidyHost(() => this.network.wordEmbedding(tokenId).dataSync() as Float32Array).slice();
  }

  dispose(): void {
    this.network.dispose();
  }
}

class CachedPrompt<C extends PromptCache> implements PromptContext {
  readonly probabilities: Float32Array;
  readonly activations: readonly Float32Array[];
  private readonly version: number;
  private disposed = false;

  constructor(
    private readonly network: Network<C>,
    private readonly cache: C,
    readonly ids: readonly number[],
    readonly position: number,
    private readonly currentVersion: () => number,
  ) {
    this.version = currentVersion();
    this.probabilities = tidyHost(() => tf.softmax(cache.logits).dataSync() as Float32Array).slice();
    const acts = cache.activations.dataSync() as Float32Array;
    const F = network.ffnWidth;
    this.activations = Array.from({ length: network.nLayers }, (_, l) => acts.slice(l * F, (l + 1) * F));
  }

  private check(): void {
    if (this.disposed) throw badInput("this prompt context was disposed");
    if (this.currentVersion() !== this.version) throw badInput("the model's weights changed since prepare(): prepare the prompt again");
  }

  /** Rows per patched pass: BERT recomputes the whole sequence above the hooked layer, GPT-2 one position. */
  private rowsPerPass(budget: number): number {
    const tokensPerRow = this.network.architecture === "masked" ? this.cache.length : 1;
    return Math.max(1, Math.floor(budget / tokensPerRow));
  }

  patchedGradient(layer: number, rows: readonly Float32Array[], targetId: number): PatchedGradient {
    this.check();
    checkLayer(this.network, layer);
    checkRows(this.network, rows);
    checkToken(this.network, targetId);
    const probs = new Float32Array(rows.length);
    const grads: Float32Array[] = [];
    const F = this.network.ffnWidth;
    for (const part of chunks(rows, this.rowsPerPass(GRADIENT_TOKENS))) {
      const [p, g] = tidyHost(() => {
        // rows do not interact, so the gradient of Σ_b P_b gives every row its own gradient
        const f = (z: tf.Tensor2D) => targetProbability(this.network.logitsFromActivation(this.cache, layer, z), targetId);
        const { value, grad } = tf.valueAndGrad(f)(rowsTensor(this.network, part), tf.ones([part.length]));
        return [value.dataSync() as Float32Array, grad.dataSync() as Float32Array];
      });
      probs.set(p, grads.length);
      for (let b = 0; b < part.length; b++) grads.push(g.slice(b * F, (b + 1) * F));
    }
    return { probs, grads };
  }

  patchedProbabilities(layer: number, rows: readonly Float32Array[], targetIds?: readonly number[]): Float32Array[] {
    this.check();
    checkLayer(this.network, layer);
    checkRows(this.network, rows);
    return chunks(rows, this.rowsPerPass(FORWARD_TOKENS)).flatMap((part) =>
      tidyHost(() => readProbabilities(this.network, this.network.logitsFromActivation(this.cache, layer, rowsTensor(this.network, part)), targetIds)),
    );
  }

  scaledProbabilities(scaleSets: ReadonlyArray<readonly Neuron[]>, factor: number, targetIds?: readonly number[]): Float32Array[] {
    return this.scaledProbabilitiesEach(scaleSets.map((neurons) => ({ neurons, factor })), targetIds);
  }

  /** Each request with its own (optional) scale; probabilitiesBatch uses it for repeated prompts. */
  scaledProbabilitiesEach(scales: ReadonlyArray<NeuronScale | undefined>, targetIds?: readonly number[]): Float32Array[] {
    this.check();
    targetIds?.forEach((id) => checkToken(this.network, id));
    const results: Float32Array[] = new Array(scales.length);
    // Unscaled requests read the cached distribution. The others run from their lowest scaled
    // layer up; sorting by that layer lets each chunk start as high as possible.
    const scaled: number[] = [];
    scales.forEach((s, i) => {
      if (firstScaledLayer(s) !== Infinity) scaled.push(i);
      else results[i] = targetIds ? Float32Array.from(targetIds, (id) => this.probabilities[id]) : this.probabilities.slice();
    });
    scaled.sort((a, b) => firstScaledLayer(scales[b]) - firstScaledLayer(scales[a]));
    for (const part of chunks(scaled, this.rowsPerPass(FORWARD_TOKENS))) {
      const out = tidyHost(() => {
        const multipliers = layerScales(this.network, part.map((i) => scales[i]));
        const start = Math.min(...part.map((i) => firstScaledLayer(scales[i])));
        // the activation at the start layer is the cached one times each item's multipliers
        const cached = tf.slice(this.cache.activations, [start, 0], [1, this.network.ffnWidth]);
        const act = tf.mul(cached, multipliers[start]!) as tf.Tensor2D;
        return readProbabilities(this.network, this.network.logitsFromActivation(this.cache, start, act, multipliers), targetIds);
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
