// Statistics for comparing attribution methods and controls (ALGORITHMS.md §13.3). Pure functions
// over plain numbers: no database, no model. Every result carries its sample size, because a
// number without its n cannot be judged.
//
//   bootstrapCI / bootstrapMeanCI / pairedBootstrapCI  percentile bootstrap over facts (B = 2000, seeded)
//   wilcoxonSignedRank / wilcoxonPaired                  two-sided signed-rank test, exact for n ≤ 25
//   wilsonInterval                                       score interval of a proportion
//   auroc                                                Mann–Whitney U / (n+ n−), ties count ½
//   thresholdSweep                                       precision / recall / F1 at every observed score
//   confusion, classificationMetrics                     verdicts against labels, with Wilson intervals
//   acceptAllBaseline, randomVerdictBaseline             the trivial fact-checkers a method must beat
import { seededRandom } from "./random.ts";

// ---------------------------------------------------------------------------------------------
// Normal distribution

/**
 * Complementary error function to ~1e-15 relative: the Maclaurin series of erf below 1, above it
 * the continued fraction erfc(x) = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + 3⁄2/(x + …)))), 300 terms
 * evaluated backwards.
 */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 1) {
    let term = x;
    let sum = x;
    for (let n = 1; n < 200; n++) {
      term *= (-x * x) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  if (x > 27) return 0; // e^(−729) underflows
  let fraction = x;
  for (let k = 300; k >= 1; k--) fraction = x + k / 2 / fraction;
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / fraction;
}

/** Standard normal cumulative distribution Φ(x). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** Φ⁻¹(p) by bisection on normalCdf (exact to the last bits; only used for a handful of levels). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile needs 0 < p < 1 (got ${p})`);
  let lo = -40;
  let hi = 40;
  for (let i = 0; i < 200 && hi - lo > 1e-15 * Math.max(1, Math.abs(lo)); i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** z of a two-sided interval at `level` (1.959963984540054 for 0.95). */
export function twoSidedZ(level: number): number {
  if (!(level > 0 && level < 1)) throw new RangeError(`confidence level must be in (0, 1) (got ${level})`);
  return normalQuantile(1 - (1 - level) / 2);
}

// ---------------------------------------------------------------------------------------------
// Descriptive helpers

export function mean(values: readonly number[]): number {
  if (!values.length) return Number.NaN;
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}

/**
 * Quantile q of ascending `sorted` values by linear interpolation between order statistics
 * (Hyndman & Fan type 7, the default of numpy and R): position h = (n − 1)·q.
 */
export function quantile(sorted: readonly number[], q: number): number {
  if (!sorted.length) return Number.NaN;
  if (!(q >= 0 && q <= 1)) throw new RangeError(`quantile needs 0 ≤ q ≤ 1 (got ${q})`);
  const h = (sorted.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.ceil(h);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * Midranks (1-based) of the values: tied values share the mean of the ranks they occupy.
 * Returned in the input order.
 */
export function midranks(values: readonly number[]): number[] {
  const order = values.map((v, i) => ({ v, i })).sort((a, b) => a.v - b.v);
  const ranks = new Array<number>(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && order[end + 1].v === order[start].v) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k].i] = rank;
    start = end + 1;
  }
  return ranks;
}

function checkFinite(values: readonly number[], what: string): void {
  const bad = values.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new RangeError(`${what}: value ${values[bad]} at index ${bad} is not a finite number`);
}

// ---------------------------------------------------------------------------------------------
// Bootstrap

export interface BootstrapOptions {
  /** Resamples B (default 2000). */
  resamples?: number;
  /** Seed of the resampling (default "42"); ignored when `random` is given. */
  seed?: string;
  /** Uniform [0, 1) generator, for tests that need to know every draw. */
  random?: () => number;
  /** Interval coverage (default 0.95: the 2.5th and 97.5th percentiles). */
  level?: number;
}

export interface Estimate {
  /** The statistic on the observed sample. */
  estimate: number;
  low: number;
  high: number;
  /** Sample size (facts; pairs for paired comparisons). */
  n: number;
}

export interface BootstrapEstimate extends Estimate {
  resamples: number;
  level: number;
}

/**
 * Percentile bootstrap: draw n items with replacement B times, compute the statistic on each
 * resample, report the (1 − level)/2 and (1 + level)/2 quantiles (type 7) of the B values.
 * Null for an empty sample.
 */
