// LanguageModel on top of an architecture's Network: input checks, batching into chunks that fit
// in memory, tensor lifetimes (tf.tidy) and conversion to plain Float32Arrays. Every read-back is
// asynchronous (a GPU backend can only read back that way): a call builds its result tensors in a
// tf.tidy, keeps them, awaits their data once per dispatched chunk and frees them.
import * as tf from "./tf.ts";
import type { BackendName } from "./backend.ts";
import type { ModelConfig } from "./config.ts";
import { ModelError } from "./errors.ts";
import type {
  Architecture, LanguageModel, Neuron, NeuronScale, PatchedGradient, ProbabilityOptions, ProbabilityRequest, PromptContext,
} from "./language-model.ts";
import type { LayerScales, Network, PromptCache } from "./network.ts";
import { targetProbability } from "./nn.ts";
import type { TextTokenizer } from "./tokenizer.ts";
import { bindingLimitBytes, checkDevice } from "./webgpu.ts";

/**
 * The row budget: tokens per batched forward+backward pass (the tape keeps every intermediate),
 * $KN_ROW_BUDGET, default 1024 (~25 MB per activation tensor at BERT-base). Forward-only passes
 * take twice as many. A GPU with memory to spare computes more rows per dispatch with a larger one;
 * the numbers do not depend on it (rows are independent).
 */
export function rowBudget(): number {
  const raw = process.env.KN_ROW_BUDGET;
  if (raw === undefined || raw === "") return 1024;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ModelError("bad-input", `KN_ROW_BUDGET must be a positive integer (tokens per batched pass), not ${JSON.stringify(raw)}`);
  return n;
}
const gradientTokens = () => rowBudget();
const forwardTokens = () => 2 * rowBudget();

/**
 * Rows per pass within `tokens`, and few enough that their [rows, vocabSize] logits fit one
 * buffer binding on WebGPU (llvmpipe binds 128 MiB: 335 rows of a 100000-token vocabulary).
 */
function rowsWithin(s: Shape, tokens: number, tokensPerRow: number): number {
  const binding = tf.engine().backendName === "webgpu" ? bindingLimitBytes() : undefined;
  const byLogits = binding ? Math.floor(binding / (4 * s.vocabSize)) : Infinity;
  return Math.max(1, Math.min(Math.floor(tokens / tokensPerRow), byLogits));
}

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

/** Softmax of [B, V] logits on the device: all of it, or only the `targetIds` columns. */
function probabilitiesTensor(s: Shape, logits: tf.Tensor2D, targetIds?: readonly number[]): tf.Tensor2D {
  targetIds?.forEach((id) => checkToken(s, id));
  const probs = tf.softmax(logits);
  // pick the targets on the device: 200 scale sets × a 120k vocabulary is a lot to copy out
  return targetIds ? tf.gather(probs, tf.tensor1d([...targetIds], "int32"), 1) : probs;
}

/** Splits read-back data of `count` rows into one copy per row. */
function splitRows(data: Float32Array, count: number): Float32Array[] {
  const width = data.length / count;
  return Array.from({ length: count }, (_, b) => data.slice(b * width, (b + 1) * width));
}

/**
 * A read-back that fails loudly when the GPU device is gone: a lost device rejects the read (or,
 * for an error nobody captured, leaves it unwritten), which becomes a DeviceLostError.
 */
async function readChecked(t: tf.Tensor): Promise<tf.TypedArray> {
  let data: tf.TypedArray;
  try {
    data = await t.data();
  } catch (err) {
    checkDevice();
    throw err;
  }
  checkDevice();
  return data;
}

/**
 * Runs `dispatch` for every part and reads each result back once, dispatching part k+1 before
 * waiting for part k's read-back: on a GPU the next batch computes while the previous one copies
 * out; on wasm and cpu the work is already done at dispatch and nothing changes. At most two
 * results are held at a time, so memory stays bounded by the chunk size.
 */
