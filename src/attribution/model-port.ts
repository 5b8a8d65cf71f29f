// What the attribution science needs from a language model: a narrow slice of the runtime's
// LanguageModel plus the AMIG blank token, so tests can substitute toy models with closed-form
// gradients.
import type { LanguageModel } from "../model/language-model.ts";
import type { MaskedPromptTokenizer } from "./prompts.ts";

export type { Architecture, Neuron, ProbabilityRequest, PromptContext } from "../model/language-model.ts";

export type AttributionModel = Pick<
  LanguageModel,
  "architecture" | "nLayers" | "ffnWidth" | "prepare" | "patchedGradients" | "activationsBatch" | "probabilitiesForScaleSets"
> & {
  /** The token that blanks an input position for the AMIG baseline: [MASK] (masked) or EOS (causal). */
  readonly blankId: number;
};

/** Fact-level work also builds prompts, reads predictions back as text and measures in batches. */
export type FactModel = AttributionModel &
  Pick<LanguageModel, "probabilitiesBatch"> & {
    readonly tokenizer: MaskedPromptTokenizer & { decode(ids: readonly number[]): string };
  };

export function attributionModel(lm: LanguageModel): FactModel {
  const blankId = lm.architecture === "masked" ? lm.tokenizer.maskId : lm.tokenizer.eosId;
  if (blankId === undefined) {
    throw new Error(`the tokenizer of ${lm.dir} has no ${lm.architecture === "masked" ? "mask" : "end-of-text"} token, which AMIG needs as its blank`);
  }
  return {
    architecture: lm.architecture,
    nLayers: lm.nLayers,
    ffnWidth: lm.ffnWidth,
    blankId,
    tokenizer: lm.tokenizer,
    prepare: (ids, position) => lm.prepare(ids, position),
    patchedGradients: (requests) => lm.patchedGradients(requests),
    activationsBatch: (inputs, position, layers) => lm.activationsBatch(inputs, position, layers),
    probabilitiesForScaleSets: (ids, position, sets, factor, targetIds) => lm.probabilitiesForScaleSets(ids, position, sets, factor, targetIds),
    probabilitiesBatch: (requests, targetIds) => lm.probabilitiesBatch(requests, targetIds),
  };
}
