// Gold probabilities of many (fact prompt, neuron scale) queries in few batched passes: the
// evaluations (§5.3, §8) ask for thousands of them, and on small models a forward pass costs
// little next to the fixed cost of a call, so they are asked all at once.
import { relativeChange } from "../attribution/editing.ts";
import { type FactPlan, planFact } from "../attribution/fact-attribution.ts";
import type { FactModel, Neuron } from "../attribution/model-port.ts";
import type { PromptFact } from "../attribution/prompts.ts";

export interface GoldQuery {
  fact: PromptFact;
  /** Neurons scaled by `factor` at the object position (none: the unedited model). */
  neurons: readonly Neuron[];
  factor: number;
}

/** P(gold object) of each query: the product over its pieces, in the clean mode. */
export function goldProbabilities(model: FactModel, queries: readonly GoldQuery[]): number[] {
  const plans = new Map<string, FactPlan>();
  const planOf = (f: PromptFact) => {
    const k = JSON.stringify([f.template, f.subject, f.object, f.language]);
    let p = plans.get(k);
    if (!p) plans.set(k, (p = planFact(model, f)));
    return p;
  };
  const requests = queries.flatMap((q) =>
    planOf(q.fact).steps.map((s) => ({ ids: s.ids, position: s.position, scale: q.neurons.length ? { neurons: q.neurons, factor: q.factor } : undefined })),
  );
  const targets = [...new Set(queries.flatMap((q) => planOf(q.fact).steps.map((s) => s.targetId)))];
  const column = new Map(targets.map((t, i) => [t, i]));
  const probs = model.probabilitiesBatch(requests, targets);
  let r = 0;
  return queries.map((q) => planOf(q.fact).steps.reduce((p, s) => p * probs[r++][column.get(s.targetId)!], 1));
}

/** Facts handed to goldProbabilities together (bounds the memory of one batch). */
export const FACTS_PER_BATCH = 32;

/** The four Δ of §8 for one neuron set, applied to its own fact and to an unrelated one. */
export interface FourChanges {
  suppressRelated: number;
  suppressUnrelated: number;
  enhanceRelated: number;
  enhanceUnrelated: number;
}

/** The six queries behind FourChanges, in the order fourChanges reads them. */
export function fourChangeQueries(related: PromptFact, unrelated: PromptFact, neurons: readonly Neuron[]): GoldQuery[] {
  return [related, unrelated].flatMap((fact) => [
    { fact, neurons: [], factor: 1 },
    { fact, neurons, factor: 0 },
    { fact, neurons, factor: 2 },
  ]);
}

export function fourChanges(p: readonly number[]): FourChanges {
  const [rBase, rSup, rEnh, uBase, uSup, uEnh] = p;
  return {
    suppressRelated: relativeChange(rBase, rSup),
    suppressUnrelated: relativeChange(uBase, uSup),
    enhanceRelated: relativeChange(rBase, rEnh),
    enhanceUnrelated: relativeChange(uBase, uEnh),
  };
}