export async function pipelined<P>(parts: readonly P[], dispatch: (part: P) => tf.Tensor): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  let pending: tf.Tensor | null = parts.length ? dispatch(parts[0]) : null;
  try {
    for (let k = 0; pending; k++) {
      const current: tf.Tensor = pending;
      pending = null;
      try {
        if (k + 1 < parts.length) pending = dispatch(parts[k + 1]);
        out.push((await readChecked(current)) as Float32Array);
      } finally {
        current.dispose();
      }
    }
  } finally {
    pending?.dispose();
  }
  return out;
}

/** Reads one tensor back (the single read-back of a call) and frees it. */
async function readOnce(t: tf.Tensor): Promise<Float32Array> {
  return (await pipelined([t], (x) => x))[0];
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

  async probabilities(ids: readonly number[], options: ProbabilityOptions = {}): Promise<Float32Array> {
    return (await this.probabilitiesBatch([{ ids, ...options }]))[0];
  }

  async probabilitiesBatch(requests: readonly ProbabilityRequest[], targetIds?: readonly number[]): Promise<Float32Array[]> {
    targetIds?.forEach((id) => checkToken(this, id));
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
        const ctx = this.openPrompt(g.seq, g.position);
        try {
          const out = await ctx.scaledProbabilitiesEach(g.members.map((i) => requests[i].scale), targetIds);
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
    const parts = [...byLength.values()].flatMap((s) => {
      const size = rowsWithin(this, forwardTokens(), s.seqs[0].length);
      return chunks(s.members.map((_, k) => k), size).map((ks) => ({ s, ks }));
    });
    const data = await pipelined(parts, ({ s, ks }) =>
      tf.tidy(() => {
        const scales = layerScales(this, ks.map((k) => requests[s.members[k]].scale));
        const { logits } = this.network.forward(ks.map((k) => s.seqs[k]), s.position, { scales });
        return probabilitiesTensor(this, logits!, targetIds);
      }),
    );
    parts.forEach(({ s, ks }, p) => splitRows(data[p], ks.length).forEach((row, j) => (results[s.members[ks[j]]] = row)));
    return results;
  }

  async probabilitiesForScaleSets(
    ids: readonly number[],
    position: number,
    scaleSets: ReadonlyArray<readonly Neuron[]>,
    factor: number,
    targetIds?: readonly number[],
  ): Promise<Float32Array[]> {
    const ctx = this.openPrompt(ids, position);
    try {
      return await ctx.scaledProbabilities(scaleSets, factor, targetIds);
    } finally {
      ctx.dispose();
    }
  }

  // ---- activations --------------------------------------------------------------------------

  async activations(ids: readonly number[], position?: number): Promise<Float32Array[]> {
    const { seq, position: pos } = this.sequence(ids, position);
    return (await this.activationsBatch([seq], pos))[0];
  }

  async activationsBatch(idsList: ReadonlyArray<readonly number[]>, position: number, layers?: readonly number[]): Promise<Float32Array[][]> {
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
    const size = rowsWithin(this, forwardTokens(), seqs[0].length);
    const parts = chunks(seqs, size);
    // one read-back per chunk: the wanted layers stacked [K, B, F]
    const data = await pipelined(parts, (chunk) =>
      tf.tidy(() => {
        const { activations } = this.network.forward(chunk, position, { lastLayer, logits: false });
        return tf.stack(wanted.map((l) => activations[l]));
      }),
    );
    const F = this.ffnWidth;
    return parts.flatMap((chunk, p) =>
      chunk.map((_, b) => wanted.map((_, k) => data[p].slice((k * chunk.length + b) * F, (k * chunk.length + b + 1) * F))),
    );
  }

  // ---- prompt contexts ----------------------------------------------------------------------

  async prepare(ids: readonly number[], position?: number): Promise<PromptContext> {
    const ctx = this.openPrompt(ids, position);
    try {
      await ctx.load();
    } catch (err) {
      ctx.dispose();
      throw err;
    }
    return ctx;
  }

  /** The prompt pass, dispatched but not read back (callers that need no host copy skip it). */
  private openPrompt(ids: readonly number[], position?: number): CachedPrompt<C> {
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

  async getValueVectors(neurons: readonly Neuron[]): Promise<Float32Array[]> {
    const groups = [...this.byLayer(neurons)];
    if (!groups.length) return [];
    // every layer's rows gathered into one [N, hidden] tensor: one read-back
    const data = await readOnce(tf.tidy(() => tf.concat(groups.map(([layer, ks]) => this.network.valueProjection(layer).rows(ks.map((k) => neurons[k][1]))), 0)));
    const rows = splitRows(data, neurons.length);
    const out: Float32Array[] = new Array(neurons.length);
    groups.flatMap(([, ks]) => ks).forEach((k, j) => (out[k] = rows[j]));
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

  async wordEmbedding(tokenId: number): Promise<Float32Array> {
    checkToken(this, tokenId);
    // a copy: on cpu a contiguous slice can share the embedding table's buffer
    return (await readOnce(tf.tidy(() => this.network.wordEmbedding(tokenId)))).slice();
  }

  async unembed(vector: Float32Array): Promise<Float32Array> {
    if (vector.length !== this.hidden) throw badInput(`a vector of ${vector.length} values, expected ${this.hidden}`);
    return readOnce(tf.tidy(() => this.network.outputEmbedding(tf.tensor2d(vector, [1, this.hidden]))));
  }

  dispose(): void {
    this.network.dispose();
  }
}

/** Host copies of a prompt's unpatched distribution and activations. */
interface HostPrompt {
  probabilities: Float32Array;
  activations: Float32Array[];
}

class CachedPrompt<C extends PromptCache> implements PromptContext {
  private host: HostPrompt | null = null;
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
  }

  /** Reads the distribution and every layer's activation back in one copy ([V] then [L·F]). */
  async load(): Promise<void> {
    const V = this.network.vocabSize;
    const data = await readOnce(tf.tidy(() => tf.concat([tf.softmax(this.cache.logits), tf.reshape(this.cache.activations, [-1])])));
    const F = this.network.ffnWidth;
    this.host = {
      probabilities: data.slice(0, V),
      activations: Array.from({ length: this.network.nLayers }, (_, l) => data.slice(V + l * F, V + (l + 1) * F)),
    };
  }

  private loaded(): HostPrompt {
    if (!this.host) throw new Error("prompt context read before load()");
    return this.host;
  }

  get probabilities(): Float32Array {
    return this.loaded().probabilities;
  }

  get activations(): readonly Float32Array[] {
    return this.loaded().activations;
  }

  private check(): void {
    if (this.disposed) throw badInput("this prompt context was disposed");
    if (this.currentVersion() !== this.version) throw badInput("the model's weights changed since prepare(): prepare the prompt again");
  }

  /** Rows per patched pass: BERT recomputes the whole sequence above the hooked layer, GPT-2 one position. */
  private rowsPerPass(budget: number): number {
    return rowsWithin(this.network, budget, this.network.architecture === "masked" ? this.cache.length : 1);
  }

  async patchedGradient(layer: number, rows: readonly Float32Array[], targetId: number): Promise<PatchedGradient> {
    this.check();
    checkLayer(this.network, layer);
    checkRows(this.network, rows);
    checkToken(this.network, targetId);
    const parts = chunks(rows, this.rowsPerPass(gradientTokens()));
    // per chunk one read-back of [B, 1 + F]: P(target) then its gradient
    const data = await pipelined(parts, (part) =>
      tf.tidy(() => {
        // rows do not interact, so the gradient of Σ_b P_b gives every row its own gradient
        const f = (z: tf.Tensor2D) => targetProbability(this.network.logitsFromActivation(this.cache, layer, z), targetId);
        const { value, grad } = tf.valueAndGrad(f)(rowsTensor(this.network, part), tf.ones([part.length]));
        return tf.concat([tf.reshape(value, [-1, 1]), grad], 1);
      }),
    );
    const probs = new Float32Array(rows.length);
    const grads: Float32Array[] = [];
    for (const [p, part] of parts.entries()) {
      for (const row of splitRows(data[p], part.length)) {
        probs[grads.length] = row[0];
        grads.push(row.subarray(1));
      }
    }
    return { probs, grads };
  }

  async patchedProbabilities(layer: number, rows: readonly Float32Array[], targetIds?: readonly number[]): Promise<Float32Array[]> {
    this.check();
    checkLayer(this.network, layer);
    checkRows(this.network, rows);
    targetIds?.forEach((id) => checkToken(this.network, id));
    const parts = chunks(rows, this.rowsPerPass(forwardTokens()));
    const data = await pipelined(parts, (part) =>
      tf.tidy(() => probabilitiesTensor(this.network, this.network.logitsFromActivation(this.cache, layer, rowsTensor(this.network, part)), targetIds)),
    );
    return parts.flatMap((part, p) => splitRows(data[p], part.length));
  }

  scaledProbabilities(scaleSets: ReadonlyArray<readonly Neuron[]>, factor: number, targetIds?: readonly number[]): Promise<Float32Array[]> {
    return this.scaledProbabilitiesEach(scaleSets.map((neurons) => ({ neurons, factor })), targetIds);
  }

  /** Each request with its own (optional) scale; probabilitiesBatch uses it for repeated prompts. */
  async scaledProbabilitiesEach(scales: ReadonlyArray<NeuronScale | undefined>, targetIds?: readonly number[]): Promise<Float32Array[]> {
    this.check();
    targetIds?.forEach((id) => checkToken(this.network, id));
    const results: Float32Array[] = new Array(scales.length);
    // Unscaled requests read the unpatched distribution. The others run from their lowest scaled
    // layer up; sorting by that layer lets each chunk start as high as possible.
    const unscaled: number[] = [];
    const scaled: number[] = [];
    scales.forEach((s, i) => (firstScaledLayer(s) !== Infinity ? scaled : unscaled).push(i));
    scaled.sort((a, b) => firstScaledLayer(scales[b]) - firstScaledLayer(scales[a]));
    const pick = (p: Float32Array) => (targetIds ? Float32Array.from(targetIds, (id) => p[id]) : p.slice());
    let unpatched: Float32Array | null = this.host?.probabilities ?? null;
    const parts: number[][] = chunks(scaled, this.rowsPerPass(forwardTokens()));
    // a context that was never read back computes its unpatched distribution as one more part
    const readUnpatched = unscaled.length > 0 && !unpatched;
    const data = await pipelined<number[] | null>([...(readUnpatched ? [null] : []), ...parts], (part) =>
      tf.tidy(() => {
        if (!part) return tf.softmax(this.cache.logits);
        const multipliers = layerScales(this.network, part.map((i) => scales[i]));
        const start = Math.min(...part.map((i) => firstScaledLayer(scales[i])));
        // the activation at the start layer is the cached one times each item's multipliers
        const cached = tf.slice(this.cache.activations, [start, 0], [1, this.network.ffnWidth]);
        const act = tf.mul(cached, multipliers[start]!) as tf.Tensor2D;
        return probabilitiesTensor(this.network, this.network.logitsFromActivation(this.cache, start, act, multipliers), targetIds);
      }),
    );
    if (readUnpatched) unpatched = data.shift()!;
    for (const i of unscaled) results[i] = pick(unpatched!);
    parts.forEach((part, p) => splitRows(data[p], part.length).forEach((row, k) => (results[part[k]] = row)));
    return results;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.cache.dispose();
  }
}
