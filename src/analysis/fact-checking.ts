// Fact-checking with degenerate knowledge neurons (ALGORITHMS.md §7): per relation, the DKN
// neurons D_r of the training facts; a candidate object is accepted when its AMIG attribution,
// averaged over D_r, reaches τ_fc. Compared with the model's own greedy answer (§7.3, clean).
import { attributeFact, planFact } from "../attribution/fact-attribution.ts";
import { answersObject, decodeGreedy } from "../attribution/answer.ts";
import {
  DEFAULT_DKN_FILTER,
  DEFAULT_FACT_CHECK_THRESHOLD,
  type FactCheckCounts,
  type FactCheckMetrics,
  factCheckMetrics,
  meanScore,
  relationDegenerateNeurons,
} from "../attribution/fact-check.ts";
import type { Method } from "../attribution/integrated-gradients.ts";
import type { FactModel, Neuron } from "../attribution/model-port.ts";
import { DEFAULT_RUN_SETTING, type RunSetting } from "../attribution/run-setting.ts";
import type { AnalysisStore, FactCheckItem } from "./analysis-store.ts";
import { seededShuffle } from "./random.ts";

export interface FactCheckOptions {
  checkpointId: number;
  language: string;
  /** Whose degenerate sets form D_r (default amig-compat, 20 steps, clean); the candidates are
   * attributed with its method and steps. */
  setting?: RunSetting;
  threshold?: number;
  rho?: number;
  seed?: number;
}

export interface FactCheckVerdict {
  verdict: boolean;
  score: number;
  threshold: number;
  neurons: Neuron[];
}

/** Scores one candidate object against a neuron set (only the layers of the set are attributed). */
export async function scoreCandidate(
  model: FactModel,
  template: string,
  subject: string,
  object: string,
  language: string,
  neurons: Neuron[],
  opts: { method: Method; steps: number; threshold: number },
): Promise<FactCheckVerdict> {
  if (!neurons.length) return { verdict: false, score: Number.NaN, threshold: opts.threshold, neurons };
  const layers = [...new Set(neurons.map(([l]) => l))];
  const a = await attributeFact(model, { template, subject, object, language }, { method: opts.method, steps: opts.steps, layers });
  const score = meanScore(a.scores, neurons);
  return { verdict: score >= opts.threshold, score, threshold: opts.threshold, neurons };
}

/**
 * §7.3 clean: the model accepts c when its greedy answer over len(pieces(c)) tokens is c, by the
 * one rule of answer.ts (the same pieces, or the same text; whitespace ignored in languages
 * written without spaces).
 */
export async function directAnswerMatches(model: FactModel, template: string, subject: string, object: string, language: string): Promise<boolean> {
  const plan = await planFact(model, { template, subject, object, language });
  const probe = { targetIds: plan.steps.map((s) => s.targetId), steps: plan.steps };
  const [{ answerIds }] = await decodeGreedy(model, [probe]);
  return answersObject(model.tokenizer, language, answerIds, probe.targetIds);
}

export interface RelationResult {
  relation: string;
  neurons: number;
  withDkn: FactCheckCounts & FactCheckMetrics;
  baseline: FactCheckCounts & FactCheckMetrics;
}

export interface FactCheckEvaluationResult {
  withDkn: FactCheckCounts & FactCheckMetrics;
  baseline: FactCheckCounts & FactCheckMetrics;
  relations: RelationResult[];
  skippedRelations: string[];
}

const emptyCounts = (): FactCheckCounts => ({ truePositives: 0, trueNegatives: 0, positives: 0, negatives: 0 });
const withMetrics = (c: FactCheckCounts) => ({ ...c, ...factCheckMetrics(c) });
function add(into: FactCheckCounts, c: FactCheckCounts) {
  into.truePositives += c.truePositives;
  into.trueNegatives += c.trueNegatives;
  into.positives += c.positives;
  into.negatives += c.negatives;
}

/** §7.1–7.4 over the imported facts of one language: 80/20 split per relation (seeded). */
export async function evaluateFactChecking(store: AnalysisStore, model: FactModel, o: FactCheckOptions): Promise<FactCheckEvaluationResult> {
  const setting = o.setting ?? DEFAULT_RUN_SETTING;
  const opts = { method: setting.method, steps: setting.steps, threshold: o.threshold ?? DEFAULT_FACT_CHECK_THRESHOLD };
  const items = await store.factCheckItems(o.language);
  const byRelation = new Map<string, FactCheckItem[]>();
  for (const it of items) byRelation.set(it.relationId, [...(byRelation.get(it.relationId) ?? []), it]);
  const total = { dkn: emptyCounts(), base: emptyCounts() };
  const relations: RelationResult[] = [];
  const skipped: string[] = [];
  for (const [relation, list] of byRelation) {
    const shuffled = seededShuffle(list, `${o.seed ?? 42}:${relation}`);
    const nTest = Math.ceil(0.2 * shuffled.length);
    const test = shuffled.slice(0, nTest);
    const train = new Set(shuffled.slice(nTest).map((i) => i.factId));
    const sets = await store.degenerateNeuronsByFact({ checkpointId: o.checkpointId, setting, relationId: relation, language: o.language });
    const neurons = relationDegenerateNeurons([...sets].filter(([fact]) => train.has(fact)).map(([, s]) => s), o.rho ?? DEFAULT_DKN_FILTER);
    if (!neurons.length) {
      skipped.push(relation);
      continue;
    }
    const dkn = emptyCounts();
    const base = emptyCounts();
    for (const it of test) {
      for (const [candidate, isTrue] of [[it.object, true], [it.wrong, false]] as const) {
        const accepted = (await scoreCandidate(model, it.template, it.subject, candidate, o.language, neurons, opts)).verdict;
        const direct = await directAnswerMatches(model, it.template, it.subject, candidate, o.language);
        for (const [counts, ok] of [[dkn, accepted], [base, direct]] as const) {
          if (isTrue) {
            counts.positives++;
            if (ok) counts.truePositives++;
          } else {
            counts.negatives++;
            if (!ok) counts.trueNegatives++;
          }
        }
      }
    }
    add(total.dkn, dkn);
    add(total.base, base);
    relations.push({ relation, neurons: neurons.length, withDkn: withMetrics(dkn), baseline: withMetrics(base) });
  }
  return { withDkn: withMetrics(total.dkn), baseline: withMetrics(total.base), relations, skippedRelations: skipped };
}

/** A live check of one statement: D_r from every stored DKN set of the relation in the language. */
export async function checkStatement(
  store: AnalysisStore,
  model: FactModel,
  q: { checkpointId: number; relationId: string; language: string; template: string; subject: string; object: string; setting?: RunSetting; threshold?: number; rho?: number },
): Promise<FactCheckVerdict> {
  const setting = q.setting ?? DEFAULT_RUN_SETTING;
  const sets = await store.degenerateNeuronsByFact({ checkpointId: q.checkpointId, setting, relationId: q.relationId, language: q.language });
  const neurons = relationDegenerateNeurons([...sets.values()], q.rho ?? DEFAULT_DKN_FILTER);
  return scoreCandidate(model, q.template, q.subject, q.object, q.language, neurons, { method: setting.method, steps: setting.steps, threshold: q.threshold ?? DEFAULT_FACT_CHECK_THRESHOLD });
}
