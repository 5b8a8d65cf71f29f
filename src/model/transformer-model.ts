// LanguageModel on top of an architecture's Network: input checks, batching into chunks that fit
// in memory, tensor lifetimes (tf.tidy) and conversion to plain Float32Arrays. Every read-back is
// asynchronous (a GPU backend can only read back that way): a call builds its result tensors in a
// tf.tidy, keeps them, awaits their data once per dispatched chunk and frees them.
import * as tf from "./tf.ts";
import type { BackendName } from "./backend.ts";
import type { ModelConfig } from "./config.ts";
import { ModelError } from "./errors.ts";
import type {
  Architecture, LanguageModel, Neuron, NeuronScale, PatchedGradient, PatchedGradientRequest, ProbabilityOptions, ProbabilityRequest,
  PromptContext,
} from "./language-model.ts";
import type { LayerScales, Network, PromptCache } from "./network.ts";
import { targetProbability } from "./nn.ts";
import type { TextTokenizer } from "./tokenizer.ts";
import { bindingLimitBytes, checkDevice } from "./webgpu.ts";

/**
 * The row budget when none is given: tokens per batched forward+backward pass, per backend.
 * webgpu 16384: on an NVIDIA H100 the host's per-dispatch work dominates and a BERT-base
 * attribution took 3.57 s/prompt at 1024, 2.18 at 8192, 2.01 at 16384 and 32768
 * (docs/gpu-bench/run-2026-11-27-sweep). The CPU backends (wasm, cpu, tensorflow) 512: a pass
 * spares them no dispatch cost (only the staircase's shared matrix products count, and rows of
 * different prompts share none), larger passes measured no faster on wasm, and a pass's tape must
 * fit wasm's 4 GiB beside the weights: a row that joins the staircase low is carried through every
 * layer above, so BERT-base's tape at 1024 tokens already does not (README, Speed).
 */
export const DEFAULT_ROW_BUDGET: Readonly<Record<BackendName, number>> = { webgpu: 16384, wasm: 512, cpu: 512, tensorflow: 512 };

/**
 * The row budget of `backend`: $KN_ROW_BUDGET, else DEFAULT_ROW_BUDGET. Forward-only passes take
 * twice as many tokens. The numbers do not depend on it (rows are independent); it bounds the
 * memory one pass holds (the tape keeps every intermediate: at BERT-base 1024 tokens are ~25 MB
 * per activation tensor).
 */
export function rowBudget(backend: BackendName): number {
  const raw = process.env.KN_ROW_BUDGET;
  if (raw === undefined || raw === "") return DEFAULT_ROW_BUDGET[backend];
  return checkRowBudget(Number(raw), `KN_ROW_BUDGET must be a positive integer (tokens per batched pass), not ${JSON.stringify(raw)}`);
}

function checkRowBudget(n: number, message = `the row budget must be a positive integer (tokens per batched pass), not ${n}`): number {
  if (!Number.isInteger(n) || n < 1) throw new ModelError("bad-input", message);
  return n;
}

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

interface Segment {
  request: number;
  from: number;
  count: number;
}

/**
 * Packs the rows of requests, in the order given, into passes of at most `budget` tokens (a row
 * costs its prompt's tokensPerRow) and, on WebGPU, few enough rows that their logits fit one buffer
 * binding; a request may be split across passes. A row larger than the budget gets a pass alone.
 */
