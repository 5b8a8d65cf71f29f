// Degenerate knowledge neurons (ALGORITHMS.md §6): sets of knowledge neurons each of which can be
// suppressed almost harmlessly while suppressing all of them destroys the fact.
import type { Neuron } from "./model-port.ts";

export interface DknOptions {
  /** Candidate pool: the first K knowledge neurons in rank order (default 20). */
  poolSize: number;
  /** A single suppression may cost at most this fraction of P0 (default 0.2). */
  thetaLow: number;
  /** The whole set must cost more than this fraction of P0 (default 0.25). */
  thetaHigh: number;
  /** Grow pairs greedily up to this many members (2 = the paper's pairs only). */
  maxSetSize: number;
  /**
   * When the whole set counts as harmful. threshold (§6.1): P(S) < (1 − θhigh)·P0. superadditive
   * (§13.4, stricter): also P(S)/P0 < Π_{n∈S} P({n})/P0 − margin, i.e. the joint effect exceeds
   * what independent multiplicative effects of the members would give.
   */
  criterion?: "threshold" | "superadditive";
  /** Margin of the superadditive criterion (default 0.1). */
  margin?: number;
}

export const DEFAULT_DKN: DknOptions = { poolSize: 20, thetaLow: 0.2, thetaHigh: 0.25, maxSetSize: 2 };
export const DEFAULT_SUPERADDITIVE_MARGIN = 0.1;

/**
 * The degeneracy test of one set from its probabilities: every member alone harmless
 * (≥ (1 − θlow)·P0) and the set harmful under the chosen criterion.
 */
export function isDegenerate(p0: number, alone: readonly number[], joint: number, o: Pick<DknOptions, "thetaLow" | "thetaHigh" | "criterion" | "margin">): boolean {
  return alone.every((p) => p >= (1 - o.thetaLow) * p0) && isHarmful(p0, alone, joint, o);
}

function isHarmful(p0: number, alone: readonly number[], joint: number, o: Pick<DknOptions, "thetaHigh" | "criterion" | "margin">): boolean {
  if (!(joint < (1 - o.thetaHigh) * p0)) return false;
  if (o.criterion !== "superadditive") return true;
  const independent = alone.reduce((prod, p) => prod * (p / p0), 1);
  return joint / p0 < independent - (o.margin ?? DEFAULT_SUPERADDITIVE_MARGIN);
}

export interface DegenerateSet {
  neurons: Neuron[];
  /** Gold probability with each member alone suppressed, in member order. */
  aloneProbs: number[];
  /** Gold probability with all members suppressed. */
  jointProb: number;
}

export interface DknResult {
  baseProb: number;
  sets: DegenerateSet[];
  /** Probability evaluations spent (each is one forward pass per target piece). */
  evaluations: number;
}

/**
 * `prob(sets)` returns the gold probability with each listed neuron set suppressed; it is called
 * with many sets at once so the model can evaluate them in one batched pass.
 *
 * Pairs follow §6.2 exactly: S1 = pool members whose single suppression keeps >= (1 - θlow)·P0;
 * a pair of S1 is degenerate when suppressing both gives < (1 - θhigh)·P0. With maxSetSize > 2,
 * each non-degenerate pair is grown greedily: add the later-ranked S1 member that lowers the joint
 * probability most (never one that already forms a degenerate pair with a member, so reported
 * sets contain no degenerate pair), until the set is degenerate or has maxSetSize members.
 */
export async function findDegenerateSets(
  ranked: readonly Neuron[],
  prob: (sets: Neuron[][]) => Promise<number[]>,
  options: DknOptions = DEFAULT_DKN,
): Promise<DknResult> {
  const pool = ranked.slice(0, options.poolSize);
  let evaluations = 0;
  const evaluate = async (sets: Neuron[][]): Promise<number[]> => {
    evaluations += sets.length;
    return sets.length ? prob(sets) : [];
  };
  const [p0] = await evaluate([[]]);
  const harmless = (p: number) => p >= (1 - options.thetaLow) * p0;
  const harmful = (members: readonly number[], joint: number) => isHarmful(p0, members.map((m) => s1[m].alone), joint, options);

  const singles = await evaluate(pool.map((n) => [n]));
  const s1 = pool.map((n, i) => ({ n, alone: singles[i] })).filter((c) => harmless(c.alone));
  const pairs: [number, number][] = [];
  for (let i = 0; i < s1.length; i++) for (let j = i + 1; j < s1.length; j++) pairs.push([i, j]);
  const pairProbs = await evaluate(pairs.map(([i, j]) => [s1[i].n, s1[j].n]));

  const sets: DegenerateSet[] = [];
  const grow: { members: number[]; joint: number }[] = [];
  pairs.forEach(([i, j], k) => {
    if (harmful([i, j], pairProbs[k])) sets.push({ neurons: [s1[i].n, s1[j].n], aloneProbs: [s1[i].alone, s1[j].alone], jointProb: pairProbs[k] });
    else grow.push({ members: [i, j], joint: pairProbs[k] });
  });

  if (options.maxSetSize > 2) {
    const degeneratePair = new Set(pairs.filter((p, k) => harmful(p, pairProbs[k])).map(([i, j]) => `${i},${j}`));
    const found = new Set<string>();
    for (let frontier = grow; frontier.length; ) {
      const next: { members: number[]; joint: number }[] = [];
      for (const g of frontier) {
        if (g.members.length >= options.maxSetSize) continue;
        const extensions = s1
          .map((_, m) => m)
          .filter((m) => m > g.members[g.members.length - 1] && g.members.every((x) => !degeneratePair.has(`${x},${m}`)));
        if (!extensions.length) continue;
        const probs = await evaluate(extensions.map((m) => [...g.members, m].map((x) => s1[x].n)));
        let best = 0;
        for (let e = 1; e < probs.length; e++) if (probs[e] < probs[best]) best = e;
        const members = [...g.members, extensions[best]];
        const key = members.join(",");
        if (found.has(key)) continue;
        found.add(key);
        if (harmful(members, probs[best])) {
          sets.push({ neurons: members.map((m) => s1[m].n), aloneProbs: members.map((m) => s1[m].alone), jointProb: probs[best] });
        } else next.push({ members, joint: probs[best] });
      }
      frontier = next;
    }
  }
  return { baseProb: p0, sets, evaluations };
}
