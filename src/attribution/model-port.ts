// What the attribution science needs from a language model. src/model implements it; tests can
// implement it with toy models whose attributions are known in closed form.

export type Architecture = "masked" | "causal";
export type Neuron = readonly [layer: number, unit: number];

export interface PatchedGradient {
  /** P(target) with row b patched in at (layer, position). */
  probs: Float32Array;
  /** dP(target)/d row_b, one ffnWidth vector per row. */
  grads: Float32Array[];
}

/** Cached work for one (input, position): lower layers are computed once and reused. */
export interface PromptContext {
  /** FFN activation at the position, one ffnWidth vector per layer (unpatched run). */
  readonly activations: Float32Array[];
  patchedGradient(layer: number, rows: Float32Array[], targetId: number): PatchedGradient;
  dispose(): void;
}

export interface AttributionModel {
  readonly architecture: Architecture;
  readonly nLayers: number;
  readonly ffnWidth: number;
  /** The token that blanks an input position for the AMIG baseline: [MASK] or EOS. */
  readonly blankId: number;
  prepare(ids: readonly number[], position: number): PromptContext;
  /** Activations at `position` for many inputs of equal length: [input][layer] -> ffnWidth. */
  activationsBatch(inputs: readonly (readonly number[])[], position: number): Float32Array[][];
  /** Vocabulary distribution at `position`, optionally with FFN units scaled there (x0, x2). */
  probabilities(ids: readonly number[], position: number, scale?: { neurons: readonly Neuron[]; factor: number }): Float32Array;
}