export function packRows(s: Shape, items: ReadonlyArray<{ request: number; rows: number; tokensPerRow: number }>, budget: number): Segment[][] {
  const maxRows = rowsWithin(s, Infinity, 1);
  const parts: Segment[][] = [];
  let part: Segment[] = [];
  let tokens = 0;
  let rows = 0;
  for (const item of items) {
    for (let from = 0; from < item.rows; ) {
      const room = Math.min(Math.floor((budget - tokens) / item.tokensPerRow), maxRows - rows);
      if (room <= 0 && part.length) {
        parts.push(part);
        part = [];
        tokens = rows = 0;
        continue;
      }
      const count = Math.min(Math.max(room, 1), item.rows - from);
      part.push({ request: item.request, from, count });
      tokens += count * item.tokensPerRow;
      rows += count;
      from += count;
    }
  }
  if (part.length) parts.push(part);
  return parts;
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
  readonly rowBudget: number;
  /** Bumped by setValueVectors: prompt contexts built on older weights refuse to run. */
  private weightsVersion = 0;

  constructor(
    private readonly network: Network<C>,
    config: ModelConfig,
    readonly tokenizer: TextTokenizer,
    readonly dir: string,
    readonly backend: BackendName,
    budget: number = rowBudget(backend),
  ) {
    this.rowBudget = checkRowBudget(budget);
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
      const size = rowsWithin(this, 2 * this.rowBudget, s.seqs[0].length);
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
    const size = rowsWithin(this, 2 * this.rowBudget, seqs[0].length);
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
    return new CachedPrompt(this, this.network, this.network.prepare(seq, pos), [...ids], pos, () => this.weightsVersion);
  }

  async patchedGradients(requests: readonly PatchedGradientRequest[]): Promise<PatchedGradient[]> {
    const contexts = requests.map((r) => {
      if (!(r.context instanceof CachedPrompt) || !r.context.runsOn(this.network)) throw badInput("a prompt context prepared by another model");
      const ctx = r.context as CachedPrompt<C>;
      ctx.check();
      checkLayer(this, r.layer);
      checkRows(this, r.rows);
      checkToken(this, r.targetId);
      return ctx;
    });
    // one group per (prompt, target) in order of first appearance, its requests sorted by layer:
    // a group's consecutive segments run as one staircase pass (Network.logitsFromPatches)
    const groupOf = new Map<string, number>();
    const keys = requests.map((r, i) => {
      const key = `${contexts.indexOf(contexts[i])}:${r.targetId}`;
      if (!groupOf.has(key)) groupOf.set(key, groupOf.size);
      return groupOf.get(key)!;
    });
    const order = requests.map((_, i) => i).sort((a, b) => keys[a] - keys[b] || requests[a].layer - requests[b].layer || a - b);
    const parts = packRows(this, order.map((i) => ({ request: i, rows: requests[i].rows.length, tokensPerRow: contexts[i].tokensPerRow })), this.rowBudget);
    const F = this.ffnWidth;
    // per part one read-back of [rows, 1 + F]: P(target) then its gradient
    const data = await pipelined(parts, (part) =>
      tf.tidy(() => {
        const flat = new Float32Array(part.reduce((n, seg) => n + seg.count, 0) * F);
        let offset = 0;
        for (const seg of part) for (const row of requests[seg.request].rows.slice(seg.from, seg.from + seg.count)) flat.set(row, (offset++) * F);
        const f = (z: tf.Tensor2D) => {
          const values: tf.Tensor1D[] = [];
          // one split, not a slice per segment: a slice's gradient is its dy padded with zeros to
          // all rows of the pass, so S segments cost S full-size gradients to add up (quadratic in
          // the pass; on wasm it made a 10-prompt demo-mgpt batch 2x slower than one at a time)
          const pieces = part.length === 1 ? [z] : (tf.split(z, part.map((seg) => seg.count), 0) as tf.Tensor2D[]);
          for (let g = 0; g < part.length; ) {
            const { request } = part[g];
            const patches: { layer: number; activation: tf.Tensor2D }[] = [];
            for (; g < part.length && keys[part[g].request] === keys[request]; g++) {
              patches.push({ layer: requests[part[g].request].layer, activation: pieces[g] });
            }
            values.push(targetProbability(this.network.logitsFromPatches(contexts[request].cache, patches), requests[request].targetId));
          }
          return values.length === 1 ? values[0] : tf.concat(values);
        };
        const rows = offset;
        // rows do not interact, so the gradient of Σ_b P_b gives every row its own gradient
        const { value, grad } = tf.valueAndGrad(f)(tf.tensor2d(flat, [rows, F]), tf.ones([rows]));
        return tf.concat([tf.reshape(value, [-1, 1]), grad], 1);
      }),
    );
    const out = requests.map((r) => ({ probs: new Float32Array(r.rows.length), grads: new Array<Float32Array>(r.rows.length) }));
    parts.forEach((part, p) => {
      let b = 0;
      for (const seg of part) {
        for (let j = 0; j < seg.count; j++, b++) {
          const row = data[p].subarray(b * (1 + F), (b + 1) * (1 + F));
          out[seg.request].probs[seg.from + j] = row[0];
          out[seg.request].grads[seg.from + j] = row.slice(1);
        }
      }
    });
    return out;
  }

  async outputGradients(ids: readonly number[], position: number | undefined, layers: readonly number[], targetId: number): Promise<Float32Array[]> {
    // no load(): nothing of the unpatched pass needs reading back
    const ctx = this.openPrompt(ids, position);
    try {
      return await ctx.outputGradients(layers, targetId);
    } finally {
      ctx.dispose();
    }
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
    /** The model that prepared it: its row budget, and patchedGradient goes through its patchedGradients. */
    private readonly model: LanguageModel,
    private readonly network: Network<C>,
    readonly cache: C,
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

  check(): void {
    if (this.disposed) throw badInput("this prompt context was disposed");
    if (this.currentVersion() !== this.version) throw badInput("the model's weights changed since prepare(): prepare the prompt again");
  }

  runsOn(network: Network<PromptCache>): boolean {
    return network === this.network;
  }

  /** Tokens one patched row costs: BERT recomputes the whole sequence above the hooked layer, GPT-2 one position. */
  get tokensPerRow(): number {
    return this.network.architecture === "masked" ? this.cache.length : 1;
  }

  /** Rows per patched forward pass. */
  private rowsPerPass(): number {
    return rowsWithin(this.network, 2 * this.model.rowBudget, this.tokensPerRow);
  }

  patchedGradient(layer: number, rows: readonly Float32Array[], targetId: number): Promise<PatchedGradient> {
    return this.model.patchedGradients([{ context: this, layer, rows, targetId }]).then((r) => r[0]);
  }

  /** LanguageModel.outputGradients on this prompt. */
  async outputGradients(layers: readonly number[], targetId: number): Promise<Float32Array[]> {
    this.check();
    for (const layer of layers) checkLayer(this.network, layer);
    checkToken(this.network, targetId);
    if (!layers.length) return [];
    const { ffnWidth, hidden } = this.network;
    // one read-back of [layers, hidden]; log-softmax keeps the gradient exact when P is tiny
    const data = await readOnce(
      tf.tidy(() =>
        tf.concat(
          layers.map((layer) => {
            const act = tf.slice(this.cache.activations, [layer, 0], [1, ffnWidth]) as tf.Tensor2D;
            const logProb = (shift: tf.Tensor) =>
              tf.sum(tf.slice(tf.logSoftmax(this.network.logitsFromActivation(this.cache, layer, act, undefined, shift as tf.Tensor2D)), [0, targetId], [1, 1]));
            return tf.grad(logProb)(tf.zeros([1, hidden])) as tf.Tensor2D;
          }),
          0,
        ),
      ),
    );
    return splitRows(data, layers.length);
  }

  async patchedProbabilities(layer: number, rows: readonly Float32Array[], targetIds?: readonly number[]): Promise<Float32Array[]> {
    this.check();
    checkLayer(this.network, layer);
    checkRows(this.network, rows);
    targetIds?.forEach((id) => checkToken(this.network, id));
    const parts = chunks(rows, this.rowsPerPass());
    const data = await pipelined(parts, (part) =>
      tf.tidy(() => probabilitiesTensor(this.network, this.network.logitsFromActivation(this.cache, layer, rowsTensor(this.network, part)), targetIds)),
    );
    return parts.flatMap((part, p) => splitRows(data[p], part.length));
  }

  async staticScores(targetId: number, layers?: readonly number[]): Promise<Float32Array[]> {
    this.check();
    checkToken(this.network, targetId);
    const { nLayers, ffnWidth, vocabSize } = this.network;
    const wanted = layers ?? Array.from({ length: nLayers }, (_, l) => l);
    wanted.forEach((l) => checkLayer(this.network, l));
    // each unit costs one row of logits over the vocabulary: ~16 MB of logits per part
    const size = Math.max(1, Math.min(ffnWidth, Math.floor(2 ** 22 / vocabSize)));
    const parts = wanted.flatMap((layer) => chunks(Array.from({ length: ffnWidth }, (_, i) => i), size).map((units) => ({ layer, units })));
    const target = tf.tensor1d([targetId], "int32");
    const data = await pipelined(parts, ({ layer, units }) =>
      tf.tidy(() => {
        const { residual, coefficients, readout } = this.network.ffnReadout(this.cache, layer);
        const m = tf.reshape(tf.slice(coefficients, [0, units[0]], [1, units.length]), [units.length, 1]);
        const z = tf.add(residual, tf.mul(m, this.network.valueProjection(layer).rows(units))) as tf.Tensor2D;
        const logp = (x: tf.Tensor2D) => tf.reshape(tf.gather(tf.logSoftmax(readout(x)), target, 1), [-1]);
        return tf.sub(logp(z), logp(residual));
      }),
    ).finally(() => target.dispose());
    const out = Array.from({ length: nLayers }, () => new Float32Array(ffnWidth));
    parts.forEach(({ layer, units }, p) => out[layer].set(data[p], units[0]));
    return out;
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
    const parts: number[][] = chunks(scaled, this.rowsPerPass());
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
