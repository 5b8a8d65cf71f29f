// Validity of degenerate knowledge neurons (ALGORITHMS.md §13.4) and the per-layer distributions
// of knowledge, language-independent and degenerate neurons (§6.4).
//   False-positive rate: the §6.2 pair test applied to pools that hold no knowledge of the fact:
//   the top-K pool of another fact (neuron identities shuffled across facts) and random units of
//   the same layers. If such pools pass about as often as the fact's own pool, "degenerate" says
//   little about the fact.
import { DEFAULT_DKN, type DknOptions, findDegenerateSets, isDegenerate } from "../attribution/dkn.ts";
import { planFact, suppressedProbabilities } from "../attribution/fact-attribution.ts";
import type { FactModel, Neuron } from "../attribution/model-port.ts";
import type { AnalysisStore, IndexedFact, RunScope } from "./analysis-store.ts";
import { layerCounts, randomPerLayer } from "./controls.ts";
import { seededRandom, seededShuffle } from "./random.ts";
import { type Estimate, wilsonInterval } from "./statistics.ts";

export const POOLS = ["knowledge", "shuffled", "random"] as const;
export type Pool = (typeof POOLS)[number];
export const CRITERIA = ["threshold", "superadditive"] as const;
export type Criterion = (typeof CRITERIA)[number];

export interface PoolOutcome {
  pool: Pool;
  criterion: Criterion;
  facts: number;
  pairs: number;
  /** Pairs that pass / pairs tested (pairs of one fact are not independent: read with care). */
  pairRate: Estimate | null;
  /** Facts with at least one passing pair / facts (Wilson; facts are independent). */
  factRate: Estimate | null;
}

export interface DegenerateValidity {
  language: string;
  outcomes: PoolOutcome[];
  /** Greedy growth on the facts' own pools: degenerate sets found per size (§6.3 alternative). */
  setSizes: Record<number, number>;
  maxSetSize: number;
}

export interface DegenerateValidityOptions extends RunScope {
  language: string;
  dkn?: Partial<DknOptions>;
  /** Facts tested (seeded sample; default 100). */
  maxFacts?: number;
  seed?: number;
  /** Greedy growth up to this size on the facts' own pools (default 4). */
  maxSetSize?: number;
  onProgress?: (done: number, total: number) => void;
}

/** Every pair of the pool, with the probabilities both criteria need. */
async function pairOutcomes(model: FactModel, fact: IndexedFact, pool: readonly Neuron[], o: DknOptions): Promise<Record<Criterion, number> & { pairs: number }> {
  const plan = await planFact(model, fact);
  const pairs: [number, number][] = [];
  for (let i = 0; i < pool.length; i++) for (let j = i + 1; j < pool.length; j++) pairs.push([i, j]);
  const probs = await suppressedProbabilities(model, plan, [[], ...pool.map((n) => [n]), ...pairs.map(([i, j]) => [pool[i], pool[j]])]);
  const p0 = probs[0];
  const alone = probs.slice(1, 1 + pool.length);
  const joint = probs.slice(1 + pool.length);
  const count = (criterion: Criterion) => pairs.filter(([i, j], k) => isDegenerate(p0, [alone[i], alone[j]], joint[k], { ...o, criterion })).length;
  return { pairs: pairs.length, threshold: count("threshold"), superadditive: count("superadditive") };
}

