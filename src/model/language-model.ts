// The model interface the attribution engine (AMIG, DKN, editing) programs against.
// Everything crosses this border as plain numbers and Float32Arrays: no tensors, no backend types.
// Every call that reads tensors is asynchronous and reads back once per dispatched batch, so the
// same interface serves backends that can only read back asynchronously (a GPU).
import type { BackendName } from "./backend.ts";
import type { TextTokenizer } from "./tokenizer.ts";

/** masked: BERT-style MLM read at the [MASK] position; causal: GPT-2-style next-token LM read at the last position. */
export type Architecture = "masked" | "causal";

/** A knowledge neuron: FFN unit `unit` of layer `layer` (ALGORITHMS.md §1.2). */
export type Neuron = readonly [layer: number, unit: number];

/** Multiply these neurons' activation at the target position by `factor` (0 suppresses, 2 enhances). */
export interface NeuronScale {
  neurons: readonly Neuron[];
  factor: number;
}

export interface ProbabilityOptions {
  /** Default: `targetPosition(ids)`. Causal models ignore tokens after it. */
  position?: number;
  scale?: NeuronScale;
}

export interface ProbabilityRequest extends ProbabilityOptions {
  ids: readonly number[];
}

export interface PatchedGradient {
  /** P(target) with row b patched in, one value per row. */
  probs: Float32Array;
  /** dP(target)/d row_b, one Float32Array(ffnWidth) per row. */
  grads: Float32Array[];
}

/** One patched-gradient problem of a batch: `rows` patched into `layer` of a prepared prompt. */
export interface PatchedGradientRequest {
  context: PromptContext;
  layer: number;
  rows: readonly Float32Array[];
  targetId: number;
}

/**
 * One prompt, run once; patched and scaled passes reuse its cached layers (everything below the
 * hooked layer; for causal models also the keys and values of the earlier positions).
 * Holds backend memory until `dispose()`. Invalid after `setValueVectors`. Its distribution and
 * activations were read back by `prepare`; the passes return promises.
 */
export interface PromptContext {
  readonly ids: readonly number[];
  readonly position: number;
  /** Unpatched distribution over the vocabulary at the position. */
  readonly probabilities: Float32Array;
  /** Unpatched activation at the position, one Float32Array(ffnWidth) per layer. */
  readonly activations: readonly Float32Array[];
  /**
   * Replaces layer `layer`'s activation at the position by each row (BERT: post-GELU value;
   * GPT-2: pre-GELU c_fc output) and returns P(targetId) and its gradient for every row.
   */
  patchedGradient(layer: number, rows: readonly Float32Array[], targetId: number): Promise<PatchedGradient>;
  /** Same patch without gradients: per row, the full distribution or just `targetIds`. */
  patchedProbabilities(layer: number, rows: readonly Float32Array[], targetIds?: readonly number[]): Promise<Float32Array[]>;
  /**
   * One batched evaluation of many neuron sets, each scaled by `factor` at the position.
   * Per set: the full distribution, or the probabilities of `targetIds` in that order.
   */
  scaledProbabilities(scaleSets: ReadonlyArray<readonly Neuron[]>, factor: number, targetIds?: readonly number[]): Promise<Float32Array[]>;
  /**
   * Static log-probability attribution (ALGORITHMS.md §13.1), no gradients: per layer (all, or
   * `layers`; zeros elsewhere), log p(target | h + m_i·v_i) − log p(target | h) for every unit i,
   * read through the model's own head with the LayerNorm statistics of the real pass held fixed.
   */
  staticScores(targetId: number, layers?: readonly number[]): Promise<Float32Array[]>;
  dispose(): void;
}

export interface ModelInfo {
  readonly architecture: Architecture;
  readonly modelType: "bert" | "gpt2";
  readonly nLayers: number;
  readonly hidden: number;
  readonly ffnWidth: number;
  readonly vocabSize: number;
  readonly maxPositions: number;
  /** The checkpoint folder it was loaded from. */
  readonly dir: string;
  readonly backend: BackendName;
}

export interface LanguageModel extends ModelInfo {
  readonly tokenizer: TextTokenizer;

  /** First [MASK] index (masked; throws if none) or ids.length - 1 (causal). */
  targetPosition(ids: readonly number[]): number;

  /** Distribution over the vocabulary at the position, optionally with neurons scaled. */
  probabilities(ids: readonly number[], options?: ProbabilityOptions): Promise<Float32Array>;

  /**
   * Many requests, batched where shapes allow (same ids share the cached prompt pass; same length
   * and position share a batched forward). Per request: the full distribution or `targetIds`.
   */
  probabilitiesBatch(requests: readonly ProbabilityRequest[], targetIds?: readonly number[]): Promise<Float32Array[]>;

  /** `prepare(ids, position).scaledProbabilities(...)` in one call (DKN: ~200 suppression sets). */
  probabilitiesForScaleSets(
    ids: readonly number[],
    position: number,
    scaleSets: ReadonlyArray<readonly Neuron[]>,
    factor: number,
    targetIds?: readonly number[],
  ): Promise<Float32Array[]>;

  /** Activation of every layer at the position: nLayers × Float32Array(ffnWidth). */
  activations(ids: readonly number[], position?: number): Promise<Float32Array[]>;

  /**
   * Activations at one position for many inputs of the same length (AMIG's blanked copies of a
   * prompt), in one batched pass. result[i][k] is input i at layer layers[k] (default: all layers).
   */
  activationsBatch(idsList: ReadonlyArray<readonly number[]>, position: number, layers?: readonly number[]): Promise<Float32Array[][]>;

  /**
   * Gradient of log P(targetId) at the position with respect to each listed layer's FFN output
   * there (what the layer adds to the residual stream; BERT: before the output LayerNorm), one
   * Float32Array(hidden) per layer: the direction in which a value vector, scaled by its
   * activation, raises the target through the model's own upper layers and head.
   */
  outputGradients(ids: readonly number[], position: number | undefined, layers: readonly number[], targetId: number): Promise<Float32Array[]>;

  /** Runs the prompt once and keeps what patched passes reuse. Call dispose() when done. */
  prepare(ids: readonly number[], position?: number): Promise<PromptContext>;

  /**
   * Tokens per batched forward+backward pass (forward-only passes take twice as many): the bound
   * on the memory one pass holds. The numbers do not depend on it.
   */
  readonly rowBudget: number;

  /**
   * `patchedGradient` of many (prompt, layer) requests at once: their rows are packed into passes
   * of at most `rowBudget` tokens across layers and prompts, each pass one dispatch and one
   * read-back, dispatched before the previous pass is read. Results in the order of `requests`;
   * the contexts must come from this model's `prepare`.
   */
  patchedGradients(requests: readonly PatchedGradientRequest[]): Promise<PatchedGradient[]>;

  /** Value vectors (ALGORITHMS.md §1.3), Float32Array(hidden) each, in the order asked. */
  getValueVectors(neurons: readonly Neuron[]): Promise<Float32Array[]>;
  /**
   * Overwrites value vectors; writing back what getValueVectors returned restores the weights bit
   * for bit. Synchronous: the new weights are built on the device, nothing is read back.
   */
  setValueVectors(neurons: readonly Neuron[], vectors: readonly Float32Array[]): void;
  /** Input embedding row of a token (GPT-2: wte), Float32Array(hidden). */
  wordEmbedding(tokenId: number): Promise<Float32Array>;
  /** A hidden-size vector (e.g. a value vector) through the output embedding: Float32Array(vocabSize) of logits. */
  unembed(vector: Float32Array): Promise<Float32Array>;

  dispose(): void;
}
