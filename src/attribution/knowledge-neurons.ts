// The science over the model port as one short list of verbs, in the spirit of EleutherAI's
// `KnowledgeNeurons` class: the indexer, the API's model host and the CLI call these instead of
// composing the steps themselves.
//
//   scores(fact)            AMIG/IG attribution of every usable template, summed over object pieces
//   knowledgeNeurons(fact)  scores, then the selection rule, shared across templates (§4)
//   measure(probes, scale?) gold probability and greedy answer (answer.ts) of fact prompts
//   answers(fact)           does the model answer the object? (the one rule of answer.ts)
//   suppress / enhance      activation edits: ×0 / ×2 at the target position (§5.2)
//   erase / update          weight edits: value vectors zeroed / moved to the new object (§5.5);
//                           updateTarget reads y_old, y_new and the directions UPDATE moves along
//   reapply / revert        a stored weight edit written again from its saved originals / undone,
//                           bit for bit
import type { LanguageModel, Neuron, NeuronScale } from "../model/language-model.ts";
import { answersObject, decodeGreedy } from "./answer.ts";
import {
  type ActiveActivationEdit, type FactMeasurement, type FactProbe, type UpdateRule, type WeightEditParams, factProbe, measureFacts, newObjectTokenId,
  updateDirections, weightEditVectors,
} from "./editing.ts";
import { type FactAttribution, type FactAttributionOptions, type FactPlan, type TargetMode, attributePlans, planFact } from "./fact-attribution.ts";
import { type FactModel, attributionModel } from "./model-port.ts";
import { type PromptFact, PromptError, usableTemplates } from "./prompts.ts";
import { type NeuronSelection, type ScoredNeuron, factKnowledgeNeurons } from "./selection.ts";

/** A fact with all its templates (the indexer attributes every one the model can use). */
export interface TemplatedFact {
  relationId: string;
  templates: readonly string[];
  subject: string;
  object: string;
  language: string;
}

/** What attributeFact takes: method, steps, target mode (clean or compat), … */
export type ScoreOptions = FactAttributionOptions;

/** A weight edit as written: what `revert` writes back and what the database keeps. */
export interface WeightEdit {
  neurons: Neuron[];
  original: Float32Array[];
  written: Float32Array[];
}

/** What an UPDATE writes towards, read at the edited fact prompt: WeightEditParams plus y_old's text. */
export interface UpdateTarget extends WeightEditParams {
  oldTokenId: number;
  /** The model's answer at the prompt (what y_old is the first piece of). */
  oldAnswer: string;
  newTokenId: number;
}

/** Why UPDATE has nothing to write at this prompt: the new object encodes to no token, or is what the model already answers. */
export type UpdateRefusal = { refused: "no-token" } | { refused: "already-answers"; oldTokenId: number; oldAnswer: string };

/**
 * The plans of every template of the fact's relation that the model can use (causal models: [Y]
 * last; a fact with none fails with the policy's reason).
 */
export async function planTemplates(port: FactModel, fact: TemplatedFact, targetMode?: TargetMode): Promise<FactPlan[]> {
  const templates = usableTemplates(fact.templates, port.architecture);
  if (!templates.length) {
    throw new PromptError(
      `no template of ${fact.relationId} in ${fact.language} ends with the object slot [Y] (${fact.templates.length} skipped): ` +
        `causal models skip templates whose object slot is not final`,
    );
  }
  const plans: FactPlan[] = [];
  for (const template of templates) plans.push(await planFact(port, { subject: fact.subject, object: fact.object, language: fact.language, template }, targetMode));
  return plans;
}

/** The grid a run stores and heatmaps show: the single template's scores, or the mean over templates. */
export function meanScores(attributions: readonly FactAttribution[]): Float32Array[] {
  return attributions.length === 1
    ? attributions[0].scores
    : attributions[0].scores.map((row, l) => row.map((_, i) => attributions.reduce((s, a) => s + a.scores[l][i], 0) / attributions.length));
}

/**
 * Attribution of a fact with every template the model can use, all prompts in one batch: per
 * template the scores summed over object pieces, and `scores`, their mean (meanScores).
 */
export async function scores(port: FactModel, fact: TemplatedFact, options: ScoreOptions) {
  const attributions = await attributePlans(port, await planTemplates(port, fact, options.targetMode), options);
  return { attributions, scores: meanScores(attributions) };
}

/** The fact's knowledge neurons: each template's selection, shared across templates (§4.2). */
export async function knowledgeNeurons(port: FactModel, fact: TemplatedFact, options: ScoreOptions & { selection: NeuronSelection }) {
  const attributed = await scores(port, fact, options);
  const neurons: ScoredNeuron[] = factKnowledgeNeurons(attributed.attributions.map((a) => a.scores), options.selection);
  return { ...attributed, neurons };
}

