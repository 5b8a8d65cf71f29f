// Synthetic but realistically shaped data for `npm run bench:store`: the 53 mLAMA languages with
// uneven coverage (every fact in en, few in the smallest languages), the mLAMA relations with
// uneven sizes, and per (checkpoint, fact, language) one run as the indexer stores it: the top-100
// scores, 3-10 knowledge neurons in the upper layers drawn mostly from a per-fact pool that is itself
// drawn mostly from a per-relation pool (so facts share neurons across languages and within a
// relation, which is what the language-independent-neuron queries aggregate), and a degenerate pair
// for some runs. Everything is a pure function of the indices: the same arguments give the same
// rows, so an interrupted fill resumes by storing the same runs again (the run key skips the rest).
import { createHash } from "node:crypto";
import { seededRandom } from "../../src/analysis/random.ts";
import type { RunSetting } from "../../src/attribution/run-setting.ts";
import { MLAMA_LANGUAGES } from "../../src/data/languages.ts";
import { RELATION_LABELS } from "../../src/data/relations.ts";
import type { RunRecord, StoredNeuron } from "../../src/store/runs.ts";

export interface BenchCheckpoint {
  name: string;
  architecture: "MASKED" | "CAUSAL";
  modelType: string;
  nLayers: number;
  hidden: number;
  ffnWidth: number;
}

/** A BERT-base-sized masked model and an mGPT-sized causal one. */
export const BENCH_CHECKPOINTS: readonly BenchCheckpoint[] = [
  { name: "bench-bert-base", architecture: "MASKED", modelType: "bert", nLayers: 12, hidden: 768, ffnWidth: 3072 },
  { name: "bench-mgpt", architecture: "CAUSAL", modelType: "gpt2", nLayers: 24, hidden: 2048, ffnWidth: 8192 },
];

export const TOP_K = 100;

/** A generator seeded by the indices it belongs to. */
const rng = (...indices: number[]) => seededRandom(indices.join(":"));

/** en first (every fact), then the other languages with coverage falling from 0.9 to 0.12. */
export const LANGUAGES: readonly string[] = ["en", ...Object.keys(MLAMA_LANGUAGES).filter((l) => l !== "en").sort()];
const coverage = (i: number) => (i === 0 ? 1 : Math.max(0.12, 0.9 - 0.016 * (i - 1)));

export const RELATIONS: readonly string[] = Object.keys(RELATION_LABELS).sort();
/** Relation sizes fall off like mLAMA's (a few with ~1000 facts, many with a few hundred). */
const relationWeights = RELATIONS.map((_, i) => 1 / Math.sqrt(i + 1));
const weightSum = relationWeights.reduce((a, b) => a + b, 0);

export interface BenchFact {
  index: number;
  uuid: string;
  relation: string;
  /** Indices into LANGUAGES, ascending. */
  languages: number[];
}

export function fact(index: number): BenchFact {
  const r = rng(index, 1);
  let pick = r() * weightSum;
  let relation = 0;
  while (pick > relationWeights[relation] && relation < RELATIONS.length - 1) pick -= relationWeights[relation++];
  const languages = LANGUAGES.map((_, i) => i).filter((i) => i === 0 || r() < coverage(i));
  const uuid = createHash("sha1").update(`bench-fact-${index}`).digest("hex");
  return {
    index,
    uuid: `${uuid.slice(0, 8)}-${uuid.slice(8, 12)}-${uuid.slice(12, 16)}-${uuid.slice(16, 20)}-${uuid.slice(20, 32)}`,
    relation: RELATIONS[relation],
    languages,
  };
}

/** The facts covering `runsPerCheckpoint` (fact, language) pairs, and those pairs in storing order. */
export function plan(runsPerCheckpoint: number): { facts: BenchFact[]; pairs: [BenchFact, number][] } {
  const facts: BenchFact[] = [];
  const pairs: [BenchFact, number][] = [];
  for (let i = 0; pairs.length < runsPerCheckpoint; i++) {
    const f = fact(i);
    facts.push(f);
    for (const l of f.languages) if (pairs.length < runsPerCheckpoint) pairs.push([f, l]);
  }
  return { facts, pairs };
}

/** Mean languages per fact: sum of the coverages. */
export const MEAN_LANGUAGES = LANGUAGES.reduce((s, _, i) => s + coverage(i), 0);

const neuronKey = (layer: number, unit: number) => layer * 65536 + unit;

