// What an architecture (bert.ts, gpt2.ts) provides to the model runtime (transformer-model.ts).
// Tensors in, tensors out; the runtime owns batching, tidying and host conversion.
import type * as tf from "./tf.ts";
import type { Dense } from "./dense.ts";
import type { Architecture } from "./language-model.ts";

/**
 * Per layer, multipliers [B, ffnWidth] for the FFN activation at the target position (one row per
 * batch item), or undefined where the layer is left alone.
 */
export type LayerScales = ReadonlyArray<tf.Tensor2D | undefined>;

/** What one unpatched batch-1 pass over a prompt leaves behind for later patched passes. */
export interface PromptCache {
  readonly length: number;
  readonly position: number;
  /** [nLayers, ffnWidth]: the hookable activation of every layer at `position`. */
  readonly activations: tf.Tensor2D;
  /** [vocabSize]: logits at `position`. */
  readonly logits: tf.Tensor1D;
  dispose(): void;
}

export interface ForwardOptions {
  scales?: LayerScales;
  /** Stop after this layer (default: the last one). */
  lastLayer?: number;
  /** Compute the LM head at the position (default true; needs lastLayer = nLayers - 1). */
  logits?: boolean;
}

export interface ForwardResult {
  /** Per layer run (0..lastLayer), the hookable activation at `position` [B, ffnWidth], after scaling. */
  activations: tf.Tensor2D[];
  /** [B, vocabSize] logits at `position`; null when the pass stopped before the last layer. */
  logits: tf.Tensor2D | null;
}

/**
 * What the static log-probability attribution (ALGORITHMS.md §13.1) reads for one layer at the
 * prompt's position. Built inside the caller's tf.tidy; valid only there.
 */
export interface FfnReadout {
  /** h: the residual stream just before the layer's FFN output is added [1, hidden]. */
  residual: tf.Tensor2D;
  /** m: what multiplies each value vector (the post-activation value) [1, ffnWidth]. */
  coefficients: tf.Tensor2D;
  /** Logits [R, vocabSize] of residual states z [R, hidden] through the model's own head, with the
   * statistics of the LayerNorm in between fixed to those of the real pass (a linear map of z). */
  readout(z: tf.Tensor2D): tf.Tensor2D;
}

export interface Network<C extends PromptCache = PromptCache> {
  readonly architecture: Architecture;
  readonly nLayers: number;
  readonly hidden: number;
  readonly ffnWidth: number;
  readonly vocabSize: number;

  /**
   * Batched forward of sequences of equal length (causal callers pass them already cut after
   * `position`). Stops after `options.lastLayer` (default: all layers, then the LM head).
   */
  forward(ids: ReadonlyArray<readonly number[]>, position: number, options?: ForwardOptions): ForwardResult;

  /** Batch-1 pass that keeps what patched passes reuse (the layers below, keys and values, ...). */
  prepare(ids: readonly number[], position: number): C;

  /**
   * Logits [B, vocabSize] at the prompt's position when layer `layer`'s activation there is
   * replaced by row b of `activation` [B, ffnWidth] and layers above are optionally scaled.
   * Differentiable with respect to `activation` and `outputShift` ([B, hidden], added to the
   * layer's FFN output at the position; BERT: before the output LayerNorm). Layers below `layer`
   * come from the cache.
   */
  logitsFromActivation(cache: C, layer: number, activation: tf.Tensor2D, scales?: LayerScales, outputShift?: tf.Tensor2D): tf.Tensor2D;

  /** §13.1's view of layer `layer` at the cached prompt's position. */
  ffnReadout(cache: C, layer: number): FfnReadout;

  /**
   * Many patched passes over one prompt in one batch, rows patched at different layers: the rows
   * of `patches[k]` replace layer `patches[k].layer`'s activation ([B_k, ffnWidth]); logits come
   * back [ΣB_k, vocabSize] in the order of `patches`, which must be sorted by layer. A row joins the
   * batch at its own layer (below it, it would only recompute the cache), so every layer above the
   * lowest one runs once for all the rows that reached it: one large matmul instead of one per
   * layer. Row for row the same computation as logitsFromActivation; differentiable likewise.
   */
  logitsFromPatches(cache: C, patches: ReadonlyArray<{ layer: number; activation: tf.Tensor2D }>): tf.Tensor2D;

  /** The FFN output projection of a layer; its rows ([ffnWidth, hidden] layout) are the value vectors. */
  valueProjection(layer: number): Dense;

  /** Input embedding row of a token [1, hidden] (GPT-2: wte, not the position table). */
  wordEmbedding(tokenId: number): tf.Tensor2D;

  /** Rows of `vectors` [B, hidden] through the output embedding alone (no norm, head or bias): [B, vocabSize]. */
  outputEmbedding(vectors: tf.Tensor2D): tf.Tensor2D;

  dispose(): void;
}
