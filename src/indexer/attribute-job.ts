// Pure computation of one queued run: prompts of every template of the fact's relation in the
// language, attribution summed over object pieces, knowledge neurons shared across templates.
import { DEFAULT_DKN, findDegenerateSets } from "../attribution/dkn.ts";
import { attributeFact, suppressedProbabilities, type TargetMode } from "../attribution/fact-attribution.ts";
import type { Method } from "../attribution/integrated-gradients.ts";
import type { FactModel } from "../attribution/model-port.ts";
import { maxScore, selectKnowledgeNeurons, shareFilter, topNeurons } from "../attribution/selection.ts";
import type { RunRecord } from "../store/runs.ts";
import type { AttributionJob } from "./queue.ts";

export interface FactContext {
  relationId: string;
  subject: string;
  object: string;
  templates: string[];
}

export async function computeRun(
  model: FactModel,
  job: AttributionJob,
  fact: FactContext,
  tau: number,
  shape: { nLayers: number; ffnWidth: number },
): Promise<RunRecord> {
  const started = performance.now();
  const fact0 = { subject: fact.subject, object: fact.object, language: job.language };
  const attributions: Awaited<ReturnType<typeof attributeFact>>[] = [];
  for (const template of fact.templates) {
    attributions.push(await attributeFact(model, { ...fact0, template }, { method: job.method as Method, steps: job.steps, targetMode: job.targetMode as TargetMode }));
  }
  const knowledgeNeurons = shareFilter(attributions.map((a) => selectKnowledgeNeurons(a.scores, tau)));
  // Several templates: heatmaps show the mean score matrix.
  const scores =
    attributions.length === 1
      ? attributions[0].scores
      : attributions[0].scores.map((row, l) => row.map((_, i) => attributions.reduce((s, a) => s + a.scores[l][i], 0) / attributions.length));
  const first = attributions[0];
  // Degenerate neurons of the first template's prompt (§6.2: computed in the same pass as the
  // attribution, top-20 pool of the ranked knowledge neurons).
  const attributedAt = performance.now();
  const dkn = job.dkn
    ? await findDegenerateSets(
        knowledgeNeurons.map((n) => [n.layer, n.unit] as const),
        (sets) => suppressedProbabilities(model, first.plan, sets),
        DEFAULT_DKN,
      )
    : null;
  return {
    checkpointId: job.checkpointId,
    factId: job.factId,
    languageCode: job.language,
    relationId: fact.relationId,
    method: job.method,
    steps: job.steps,
    targetMode: job.targetMode,
    prompt: first.prompt,
    goldTokenIds: first.targetIds,
    goldProbs: first.targetProbs,
    goldProb: first.goldProb,
    predictedIds: first.predictedIds,
    predictedText: first.predictedText,
    predictedProb: first.predictedProbs.reduce((a, b) => a * b, 1),
    tau,
    maxScore: maxScore(scores),
    topK: job.topK,
    nLayers: shape.nLayers,
    ffnWidth: shape.ffnWidth,
    timings: {
      attributionMs: Math.round(attributedAt - started),
      dknMs: Math.round(performance.now() - attributedAt),
      totalMs: Math.round(performance.now() - started),
      prompts: attributions.length,
      dknEvaluations: dkn?.evaluations ?? 0,
    },
    degenerateSets: dkn
      ? dkn.sets.map((d) => ({
          baseProb: dkn.baseProb,
          jointProb: d.jointProb,
          members: d.neurons.map(([layer, unit], i) => ({ layer, unit, aloneProb: d.aloneProbs[i] })),
        }))
      : [],
    topNeurons: topNeurons(scores, job.topK),
    knowledgeNeurons,
  };
}