export function bootstrapCI<T>(items: readonly T[], statistic: (sample: readonly T[]) => number, options: BootstrapOptions = {}): BootstrapEstimate | null {
  const n = items.length;
  if (n === 0) return null;
  const resamples = options.resamples ?? 2000;
  const level = options.level ?? 0.95;
  if (!(Number.isInteger(resamples) && resamples >= 1)) throw new RangeError(`resamples must be a positive integer (got ${resamples})`);
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be in (0, 1) (got ${level})`);
  const random = options.random ?? seededRandom(options.seed ?? "42");
  const stats = new Array<number>(resamples);
  const sample = new Array<T>(n);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) sample[i] = items[Math.floor(random() * n)];
    stats[b] = statistic(sample);
  }
  checkFinite(stats, "bootstrap statistic");
  stats.sort((a, b) => a - b);
  const tail = (1 - level) / 2;
  return { estimate: statistic(items), low: quantile(stats, tail), high: quantile(stats, 1 - tail), n, resamples, level };
}

/** Bootstrap interval of the mean. */
export function bootstrapMeanCI(values: readonly number[], options: BootstrapOptions = {}): BootstrapEstimate | null {
  checkFinite(values, "bootstrapMeanCI");
  return bootstrapCI(values, mean, options);
}

/**
 * Paired comparison: the bootstrap interval of the mean per-fact difference a_i − b_i (the
 * differences are resampled, so the pairing of each fact is kept).
 */
export function pairedBootstrapCI(a: readonly number[], b: readonly number[], options: BootstrapOptions = {}): BootstrapEstimate | null {
  return bootstrapMeanCI(pairedDifferences(a, b), options);
}

export function pairedDifferences(a: readonly number[], b: readonly number[]): number[] {
  if (a.length !== b.length) throw new RangeError(`paired samples differ in length (${a.length} and ${b.length})`);
  return a.map((x, i) => x - b[i]);
}

// ---------------------------------------------------------------------------------------------
// Wilcoxon signed-rank test

export interface WilcoxonOptions {
  /**
   * "wilcox" (default, as scipy): zero differences are dropped before ranking. "pratt": zeros
   * are ranked with the others, then dropped (their ranks stay out of both sums).
   */
  zeroMethod?: "wilcox" | "pratt";
  /** Largest n (non-zero differences) with the exact null distribution (default 25). */
  exactMaxN?: number;
  /** Continuity correction of ½ in the normal approximation (default false, as scipy). */
  continuityCorrection?: boolean;
}

export interface WilcoxonResult {
  /** Non-zero differences that carry a rank. */
  n: number;
  /** Zero differences (dropped). */
  zeros: number;
  /** Sum of the ranks of the positive / negative differences. */
  wPlus: number;
  wMinus: number;
  /** min(W+, W−), the statistic scipy reports for the two-sided test. */
  statistic: number;
  /** (W+ − E[W+]) / sd under H0 (normal approximation only; null for the exact test). */
  z: number | null;
  /** Two-sided p-value. */
  p: number;
  method: "exact" | "normal";
}

/**
 * Two-sided Wilcoxon signed-rank test of the differences against a symmetric distribution around
 * 0. The null distribution is the conditional one: each rank r_i (midranks for ties) enters W+
 * with its sign ± equally likely, independently. So E[W+] = Σr/2 and Var[W+] = Σr²/4, which is
 * n(n+1)(2n+1)/24 − Σ(t³ − t)/48 with tie groups of size t (and Pratt's zero correction when
 * zeros are ranked). For n ≤ exactMaxN the distribution is enumerated exactly (a count over the
 * 2^n sign patterns by dynamic programming on doubled ranks, ties included); above, the normal
 * approximation with that mean and variance. p = P(|W+ − E| ≥ |w+ − E|). All differences zero:
 * n = 0 and p = 1.
 */
export function wilcoxonSignedRank(differences: readonly number[], options: WilcoxonOptions = {}): WilcoxonResult {
  checkFinite(differences, "wilcoxonSignedRank");
  const zeroMethod = options.zeroMethod ?? "wilcox";
  const exactMaxN = options.exactMaxN ?? 25;
  const ranked = zeroMethod === "pratt" ? [...differences] : differences.filter((d) => d !== 0);
  const allRanks = midranks(ranked.map(Math.abs));
  const ranks: number[] = [];
  const signs: number[] = [];
  ranked.forEach((d, i) => {
    if (d !== 0) {
      ranks.push(allRanks[i]);
      signs.push(Math.sign(d));
    }
  });
  const n = ranks.length;
  const zeros = differences.length - n;
  let wPlus = 0;
  let wMinus = 0;
  ranks.forEach((r, i) => (signs[i] > 0 ? (wPlus += r) : (wMinus += r)));
  const statistic = Math.min(wPlus, wMinus);
  if (n === 0) return { n, zeros, wPlus, wMinus, statistic, z: null, p: 1, method: "exact" };

  if (n <= exactMaxN) {
    // Midranks are multiples of ½: doubled they are integers, and so are the sums.
    const doubled = ranks.map((r) => Math.round(2 * r));
    const total = doubled.reduce((a, b) => a + b, 0);
    let counts = new Float64Array(total + 1);
    counts[0] = 1;
    let reach = 0;
    for (const r of doubled) {
      const next = new Float64Array(total + 1);
      for (let s = 0; s <= reach; s++) {
        if (!counts[s]) continue;
        next[s] += counts[s];
        next[s + r] += counts[s];
      }
      reach += r;
      counts = next;
    }
    const observed = Math.abs(2 * Math.round(2 * wPlus) - total); // |2·(2W+) − total| = 4·|W+ − E|
    let extreme = 0;
    for (let s = 0; s <= total; s++) if (Math.abs(2 * s - total) >= observed) extreme += counts[s];
    return { n, zeros, wPlus, wMinus, statistic, z: null, p: Math.min(1, extreme / 2 ** n), method: "exact" };
  }

  const expected = ranks.reduce((a, b) => a + b, 0) / 2;
  const sd = Math.sqrt(ranks.reduce((a, r) => a + r * r, 0) / 4);
  let deviation = wPlus - expected;
  if (options.continuityCorrection) deviation = Math.sign(deviation) * Math.max(0, Math.abs(deviation) - 0.5);
  const z = deviation / sd;
  return { n, zeros, wPlus, wMinus, statistic, z, p: Math.min(1, erfc(Math.abs(z) / Math.SQRT2)), method: "normal" };
}

/** Wilcoxon signed-rank test on the per-fact differences a_i − b_i. */
export function wilcoxonPaired(a: readonly number[], b: readonly number[], options: WilcoxonOptions = {}): WilcoxonResult {
  return wilcoxonSignedRank(pairedDifferences(a, b), options);
}

// ---------------------------------------------------------------------------------------------
// Proportions

/**
 * Wilson score interval of k successes in n trials:
 * (p̂ + z²/2n ± z·√(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n). Null for n = 0.
 */
export function wilsonInterval(successes: number, n: number, level = 0.95): Estimate | null {
  if (!(Number.isInteger(successes) && Number.isInteger(n) && successes >= 0 && successes <= n)) {
    throw new RangeError(`wilsonInterval needs integers 0 ≤ successes ≤ n (got ${successes} of ${n})`);
  }
  if (n === 0) return null;
  const z = twoSidedZ(level);
  const p = successes / n;
  const z2n = (z * z) / n;
  const center = (p + z2n / 2) / (1 + z2n);
  const half = (z / (1 + z2n)) * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n));
  return { estimate: p, low: Math.max(0, center - half), high: Math.min(1, center + half), n };
}

// ---------------------------------------------------------------------------------------------
// Scored candidates (fact-checking)

export interface ScoredCandidate {
  score: number;
  /** True for the true fact (the positive class), false for a wrong object. */
  positive: boolean;
}

export interface AurocResult {
  auroc: number;
  /** Mann–Whitney U of the positives: pairs (positive, negative) ranked right, ties ½. */
  u: number;
  nPositive: number;
  nNegative: number;
}

/**
 * Area under the ROC curve = U / (n+ n−): the probability that a random positive scores above a
 * random negative, ties counted ½. Computed from midranks: U = R+ − n+(n+ + 1)/2. Null when
 * either class is empty.
 */
export function auroc(candidates: readonly ScoredCandidate[]): AurocResult | null {
  checkFinite(candidates.map((c) => c.score), "auroc");
  const nPositive = candidates.filter((c) => c.positive).length;
  const nNegative = candidates.length - nPositive;
  if (!nPositive || !nNegative) return null;
  const ranks = midranks(candidates.map((c) => c.score));
  let rankSum = 0;
  candidates.forEach((c, i) => c.positive && (rankSum += ranks[i]));
  const u = rankSum - (nPositive * (nPositive + 1)) / 2;
  return { auroc: u / (nPositive * nNegative), u, nPositive, nNegative };
}

export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

export interface ClassificationMetrics extends Confusion {
  n: number;
  /** tp/(tp+fp); null when nothing is accepted. */
  precision: number | null;
  /** tp/(tp+fn); null without positives. */
  recall: number | null;
  /** Harmonic mean of precision and recall; null when either is null, 0 when both are 0. */
  f1: number | null;
  accuracy: number | null;
  /** Wilson intervals (null where the proportion is undefined). */
  precisionCI: Estimate | null;
  recallCI: Estimate | null;
  accuracyCI: Estimate | null;
}

export function confusion(verdicts: readonly boolean[], labels: readonly boolean[]): Confusion {
  if (verdicts.length !== labels.length) throw new RangeError(`verdicts (${verdicts.length}) and labels (${labels.length}) differ in length`);
  const c = { tp: 0, fp: 0, fn: 0, tn: 0 };
  verdicts.forEach((accepted, i) => {
    if (accepted) labels[i] ? c.tp++ : c.fp++;
    else labels[i] ? c.fn++ : c.tn++;
  });
  return c;
}

export function classificationMetrics(c: Confusion, level = 0.95): ClassificationMetrics {
  const n = c.tp + c.fp + c.fn + c.tn;
  const precision = c.tp + c.fp ? c.tp / (c.tp + c.fp) : null;
  const recall = c.tp + c.fn ? c.tp / (c.tp + c.fn) : null;
  const f1 = precision === null || recall === null ? null : precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return {
    ...c,
    n,
    precision,
    recall,
    f1,
    accuracy: n ? (c.tp + c.tn) / n : null,
    precisionCI: wilsonInterval(c.tp, c.tp + c.fp, level),
    recallCI: wilsonInterval(c.tp, c.tp + c.fn, level),
    accuracyCI: wilsonInterval(c.tp + c.tn, n, level),
  };
}

export interface SweepPoint extends Confusion {
  /** Candidates scoring ≥ threshold are accepted. */
  threshold: number;
  accepted: number;
  precision: number | null;
  recall: number | null;
  f1: number | null;
}

/**
 * The decision rule "accept when score ≥ τ" at every distinct observed score τ (ascending, so the
 * first point accepts everything and recall never grows along the list).
 */
export function thresholdSweep(candidates: readonly ScoredCandidate[]): SweepPoint[] {
  checkFinite(candidates.map((c) => c.score), "thresholdSweep");
  const sorted = [...candidates].sort((a, b) => b.score - a.score); // descending: accepted set grows
  const positives = candidates.filter((c) => c.positive).length;
  const negatives = candidates.length - positives;
  const points: SweepPoint[] = [];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < sorted.length; ) {
    const threshold = sorted[i].score;
    while (i < sorted.length && sorted[i].score === threshold) sorted[i++].positive ? tp++ : fp++;
    const m = classificationMetrics({ tp, fp, fn: positives - tp, tn: negatives - fp });
    points.push({ threshold, accepted: tp + fp, tp, fp, fn: m.fn, tn: m.tn, precision: m.precision, recall: m.recall, f1: m.f1 });
  }
  return points.reverse();
}

/** Accepting every candidate: precision = prevalence of true facts, recall = 1. */
export function acceptAllBaseline(labels: readonly boolean[], level = 0.95): ClassificationMetrics {
  return classificationMetrics(confusion(labels.map(() => true), labels), level);
}

export interface RandomBaselineOptions {
  /** Probability of accepting a candidate (default ½). */
  acceptRate?: number;
  seed?: string;
  random?: () => number;
  level?: number;
}

export interface RandomBaseline extends ClassificationMetrics {
  acceptRate: number;
  /** What the rule gives in expectation: precision = prevalence, recall = acceptRate. */
  expected: { precision: number | null; recall: number; f1: number | null };
}

/**
 * A verdict drawn at random for each candidate (accepted when the seeded draw is below
 * acceptRate), scored like a method; `expected` is its expectation, which does not depend on
 * the draw.
 */
export function randomVerdictBaseline(labels: readonly boolean[], options: RandomBaselineOptions = {}): RandomBaseline {
  const acceptRate = options.acceptRate ?? 0.5;
  if (!(acceptRate >= 0 && acceptRate <= 1)) throw new RangeError(`acceptRate must be in [0, 1] (got ${acceptRate})`);
  const random = options.random ?? seededRandom(options.seed ?? "42");
  const verdicts = labels.map(() => random() < acceptRate);
  const metrics = classificationMetrics(confusion(verdicts, labels), options.level);
  const prevalence = labels.length ? labels.filter(Boolean).length / labels.length : null;
  const f1 = prevalence === null || prevalence + acceptRate === 0 ? null : (2 * prevalence * acceptRate) / (prevalence + acceptRate);
  return { ...metrics, acceptRate, expected: { precision: prevalence, recall: acceptRate, f1 } };
}
