// Pure computation of one queued run: prompts of every template of the fact's relation in the
// language that the model can use (causal: [Y] last), attribution summed over object pieces,
// knowledge neurons shared across templates. A NaN or ±∞ fails the run with its reason.
import { DEFAULT_DKN, findDegenerateSets } from "../attribution/dkn.ts";
import { type FactAttribution, type FactPlan, attributePlans, suppressedProbabilities } from "../attribution/fact-attribution.ts";
import { meanScores, planTemplates } from "../attribution/knowledge-neurons.ts";
import type { FactModel } from "../attribution/model-port.ts";
import { type NeuronSelection, effectiveTau, factKnowledgeNeurons, maxScore, summarizeLayers, topNeurons } from "../attribution/selection.ts";
import type { FactContext } from "../store/index-jobs.ts";
import type { RunRecord } from "../store/runs.ts";
import type { AttributionJob } from "./queue.ts";

/** One run to compute: the queued job, its fact, and the selection rule its neurons follow. */
export interface RunInput {
  job: AttributionJob;
  fact: FactContext;
  selection: NeuronSelection;
}

export async function computeRun(model: FactModel, job: AttributionJob, fact: FactContext, selection: NeuronSelection, shape: RunShape): Promise<RunRecord> {
  const [result] = await computeRuns(model, [{ job, fact, selection }], shape);
  if ("error" in result) throw result.error;
  return result.run;
}

/**
 * The model's shape; `gridMaxCells`: the run keeps its full layer x unit grid (run_grid, what the
 * explorer's heatmap reads) when layers x width is at most this (default KN_INDEX_GRID_MAX_CELLS).
 */
type RunShape = { nLayers: number; ffnWidth: number; gridMaxCells?: number };

/** Grids of at most this many cells (64 KiB of float32) are stored with their run by default. */
export const DEFAULT_INDEX_GRID_MAX_CELLS = 16_384;

/** KN_INDEX_GRID_MAX_CELLS (0: store no grid), else the default. */
export function indexGridMaxCells(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.KN_INDEX_GRID_MAX_CELLS;
  if (raw === undefined || raw === "") return DEFAULT_INDEX_GRID_MAX_CELLS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`KN_INDEX_GRID_MAX_CELLS must be a whole number >= 0, not ${JSON.stringify(raw)}`);
  return n;
}

/** The run's scores as one row-major grid (what run_grid stores), or undefined beyond the limit. */
function gridOf(scores: readonly Float32Array[], shape: RunShape): Float32Array | undefined {
  const cells = shape.nLayers * shape.ffnWidth;
  if (cells > (shape.gridMaxCells ?? indexGridMaxCells())) return undefined;
  const grid = new Float32Array(cells);
  scores.forEach((row, layer) => grid.set(row, layer * shape.ffnWidth));
  return grid;
}

/**
 * Computes several queued runs together: the prompts of every run that shares a setting (method,
 * steps, target mode) are attributed in one batch (the model packs their rows across prompts and
 * layers), then each run selects its neurons and searches its degenerate sets alone. Per input,
 * the run or why it failed: a bad prompt or a NaN fails only its own run; an error of the shared
 * attribution fails every run of that batch.
 */
export async function computeRuns(model: FactModel, inputs: readonly RunInput[], shape: RunShape): Promise<({ run: RunRecord } | { error: unknown })[]> {
  const out: ({ run: RunRecord } | { error: unknown })[] = new Array(inputs.length);
  const groups = new Map<string, { index: number; plans: FactPlan[] }[]>();
  for (const [index, { job, fact }] of inputs.entries()) {
    try {
      const plans = await planTemplates(model, { ...fact, language: job.language }, job.targetMode);
      const key = `${job.method}|${job.steps}|${job.targetMode}`;
      groups.set(key, [...(groups.get(key) ?? []), { index, plans }]);
    } catch (error) {
      out[index] = { error };
    }
  }
  for (const members of groups.values()) {
    const { job } = inputs[members[0].index];
    const started = performance.now();
    let attributions: Awaited<ReturnType<typeof attributePlans>>;
    try {
      attributions = await attributePlans(model, members.flatMap((m) => m.plans), { method: job.method, steps: job.steps });
    } catch (error) {
      for (const m of members) out[m.index] = { error };
      continue;
    }
    // the batch's attribution time, shared out by prompts
    const msPerPrompt = (performance.now() - started) / attributions.length;
    let next = 0;
    for (const m of members) {
      const own = attributions.slice(next, (next += m.plans.length));
      try {
        out[m.index] = { run: await finishRun(model, inputs[m.index], own, meanScores(own), msPerPrompt * own.length, shape) };
      } catch (error) {
        out[m.index] = { error };
      }
    }
  }
  return out;
}

type Attribution = FactAttribution & { plan: FactPlan };

async function finishRun(model: FactModel, { job, fact, selection }: RunInput, attributions: Attribution[], scores: Float32Array[], attributionMs: number, shape: RunShape): Promise<RunRecord> {
  const started = performance.now();
  const knowledgeNeurons = factKnowledgeNeurons(attributions.map((a) => a.scores), selection);
  const first = attributions[0];
  // Degenerate neurons of the first template's prompt (§6.2: computed in the same pass as the
  // attribution, top-20 pool of the ranked knowledge neurons).
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
      attributionMs: Math.round(attributionMs),
      dknMs: Math.round(performance.now() - started),
      totalMs: Math.round(attributionMs + performance.now() - started),
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
    grid: gridOf(scores, shape),
  };
  const problem = nonFiniteProblem(attributions.map((a) => a.scores), run);
  if (problem) throw new NonFiniteError(`${problem}: the run is not stored`);
  return run;
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
