// Pure computation of one queued run: prompts of every template of the fact's relation in the
// language that the model can use (causal: [Y] last), attribution summed over object pieces,
// knowledge neurons shared across templates. A NaN or ±∞ fails the run with its reason.
import { DEFAULT_DKN, findDegenerateSets } from "../attribution/dkn.ts";
import { attributeFact, suppressedProbabilities } from "../attribution/fact-attribution.ts";
import type { FactModel } from "../attribution/model-port.ts";
import { PromptError, usableTemplates } from "../attribution/prompts.ts";
import { type NeuronSelection, effectiveTau, factKnowledgeNeurons, maxScore, summarizeLayers, topNeurons } from "../attribution/selection.ts";
import type { FactContext } from "../store/index-jobs.ts";
import type { RunRecord } from "../store/runs.ts";
import type { AttributionJob } from "./queue.ts";

export async function computeRun(
  model: FactModel,
  job: AttributionJob,
  fact: FactContext,
  selection: NeuronSelection,
  shape: { nLayers: number; ffnWidth: number },
): Promise<RunRecord> {
  const started = performance.now();
  const { attributions, scores } = await attributeTemplates(model, job, fact);
  const knowledgeNeurons = factKnowledgeNeurons(attributions.map((a) => a.scores), selection);
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
  const run: RunRecord = {
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
    tau: selection.rule.rule === "top-k" ? effectiveTau(knowledgeNeurons, maxScore(scores)) : selection.tau,
    tauRule: selection.rule,
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
    layerSummaries: summarizeLayers(scores),
  };
  const problem = nonFiniteProblem(attributions.map((a) => a.scores), run);
  if (problem) throw new NonFiniteError(`${problem}: the run is not stored`);
  return run;
}

/** The run's settings that decide its scores. */
export type RunSettings = Pick<AttributionJob, "language" | "method" | "steps" | "targetMode">;

/**
 * Attributes the fact with every template of its relation that the model can use (causal
 * models: [Y] last; a fact with none fails with the policy's reason); `scores` is the grid a run
 * stores and heatmaps show: the single template's, or the mean over templates.
 */
export async function attributeTemplates(model: FactModel, settings: RunSettings, fact: FactContext) {
  const templates = usableTemplates(fact.templates, model.architecture);
  if (!templates.length) {
    throw new PromptError(
      `no template of ${fact.relationId} in ${settings.language} ends with the object slot [Y] (${fact.templates.length} skipped): ` +
        `causal models skip templates whose object slot is not final`,
    );
  }
  const fact0 = { subject: fact.subject, object: fact.object, language: settings.language };
  const options = { method: settings.method, steps: settings.steps, targetMode: settings.targetMode };
  const attributions: Awaited<ReturnType<typeof attributeFact>>[] = [];
  for (const template of templates) attributions.push(await attributeFact(model, { ...fact0, template }, options));
  const scores =
    attributions.length === 1
      ? attributions[0].scores
      : attributions[0].scores.map((row, l) => row.map((_, i) => attributions.reduce((s, a) => s + a.scores[l][i], 0) / attributions.length));
  return { attributions, scores };
}

export class NonFiniteError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NonFiniteError";
  }
}

/**
 * The first NaN or ±∞ among a run's attribution scores (every template's full matrix) and
 * probabilities, described, or null. Such a value means the numbers broke down (overflow,
 * 0 · ∞): storing it as 0, or selecting neurons around it, would store a wrong answer.
 */
export function nonFiniteProblem(scoreMatrices: readonly (readonly Float32Array[])[], run: RunRecord): string | null {
  for (const [t, matrix] of scoreMatrices.entries()) {
    for (const [layer, row] of matrix.entries()) {
      for (let unit = 0; unit < row.length; unit++) {
        if (!Number.isFinite(row[unit])) return `attribution score ${row[unit]} at layer ${layer}, unit ${unit} (template ${t + 1} of ${scoreMatrices.length})`;
      }
    }
  }
  const values: [string, number][] = [
    ...run.goldProbs.map((p, i): [string, number] => [`gold probability of piece ${i + 1}`, p]),
    ["gold probability", run.goldProb],
    ["predicted probability", run.predictedProb],
    ["maximum score", run.maxScore],
    ...run.degenerateSets.flatMap((d, i): [string, number][] => [
      [`degenerate set ${i + 1}: base probability`, d.baseProb],
      [`degenerate set ${i + 1}: joint probability`, d.jointProb],
      ...d.members.map((m): [string, number] => [`degenerate set ${i + 1}: probability without (${m.layer}, ${m.unit})`, m.aloneProb]),
    ]),
  ];
  const bad = values.find(([, v]) => !Number.isFinite(v));
  return bad ? `${bad[0]} is ${bad[1]}` : null;
}
