// Fact-checking with degenerate knowledge neurons (ALGORITHMS.md §7): per relation, the DKN
// neurons D_r of the training facts; a candidate object is accepted when its AMIG attribution,
// averaged over D_r, reaches τ_fc. Compared with the model's own greedy answer (§7.3, clean).
import { attributeFact, planFact } from "../attribution/fact-attribution.ts";
import { isSpacedLanguage } from "../attribution/prompts.ts";
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
import {
  type AurocResult, type BootstrapEstimate, type ClassificationMetrics, type RandomBaseline, type SweepPoint,
  acceptAllBaseline, auroc, bootstrapCI, classificationMetrics, confusion, randomVerdictBaseline, thresholdSweep,
} from "./statistics.ts";

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
 * §7.3 clean: the model accepts c when its greedy answer over len(pieces(c)) tokens is c: the same
 * pieces, or a text equal to c. In languages written without spaces the comparison ignores
 * whitespace, since a WordPiece decoder joins Chinese characters with spaces ("都 柏 林").
 */
export async function directAnswerMatches(model: FactModel, template: string, subject: string, object: string, language: string): Promise<boolean> {
  const plan = await planFact(model, { template, subject, object, language });
  const predicted: number[] = [];
  for (const step of plan.steps) {
    // causal: continue from the model's own previous answers, not the gold pieces
    const ids = model.architecture === "causal" ? [...plan.inputIds, ...predicted] : step.ids;
    const ctx = await model.prepare(ids, model.architecture === "causal" ? ids.length - 1 : step.position);
    let best = 0;
    for (let i = 1; i < ctx.probabilities.length; i++) if (ctx.probabilities[i] > ctx.probabilities[best]) best = i;
    ctx.dispose();
    predicted.push(best);
  }
  if (predicted.every((id, s) => id === plan.steps[s].targetId)) return true;
  const normalize = (text: string) => (isSpacedLanguage(language) ? text.trim() : text.replace(/\s+/gu, ""));
  return normalize(model.tokenizer.decode(predicted)) === normalize(object);
}

export interface RelationResult {
  relation: string;
  neurons: number;
  withDkn: FactCheckCounts & FactCheckMetrics;
  baseline: FactCheckCounts & FactCheckMetrics;
}

/** One tested candidate, kept so AUROC and any other τ_fc can be recomputed (§13.3). */
export interface ScoredFactCandidate {
  factId: string;
  relation: string;
  candidate: string;
  /** True object (the positive class) or the wrong one. */
  positive: boolean;
  /** Mean attribution over D_r. */
  score: number;
  /** The model's own greedy answer is the candidate (§7.3). */
  direct: boolean;
}

export interface FactCheckEvaluationResult {
  withDkn: FactCheckCounts & FactCheckMetrics;
  baseline: FactCheckCounts & FactCheckMetrics;
  relations: RelationResult[];
  skippedRelations: string[];
  candidates: ScoredFactCandidate[];
  statistics: FactCheckStatistics;
}

export interface FactCheckStatistics {
  /** Candidates tested (true + wrong). */
  n: number;
  /** AUROC of the DKN score (null without both classes). */
  auroc: AurocResult | null;
  /** Its bootstrap 95 % CI, resampling facts (each brings its true and its wrong candidate). */
  aurocCI: BootstrapEstimate | null;
  /** The DKN rule at τ_fc, the model's direct answer, accepting everything, a seeded coin: Wilson intervals. */
  atThreshold: ClassificationMetrics;
  direct: ClassificationMetrics;
  acceptAll: ClassificationMetrics;
  random: RandomBaseline;
  /** τ_fc over every observed score (accept score ≥ τ). */
  sweep: SweepPoint[];
  /** The sweep point of highest F1 (chosen on the test candidates themselves: optimistic). */
  bestF1: SweepPoint | null;
}

/** §13.3 over the stored candidates: AUROC, the τ_fc sweep, the direct answer and both baselines. */
export function factCheckStatistics(candidates: readonly ScoredFactCandidate[], threshold: number, seed = "42"): FactCheckStatistics {
  const labels = candidates.map((c) => c.positive);
  const scored = candidates.map((c) => ({ score: c.score, positive: c.positive }));
  const sweep = thresholdSweep(scored);
  const bestF1 = sweep.reduce<SweepPoint | null>((best, p) => (p.f1 !== null && (best === null || p.f1 > (best.f1 ?? -1)) ? p : best), null);
  const byFact = new Map<string, ScoredFactCandidate[]>();
  for (const c of candidates) byFact.set(`${c.relation}\u0000${c.factId}`, [...(byFact.get(`${c.relation}\u0000${c.factId}`) ?? []), c]);
  const paired = [...byFact.values()].filter((cs) => cs.some((c) => c.positive) && cs.some((c) => !c.positive));
  const aurocOf = (facts: readonly ScoredFactCandidate[][]) => auroc(facts.flat().map((c) => ({ score: c.score, positive: c.positive })))!.auroc;
  return {
    n: candidates.length,
    auroc: auroc(scored),
    aurocCI: paired.length ? bootstrapCI(paired, aurocOf, { seed }) : null,
    atThreshold: classificationMetrics(confusion(candidates.map((c) => c.score >= threshold), labels)),
    direct: classificationMetrics(confusion(candidates.map((c) => c.direct), labels)),
    acceptAll: acceptAllBaseline(labels),
    random: randomVerdictBaseline(labels, { seed }),
    sweep,
    bestF1,
  };
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
  const candidates: ScoredFactCandidate[] = [];
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
        const scored = await scoreCandidate(model, it.template, it.subject, candidate, o.language, neurons, opts);
        const accepted = scored.verdict;
        const direct = await directAnswerMatches(model, it.template, it.subject, candidate, o.language);
        candidates.push({ factId: it.factId, relation, candidate, positive: isTrue, score: scored.score, direct });
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
  return {
    withDkn: withMetrics(total.dkn),
    baseline: withMetrics(total.base),
    relations,
    skippedRelations: skipped,
    candidates,
    statistics: factCheckStatistics(candidates, opts.threshold, String(o.seed ?? 42)),
  };
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
