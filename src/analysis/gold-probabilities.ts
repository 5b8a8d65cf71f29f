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
export async function goldProbabilities(model: FactModel, queries: readonly GoldQuery[]): Promise<number[]> {
  const plans = new Map<string, FactPlan>();
  const planned: { plan: FactPlan; scale: { neurons: readonly Neuron[]; factor: number } | undefined }[] = [];
  for (const q of queries) {
    const k = JSON.stringify([q.fact.template, q.fact.subject, q.fact.object, q.fact.language]);
    let plan = plans.get(k);
    if (!plan) plans.set(k, (plan = await planFact(model, q.fact)));
    planned.push({ plan, scale: q.neurons.length ? { neurons: q.neurons, factor: q.factor } : undefined });
  }
  const requests = planned.flatMap(({ plan, scale }) => plan.steps.map((s) => ({ ids: s.ids, position: s.position, scale })));
  const targets = [...new Set(planned.flatMap(({ plan }) => plan.steps.map((s) => s.targetId)))];
  const column = new Map(targets.map((t, i) => [t, i]));
  const probs = await model.probabilitiesBatch(requests, targets);
  let r = 0;
  return planned.map(({ plan }) => plan.steps.reduce((p, s) => p * probs[r++][column.get(s.targetId)!], 1));
}

/** The four Δ of §8 for one neuron set, applied to its own fact and to an unrelated one. */
export interface FourChanges {
  suppressRelated: number;
  suppressUnrelated: number;
  enhanceRelated: number;
  enhanceUnrelated: number;
}

export interface ChangeCase {
  related: PromptFact;
  unrelated: PromptFact;
  /** Scaled ×0 and ×2 in both facts. */
  neurons: readonly Neuron[];
}

/** Cases measured together (bounds the memory of one batch). */
const CASES_PER_BATCH = 32;

/** FourChanges of every case: base, ×0 and ×2 passes of both facts, a batch of cases at a time. */
export async function measureChanges(
  model: FactModel,
  cases: readonly ChangeCase[],
  onProgress?: (done: number, total: number) => void,
): Promise<FourChanges[]> {
  const out: FourChanges[] = [];
  for (let start = 0; start < cases.length; start += CASES_PER_BATCH) {
    const batch = cases.slice(start, start + CASES_PER_BATCH);
    const queries = batch.flatMap(({ related, unrelated, neurons }) =>
      [related, unrelated].flatMap((fact) => [
        { fact, neurons: [], factor: 1 },
        { fact, neurons, factor: 0 },
        { fact, neurons, factor: 2 },
      ]),
    );
    const p = await goldProbabilities(model, queries);
    batch.forEach((_, k) => {
      const [rBase, rSup, rEnh, uBase, uSup, uEnh] = p.slice(6 * k, 6 * k + 6);
      out.push({
        suppressRelated: relativeChange(rBase, rSup),
        suppressUnrelated: relativeChange(uBase, uSup),
        enhanceRelated: relativeChange(rBase, rEnh),
        enhanceUnrelated: relativeChange(uBase, uEnh),
      });
    });
    onProgress?.(out.length, cases.length);
  }
  return out;
}
