// What scaling neuron sets does to facts' gold answers, for many (fact, neurons) cases in few
// batched passes: the evaluations (§5.3, §8, §13.2) ask for thousands of them, and on small models
// a forward pass costs little next to the fixed cost of a call, so they are asked all at once.
import { relativeChange } from "../attribution/editing.ts";
import { type FactPlan, planFact } from "../attribution/fact-attribution.ts";
import type { FactModel, Neuron, ProbabilityRequest } from "../attribution/model-port.ts";
import type { PromptFact } from "../attribution/prompts.ts";

export interface ChangeCase {
  related: PromptFact;
  unrelated: PromptFact;
  /** Scaled ×0 and ×2 in both facts. */
  neurons: readonly Neuron[];
}

/** Cases measured together (bounds the memory of one batch). */
const CASES_PER_BATCH = 32;

/** What scaling one neuron set ×0 and ×2 does to one fact's gold answer (§13.2). */
export interface ScaleEffect {
  /** Gold probability, nothing scaled. */
  pBase: number;
  suppressRel: number;
  /** log P_after − log P_before (probabilities floored at PROBABILITY_FLOOR). */
  suppressLogp: number;
  /** The greedy answer (argmax at every piece's step) changed. */
  suppressFlip: boolean;
  enhanceRel: number;
  enhanceLogp: number;
  enhanceFlip: boolean;
}

/** float32 softmax underflows to 0; logs are taken of max(p, floor) so they stay finite. */
export const PROBABILITY_FLOOR = 1e-30;

export const logChange = (before: number, after: number) => Math.log(Math.max(after, PROBABILITY_FLOOR)) - Math.log(Math.max(before, PROBABILITY_FLOOR));

function argmax(p: Float32Array): number {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
  return best;
}

/**
 * ScaleEffect of every (fact, neurons) case. Full distributions are read (the answer's argmax is
 * needed), each fact's unscaled pass once per batch; a batch of cases at a time bounds memory.
 */
export async function scaleEffects(
  model: FactModel,
  cases: readonly { fact: PromptFact; neurons: readonly Neuron[] }[],
  onProgress?: (done: number, total: number) => void,
): Promise<ScaleEffect[]> {
  const out: ScaleEffect[] = [];
  const plans = new Map<string, FactPlan>();
  for (let start = 0; start < cases.length; start += CASES_PER_BATCH) {
    const batch = cases.slice(start, start + CASES_PER_BATCH);
    const keyed = [];
    for (const c of batch) {
      const key = JSON.stringify([c.fact.template, c.fact.subject, c.fact.object, c.fact.language]);
      let plan = plans.get(key);
      if (!plan) plans.set(key, (plan = await planFact(model, c.fact)));
      keyed.push({ key, plan, neurons: c.neurons });
    }
    // request layout: one unscaled block per distinct fact, then ×0 and ×2 blocks per case
    const requests: ProbabilityRequest[] = [];
    const baseAt = new Map<string, number>();
    for (const k of keyed) {
      if (baseAt.has(k.key)) continue;
      baseAt.set(k.key, requests.length);
      requests.push(...k.plan.steps.map((s) => ({ ids: s.ids, position: s.position })));
    }
    const scaledAt = keyed.map((k) => {
      const at = requests.length;
      for (const factor of [0, 2]) requests.push(...k.plan.steps.map((s) => ({ ids: s.ids, position: s.position, scale: { neurons: k.neurons, factor } })));
      return at;
    });
    const probs = await model.probabilitiesBatch(requests);
    const read = (plan: FactPlan, at: number) => ({
      p: plan.steps.reduce((p, s, i) => p * probs[at + i][s.targetId], 1),
      answer: plan.steps.map((_, i) => argmax(probs[at + i])).join(","),
    });
    keyed.forEach((k, j) => {
      const base = read(k.plan, baseAt.get(k.key)!);
      const sup = read(k.plan, scaledAt[j]);
      const enh = read(k.plan, scaledAt[j] + k.plan.steps.length);
      out.push({
        pBase: base.p,
        suppressRel: relativeChange(base.p, sup.p),
        suppressLogp: logChange(base.p, sup.p),
        suppressFlip: sup.answer !== base.answer,
        enhanceRel: relativeChange(base.p, enh.p),
        enhanceLogp: logChange(base.p, enh.p),
        enhanceFlip: enh.answer !== base.answer,
      });
    });
    onProgress?.(out.length, cases.length);
  }
  return out;
}