export async function degenerateValidity(store: AnalysisStore, model: FactModel, o: DegenerateValidityOptions): Promise<DegenerateValidity> {
  const dkn: DknOptions = { ...DEFAULT_DKN, ...o.dkn };
  const maxSetSize = o.maxSetSize ?? 4;
  const all = (await store.indexedFacts({ checkpointId: o.checkpointId, setting: o.setting, languages: [o.language] })).filter((f) => f.neurons.length >= 2);
  const facts = seededShuffle(all, `dkn-validity:${o.seed ?? 42}:${o.language}`).slice(0, o.maxFacts ?? 100);
  const tally = new Map<string, { facts: number; pairs: number; passing: number; factsPassing: number }>();
  const setSizes: Record<number, number> = {};
  for (const [k, f] of facts.entries()) {
    const own = f.neurons.slice(0, dkn.poolSize);
    // another fact's pool (the next one in the shuffled order), and random units of the same layers
    const other = facts.length > 1 ? facts[(k + 1) % facts.length].neurons.slice(0, dkn.poolSize) : [];
    const random = randomPerLayer(layerCounts(own, model.nLayers), model.ffnWidth, seededRandom(`dkn-random:${o.seed ?? 42}:${o.language}:${f.factId}`));
    for (const [pool, neurons] of [["knowledge", own], ["shuffled", other], ["random", random]] as const) {
      if (neurons.length < 2) continue;
      const r = await pairOutcomes(model, f, neurons, dkn);
      for (const criterion of CRITERIA) {
        const key = `${pool}:${criterion}`;
        const t = tally.get(key) ?? { facts: 0, pairs: 0, passing: 0, factsPassing: 0 };
        t.facts++;
        t.pairs += r.pairs;
        t.passing += r[criterion];
        if (r[criterion] > 0) t.factsPassing++;
        tally.set(key, t);
      }
    }
    if (maxSetSize > 2) {
      const plan = await planFact(model, f);
      const grown = await findDegenerateSets(own, (sets) => suppressedProbabilities(model, plan, sets), { ...dkn, maxSetSize });
      for (const s of grown.sets) setSizes[s.neurons.length] = (setSizes[s.neurons.length] ?? 0) + 1;
    }
    o.onProgress?.(k + 1, facts.length);
  }
  const outcomes: PoolOutcome[] = [];
  for (const pool of POOLS) {
    for (const criterion of CRITERIA) {
      const t = tally.get(`${pool}:${criterion}`);
      if (!t) continue;
      outcomes.push({ pool, criterion, facts: t.facts, pairs: t.pairs, pairRate: wilsonInterval(t.passing, t.pairs), factRate: wilsonInterval(t.factsPassing, t.facts) });
    }
  }
  return { language: o.language, outcomes, setSizes, maxSetSize };
}

export interface LayerCount {
  kind: "knowledge" | "language-independent" | "degenerate";
  /** A language, or "en∩zh" for language-independent neurons. */
  group: string;
  layer: number;
  count: number;
}

/**
 * Occurrences per layer: every knowledge neuron of every fact, every neuron of KN_en(f) ∩ KN_x(f)
 * per other language x, and every member of every stored degenerate set.
 */
export async function layerDistributions(store: AnalysisStore, q: RunScope & { languages: readonly string[]; nLayers: number }): Promise<LayerCount[]> {
  const facts = await store.indexedFacts({ checkpointId: q.checkpointId, setting: q.setting, languages: q.languages });
  const out: LayerCount[] = [];
  const add = (kind: LayerCount["kind"], group: string, neurons: readonly Neuron[]) => {
    layerCounts(neurons, q.nLayers).forEach((count, layer) => {
      const row = out.find((r) => r.kind === kind && r.group === group && r.layer === layer);
      if (row) row.count += count;
      else out.push({ kind, group, layer, count });
    });
  };
  const byFact = new Map<string, Map<string, IndexedFact>>();
  for (const f of facts) {
    add("knowledge", f.language, f.neurons);
    byFact.set(f.factId, (byFact.get(f.factId) ?? new Map()).set(f.language, f));
  }
  for (const langs of byFact.values()) {
    const en = langs.get("en");
    if (!en) continue;
    const enKeys = new Set(en.neurons.map(([l, i]) => `${l}:${i}`));
    for (const [language, f] of langs) if (language !== "en") add("language-independent", `en∩${language}`, f.neurons.filter(([l, i]) => enKeys.has(`${l}:${i}`)));
  }
  const relations = [...new Set(facts.map((f) => f.relationId))];
  for (const language of q.languages) {
    for (const relationId of relations) {
      const sets = await store.degenerateNeuronsByFact({ checkpointId: q.checkpointId, setting: q.setting, relationId, language });
      for (const list of sets.values()) for (const s of list) add("degenerate", language, s);
    }
  }
  return out.sort((a, b) => a.kind.localeCompare(b.kind) || a.group.localeCompare(b.group) || a.layer - b.layer);
}