function upperNeuron(r: () => number, c: BenchCheckpoint, from = 0.5): [number, number] {
  const lo = Math.floor(c.nLayers * from);
  return [lo + Math.floor(r() * (c.nLayers - lo)), Math.floor(r() * c.ffnWidth)];
}

const relationPools = new Map<string, [number, number][]>();
/** 40 neurons per (checkpoint, relation) in the upper half of the layers. */
function relationPool(ci: number, c: BenchCheckpoint, relation: string): [number, number][] {
  const key = `${ci}|${relation}`;
  let pool = relationPools.get(key);
  if (!pool) {
    const r = rng(ci, RELATIONS.indexOf(relation), 7);
    pool = Array.from({ length: 40 }, () => upperNeuron(r, c));
    relationPools.set(key, pool);
  }
  return pool;
}

/** One run exactly as the indexer's worker hands it to saveRuns. */
export function benchRun(checkpointId: number, ci: number, f: BenchFact, language: number, setting: RunSetting): RunRecord {
  const c = BENCH_CHECKPOINTS[ci];
  const rel = relationPool(ci, c, f.relation);
  const fr = rng(ci, f.index, 3);
  // the fact's pool: 6 neurons of its relation, 4 of its own
  const factPool: [number, number][] = [...Array.from({ length: 6 }, () => rel[Math.floor(fr() * rel.length)]), ...Array.from({ length: 4 }, () => upperNeuron(fr, c))];
  const r = rng(ci, f.index, language, 5);
  const k = 3 + Math.floor(r() * 8);
  const seen = new Set<number>();
  const take = (n: [number, number]) => {
    const key = neuronKey(n[0], n[1]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
  const max = 0.05 + r() * 1.5;
  const tau = LANGUAGES[language] === "zh" ? 0.2 : 0.3;
  const knowledgeNeurons: StoredNeuron[] = [];
  while (knowledgeNeurons.length < k) {
    const n = r() < 0.8 ? factPool[Math.floor(r() * factPool.length)] : upperNeuron(r, c, 1 / 3);
    if (!take(n)) continue;
    const i = knowledgeNeurons.length;
    knowledgeNeurons.push({ layer: n[0], unit: n[1], score: i === 0 ? max : max * (1 - ((1 - tau) * (i + r() * 0.5)) / (k + 0.5)) });
  }
  const topNeurons: StoredNeuron[] = [...knowledgeNeurons];
  let below = tau * max;
  while (topNeurons.length < TOP_K) {
    const n: [number, number] = r() < 0.7 ? upperNeuron(r, c, 0.25) : [Math.floor(r() * c.nLayers), Math.floor(r() * c.ffnWidth)];
    if (!take(n)) continue;
    below *= 0.97 + r() * 0.025;
    topNeurons.push({ layer: n[0], unit: n[1], score: below });
  }
  const goldProb = 0.05 + r() * 0.9;
  const degenerateSets =
    k >= 2 && r() < 0.25
      ? [
          {
            baseProb: goldProb,
            jointProb: goldProb * r() * 0.7,
            members: [0, 1].map((i) => ({ layer: knowledgeNeurons[i].layer, unit: knowledgeNeurons[i].unit, aloneProb: goldProb * (0.85 + r() * 0.15) })),
          },
        ]
      : [];
  const pieces = 1 + Math.floor(r() * 3);
  const gold = Array.from({ length: pieces }, () => 1000 + Math.floor(r() * 100_000));
  return {
    checkpointId,
    factId: f.uuid,
    languageCode: LANGUAGES[language],
    relationId: f.relation,
    ...setting,
    prompt: `bench subject ${f.index} (${LANGUAGES[language]}) relates by ${f.relation} to ${c.architecture === "MASKED" ? "[MASK]" : ""}`.trim(),
    goldTokenIds: gold,
    goldProbs: gold.map(() => goldProb ** (1 / pieces)),
    goldProb,
    predictedIds: gold,
    predictedText: `object ${f.index}`,
    predictedProb: goldProb,
    tau,
    tauRule: { rule: "paper" },
    maxScore: max,
    topK: TOP_K,
    nLayers: c.nLayers,
    ffnWidth: c.ffnWidth,
    timings: { attributionMs: Math.round(200 + r() * 2000), dknMs: Math.round(r() * 300), totalMs: Math.round(500 + r() * 2300), prompts: 1, dknEvaluations: 1 + k },
    topNeurons,
    knowledgeNeurons,
    degenerateSets,
  };
}
