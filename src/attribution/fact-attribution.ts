// Attribution of one fact in one language: builds the prompt(s), runs one attribution step per
// object piece and sums them (ALGORITHMS.md §2.4–2.6, §3.5), then reports what the model predicts.
//   clean  (default): masked LM gets k masks for a k-piece object, piece s attributed at mask s;
//                     causal LM is teacher-forced, step s reads the last position of
//                     prompt ⊕ y_1..y_{s-1}; x and the baseline are recomputed per step.
//   compat: the reference code, quirks included: gold lower-cased and encoded with the default
//           special tokens (BERT: [CLS] … [SEP] count as pieces), one [MASK], the ORIGINAL
//           prompt's argmax appended as text once more at every step, and the multiplier x taken
//           from the original prompt.
import { type AttributionOptions, type AttributionStep, type StepResult, attributeSteps, sumScores } from "./attribute.ts";
import type { FactModel, Neuron } from "./model-port.ts";
import { type PromptFact, PromptError, buildPrompt, causalPromptText, maskedPromptText } from "./prompts.ts";

export const TARGET_MODES = ["clean", "compat"] as const;
export type TargetMode = (typeof TARGET_MODES)[number];

export interface FactAttribution {
  prompt: string;
  inputIds: number[];
  /** Position read for each piece (masked: mask index; causal: last index of the step input). */
  positions: number[];
  targetIds: number[];
  /** Unpatched P(piece) at each step; goldProb is their product. */
  targetProbs: number[];
  goldProb: number;
  /** Argmax token at each step (causal: teacher-forced), its probability and decoded text. */
  predictedIds: number[];
  predictedProbs: number[];
  predictedText: string;
  scores: Float32Array[];
}

export interface PlannedStep extends AttributionStep {
  ids: number[];
}

function argmax(p: Float32Array): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

/** Gold probability (product over pieces) with each neuron set suppressed, batched per step. */
export async function suppressedProbabilities(model: FactModel, plan: FactPlan, sets: Neuron[][]): Promise<number[]> {
  const out = sets.map(() => 1);
  for (const step of plan.steps) {
    const probs = await model.probabilitiesForScaleSets(step.ids, step.position, sets, 0, [step.targetId]);
    probs.forEach((p, i) => (out[i] *= p[0]));
  }
  return out;
}

/**
 * Clean-mode steps for a tokenized prompt: a masked prompt holds one mask per piece (piece s at
 * mask s, the other masks left as masks); a causal prompt is extended by the gold pieces before s.
 */
export function cleanSteps(architecture: "masked" | "causal", blankId: number, inputIds: readonly number[], targetIds: readonly number[]): PlannedStep[] {
  if (architecture === "masked") {
    const masks = inputIds.flatMap((id, i) => (id === blankId ? [i] : []));
    if (masks.length !== targetIds.length) throw new PromptError(`${targetIds.length} object piece(s) need as many mask tokens; the prompt has ${masks.length}`);
    return targetIds.map((targetId, s) => ({ ids: [...inputIds], position: masks[s], targetId }));
  }
  return targetIds.map((targetId, s) => {
    const ids = [...inputIds, ...targetIds.slice(0, s)];
    return { ids, position: ids.length - 1, targetId };
  });
}

function cleanPlan(model: FactModel, fact: PromptFact): FactPlan {
  const prompt = buildPrompt(model.tokenizer, fact, model.architecture);
  return { prompt: prompt.text, inputIds: prompt.inputIds, steps: cleanSteps(model.architecture, model.blankId, prompt.inputIds, prompt.targetIds) };
}

async function compatPlan(model: FactModel, fact: PromptFact): Promise<FactPlan> {
  const tok = model.tokenizer;
  const targetIds = tok.encode(fact.object.toLowerCase());
  const text =
    model.architecture === "masked"
      ? maskedPromptText(fact.template, fact.subject, tok.maskToken ?? "[MASK]", 1, fact.language)
      : causalPromptText(fact.template, fact.subject);
  const positionOf = (ids: number[]) => (model.architecture === "masked" ? ids.indexOf(model.blankId) : ids.length - 1);
  const ids0 = tok.encode(text);
  const ctx0 = await model.prepare(ids0, positionOf(ids0));
  const appended = tok.decode([argmax(ctx0.probabilities)]);
  const x0 = [...ctx0.activations];
  ctx0.dispose();
  const steps = targetIds.map((targetId, s) => {
    const ids = tok.encode(text + appended.repeat(s));
    return { ids, position: positionOf(ids), targetId, multiplier: x0 };
  });
  return { prompt: text, inputIds: ids0, steps };
}

export interface FactPlan {
  prompt: string;
  inputIds: number[];
  /** One attribution / probability step per object piece. */
  steps: PlannedStep[];
}

/** The prompt and per-piece steps of a fact; the same steps serve attribution, DKN and editing. */
/** Clean plans need no model pass; compat plans run the original prompt once (hence the promise). */
export async function planFact(model: FactModel, fact: PromptFact, targetMode: TargetMode = "clean"): Promise<FactPlan> {
  return targetMode === "clean" ? cleanPlan(model, fact) : compatPlan(model, fact);
}

export type FactAttributionOptions = AttributionOptions & { targetMode?: TargetMode };

export async function attributeFact(model: FactModel, fact: PromptFact, options: FactAttributionOptions): Promise<FactAttribution & { plan: FactPlan }> {
  return (await attributeFacts(model, [fact], options))[0];
}

/**
 * Attributes many facts (prompts) in one batch: the steps of every fact go to attributeSteps
 * together, so the model packs their rows across prompts and layers. The same numbers as one
 * fact at a time.
 */
export async function attributeFacts(
  model: FactModel,
  facts: readonly PromptFact[],
  options: FactAttributionOptions,
): Promise<(FactAttribution & { plan: FactPlan })[]> {
  const plans: FactPlan[] = [];
  for (const fact of facts) plans.push(await planFact(model, fact, options.targetMode));
  return attributePlans(model, plans, options);
}

/** attributeFacts for facts already planned (the indexer plans each job alone: a bad prompt fails only its job). */
export async function attributePlans(model: FactModel, plans: readonly FactPlan[], options: AttributionOptions): Promise<(FactAttribution & { plan: FactPlan })[]> {
  const all = await attributeSteps(model, plans.flatMap((p) => p.steps), options);
  let next = 0;
  return plans.map((plan) => {
    const results: StepResult[] = all.slice(next, (next += plan.steps.length));
    const predictedIds = results.map((r) => r.predictedId);
    const targetProbs = results.map((r) => r.targetProb);
    return {
      prompt: plan.prompt,
      inputIds: plan.inputIds,
      positions: plan.steps.map((s) => s.position),
      targetIds: plan.steps.map((s) => s.targetId),
      targetProbs,
      goldProb: targetProbs.reduce((a, b) => a * b, 1),
      predictedIds,
      predictedProbs: results.map((r) => r.predictedProb),
      predictedText: model.tokenizer.decode(predictedIds),
      scores: sumScores(results.map((r) => r.scores)),
      plan,
    };
  });
}