export class KnowledgeNeurons {
  /** The attribution port of the model (what attribution and fact-checking take). */
  readonly port: FactModel;

  constructor(readonly model: LanguageModel) {
    this.port = attributionModel(model);
  }

  /** See the module function `scores`. */
  scores(fact: TemplatedFact, options: ScoreOptions) {
    return scores(this.port, fact, options);
  }

  /** See the module function `knowledgeNeurons`. */
  knowledgeNeurons(fact: TemplatedFact, options: ScoreOptions & { selection: NeuronSelection }) {
    return knowledgeNeurons(this.port, fact, options);
  }

  /** The clean-mode probe of a fact prompt, or why it cannot be measured. */
  probe(fact: PromptFact): FactProbe | { error: string } {
    return factProbe(this.model, fact);
  }

  /** Gold probability and greedy answer of each probe, under an activation scale if given (combineActivationEdits). */
  measure(probes: readonly FactProbe[], scale?: NeuronScale): Promise<FactMeasurement[]> {
    return measureFacts(this.model, probes, scale);
  }

  /** Whether the model's greedy answer to the fact prompt is its object. */
  async answers(fact: PromptFact): Promise<boolean> {
    const probe = this.probe(fact);
    if ("error" in probe) throw new PromptError(probe.error);
    const [{ answerIds }] = await decodeGreedy(this.model, [probe]);
    return answersObject(this.model.tokenizer, fact.language, answerIds, probe.targetIds);
  }

  /** SUPPRESS: the neurons' activation ×0 at the target position of every pass it is applied to. */
  suppress(neurons: readonly Neuron[]): ActiveActivationEdit {
    return { kind: "suppress", neurons };
  }

  /** ENHANCE: the neurons' activation ×2. */
  enhance(neurons: readonly Neuron[]): ActiveActivationEdit {
    return { kind: "enhance", neurons };
  }

  /** ERASE: the neurons' value vectors set to zero. */
  erase(neurons: readonly Neuron[]): Promise<WeightEdit> {
    return this.writeWeights("erase", neurons, {});
  }

  /** UPDATE: the value vectors moved from the old object's token to the new one's (§5.5; params: rule, λ, signs). */
  update(neurons: readonly Neuron[], params: WeightEditParams): Promise<WeightEdit> {
    return this.writeWeights("update", neurons, params);
  }

  /**
   * UPDATE's target at the edited fact prompt (§5.5): y_old, the first piece of the model's answer
   * there (`measured`: the probe as measured before the edit, active activation edits included),
   * y_new, the first piece of `newObject` encoded as the fact's gold would be in `language`, and the
   * directions read at the prompt's first object position on the model's weights (the activation
   * signs; for the gradient rule the unit gradients of log P(y_new)). The result is what `update`
   * takes and what a stored edit keeps, so re-applying it writes the same bits.
   */
  async updateTarget(
    probe: FactProbe,
    measured: FactMeasurement,
    newObject: string,
    language: string,
    neurons: readonly Neuron[],
    rule: UpdateRule = "embedding",
  ): Promise<UpdateTarget | UpdateRefusal> {
    const oldTokenId = measured.answerIds[0];
    const oldAnswer = measured.answer;
    const newTokenId = newObjectTokenId(this.model, newObject, language);
    if (newTokenId === undefined) return { refused: "no-token" };
    if (newTokenId === oldTokenId) return { refused: "already-answers", oldTokenId, oldAnswer };
    return { oldTokenId, oldAnswer, newTokenId, ...(await updateDirections(this.model, probe.steps[0], neurons, newTokenId, rule)) };
  }

  /** Re-applies a stored weight edit from its saved original vectors: the same bits are written. */
  reapply(kind: "erase" | "update", neurons: readonly Neuron[], params: WeightEditParams, original: readonly Float32Array[]): Promise<WeightEdit> {
    return this.writeWeights(kind, neurons, params, original);
  }

  /** Writes a weight edit's original value vectors back. */
  revert(edit: WeightEdit): void {
    this.model.setValueVectors(edit.neurons, edit.original);
  }

  private async writeWeights(kind: "erase" | "update", neurons: readonly Neuron[], params: WeightEditParams, saved?: readonly Float32Array[]): Promise<WeightEdit> {
    const original = saved ? saved.map((v) => v.slice()) : await this.model.getValueVectors(neurons);
    const written = await weightEditVectors(kind, original, params, (t) => this.model.wordEmbedding(t));
    this.model.setValueVectors(neurons, written);
    return { neurons: neurons.map((n) => [n[0], n[1]] as const), original, written };
  }
}
