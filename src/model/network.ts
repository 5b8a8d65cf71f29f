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
   * Differentiable with respect to `activation`. Layers below `layer` come from the cache.
   */
  logitsFromActivation(cache: C, layer: number, activation: tf.Tensor2D, scales?: LayerScales): tf.Tensor2D;

  /** The FFN output projection of a layer; its rows ([ffnWidth, hidden] layout) are the value vectors. */
  valueProjection(layer: number): Dense;

  /** Input embedding row of a token [1, hidden] (GPT-2: wte, not the position table). */
  wordEmbedding(tokenId: number): tf.Tensor2D;

  /** Rows of `vectors` [B, hidden] through the output embedding alone (no norm, head or bias): [B, vocabSize]. */
  outputEmbedding(vectors: tf.Tensor2D): tf.Tensor2D;

  dispose(): void;
}
