// Attribution of every FFN neuron for one target piece, and the sum over the pieces of an
// object (ALGORITHMS.md §3.3–3.6). Pure logic over AttributionModel.
import { type Method, combine, meanVectors, pathPoints, usesBlankBaseline } from "./integrated-gradients.ts";
import type { AttributionModel, PromptContext } from "./model-port.ts";

export interface AttributionOptions {
  method: Method;
  /** Riemann steps N (default 20; static ignores it). */
  steps: number;
  /** Restrict to these layers (fact-checking needs only the layers of its neuron set). */
  layers?: readonly number[];
}

/** One attribution problem: read the activation at `position` of `ids`, explain `targetId`. */
export interface AttributionStep {
  ids: readonly number[];
  position: number;
  targetId: number;
  /** compat quirk (§3.5 i): multiply by the ORIGINAL prompt's activation instead of this input's. */
  multiplier?: Float32Array[];
}

export interface StepResult {
  /** [layer] -> ffnWidth scores (zero rows for layers not computed). */
  scores: Float32Array[];
  /** P(target) of the unpatched model at the position. */
  targetProb: number;
  /** The unpatched model's argmax at the position, and its probability. */
  predictedId: number;
  predictedProb: number;
  activations: Float32Array[];
}

/**
 * AMIG baseline for every layer at once: the activation at `position` averaged over the T inputs
 * in which one token at a time is replaced by the blank token ([MASK] or EOS). Averaging the T
 * per-token paths equals the single straight path from the averaged baseline (§3.3).
 */
export async function blankedBaseline(model: AttributionModel, ids: readonly number[], position: number): Promise<Float32Array[]> {
  const inputs = ids.map((_, j) => ids.map((id, i) => (i === j ? model.blankId : id)));
  const acts = await model.activationsBatch(inputs, position); // [input][layer]
  return Array.from({ length: model.nLayers }, (_, l) => meanVectors(acts.map((a) => a[l])));
}

/**
 * Attributes many steps (prompts) at once: every (step, layer) path goes to the model in one
 * patchedGradients call, which packs the rows across layers and prompts into passes of its row
 * budget. Each step's numbers are those of attributing it alone (rows do not interact).
 */
export async function attributeSteps(model: AttributionModel, steps: readonly AttributionStep[], options: AttributionOptions): Promise<StepResult[]> {
  const { method } = options;
  const layers = options.layers ?? Array.from({ length: model.nLayers }, (_, l) => l);
  const contexts: PromptContext[] = [];
  try {
    const prepared: { x: readonly Float32Array[]; baseline: Float32Array[] | null }[] = [];
    for (const step of steps) {
      const ctx = await model.prepare(step.ids, step.position);
      contexts.push(ctx);
      prepared.push({ x: ctx.activations, baseline: usesBlankBaseline(method) ? await blankedBaseline(model, step.ids, step.position) : null });
    }
    if (method === "static") {
      const out: StepResult[] = [];
      for (const [s, step] of steps.entries()) {
        const ctx = contexts[s];
        out.push({ ...predicted(ctx.probabilities, step.targetId), scores: await ctx.staticScores(step.targetId, layers), activations: [...prepared[s].x] });
      }
      return out;
    }
    const requests = steps.flatMap((step, s) =>
      layers.map((layer) => ({
        context: contexts[s],
        layer,
        rows: pathPoints(method, prepared[s].x[layer], prepared[s].baseline?.[layer] ?? null, options.steps),
        targetId: step.targetId,
      })),
    );
    const gradients = await model.patchedGradients(requests);
    return steps.map((step, s) => {
      const { x, baseline } = prepared[s];
      const scores: Float32Array[] = Array.from({ length: model.nLayers }, () => new Float32Array(model.ffnWidth));
      layers.forEach((l, k) => {
        const gradSum = new Float32Array(model.ffnWidth);
        for (const g of gradients[s * layers.length + k].grads) for (let i = 0; i < g.length; i++) gradSum[i] += g[i];
        // amig-ig integrates x - b̄ by definition; the compat multiplier quirk applies to the others.
        const multiplier = method === "amig-ig" ? x[l] : (step.multiplier?.[l] ?? x[l]);
        scores[l] = combine(method, multiplier, baseline?.[l] ?? null, gradSum, options.steps);
      });
      return { ...predicted(contexts[s].probabilities, step.targetId), scores, activations: [...x] };
    });
  } finally {
    for (const ctx of contexts) ctx.dispose();
  }
}

export async function attributeStep(model: AttributionModel, step: AttributionStep, options: AttributionOptions): Promise<StepResult> {
  return (await attributeSteps(model, [step], options))[0];
}

function predicted(p: Float32Array, targetId: number) {
  let predictedId = 0;
  for (let i = 1; i < p.length; i++) if (p[i] > p[predictedId]) predictedId = i;
  return { targetProb: p[targetId], predictedId, predictedProb: p[predictedId] };
}

/** Sums per-piece attribution matrices: AMIG sums over target steps (§3.5), for every method here. */
export function sumScores(parts: readonly Float32Array[][]): Float32Array[] {
  return parts[0].map((_, l) => {
    const out = new Float32Array(parts[0][l].length);
    for (const p of parts) for (let i = 0; i < out.length; i++) out[i] += p[l][i];
    return out;
  });
}
