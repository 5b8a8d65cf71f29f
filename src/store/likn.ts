// Language-independent knowledge neurons (ALGORITHMS.md §5.1): a neuron is language-independent
// for a fact when it is a knowledge neuron of the fact in every requested language, in runs of one
// setting (method, steps, target mode); one run per (fact, language, setting), and a neuron counts
// once per run. A fact's LIKN is an index-only scan of knowledge_neuron (setting, relation,
// language, fact, layer, unit, rank) in the checkpoint's partition, one range per language; a
// relation's LIKN and its language-overlap matrix are counted here from the relation's packed index
// (relation-answers.ts), whatever the language set.
import type { Pool } from "pg";
import type { RunScope } from "../analysis/analysis-store.ts";
import { named } from "./client.ts";
import { NEURON_UNIT_BITS, type RelationIndex, relationIndexes } from "./relation-answers.ts";
import { settingIdSql, settingParams } from "./settings.ts";

export interface LiknQuery extends RunScope {
  languages: readonly string[];
}

/** Neuron rows of a checkpoint ($1), setting ($2-$4), relation (the key `relationKey` gives) and
 * language set (codes, $6). */
const scope = (relationKey: string) => `k.checkpoint_id = $1 AND k.setting_id = ${settingIdSql(2)} AND k.relation_key = ${relationKey}
  AND k.language_key = ANY(ARRAY(SELECT key FROM language WHERE code = ANY($6::text[])))`;

/**
 * The language-independent neurons of each of these facts, ranked by their best rank in any
 * language, in one statement (per fact an index-only scan as above), keyed by fact id; a fact
 * without any (or unknown) has no entry.
 */
export async function factsLanguageIndependentNeurons(pool: Pool, q: LiknQuery & { factIds: readonly string[] }): Promise<Map<string, [number, number][]>> {
  const languages = [...new Set(q.languages)];
  const { rows } = await pool.query<{ fact_id: string; layer: number; unit: number }>(
    named(
      `SELECT f.id AS fact_id, n.layer, n.unit
       FROM fact f JOIN relation rel ON rel.id = f.relation_id
       CROSS JOIN LATERAL (
         SELECT k.layer, k.unit, min(k.rank) AS best FROM knowledge_neuron k
         WHERE ${scope("rel.key")} AND k.fact_key = f.key
         GROUP BY k.layer, k.unit HAVING count(*) = $7
       ) n
       WHERE f.id = ANY($5::text[])
       ORDER BY f.id, n.best, n.layer, n.unit`,
      [q.checkpointId, ...settingParams(q.setting), [...new Set(q.factIds)], languages, languages.length],
    ),
  );
  const out = new Map<string, [number, number][]>();
  for (const r of rows) {
    const list = out.get(r.fact_id);
    if (list) list.push([r.layer, r.unit]);
    else out.set(r.fact_id, [[r.layer, r.unit]]);
  }
  return out;
}

/** factsLanguageIndependentNeurons of one fact. */
export async function factLanguageIndependentNeurons(pool: Pool, q: LiknQuery & { factId: string }): Promise<[number, number][]> {
  return (await factsLanguageIndependentNeurons(pool, { ...q, factIds: [q.factId] })).get(q.factId) ?? [];
}

export interface RelationNeuronRow {
  layer: number;
  unit: number;
  facts: number;
}

const UNIT_MASK = 2 ** NEURON_UNIT_BITS - 1;

/** The runs of fact f in these columns (-1 in `runs` where a language has none): false if any is missing. */
function runsOfFact(index: RelationIndex, f: number, columns: readonly number[], runs: Int32Array): boolean {
  const width = index.languages.size;
  for (let i = 0; i < columns.length; i++) {
    const r = columns[i] < 0 ? -1 : index.runOf[f * width + columns[i]];
    runs[i] = r;
    if (r < 0) return false;
  }
  return true;
}

/** |KN(run a) ∩ KN(run b)|: a merge of two ascending lists. */
function sharedCount(index: RelationIndex, a: number, b: number): number {
  const { neurons, runStart } = index;
  let i = runStart[a], j = runStart[b], n = 0;
  const endA = runStart[a + 1], endB = runStart[b + 1];
  while (i < endA && j < endB) {
    const x = neurons[i], y = neurons[j];
    if (x === y) n++, i++, j++;
    else if (x < y) i++;
    else j++;
  }
  return n;
}

/**
 * Per relation: each language-independent neuron and the number of facts that share it (at least
 * `minFacts`), most shared first, then by layer and unit. Counted from the relation's index.
 */
export async function relationLanguageIndependentNeurons(pool: Pool, q: LiknQuery & { relationId: string; minFacts: number }): Promise<RelationNeuronRow[]> {
  const languages = [...new Set(q.languages)].sort();
  const index = await relationIndexes(pool).get(q);
  return kept(index, `likn|${q.minFacts}|${languages.join(",")}`, () => languageIndependentNeuronsOf(index, languages, q.minFacts));
}

/** The index's kept answer to `question`, computed on the first ask. Callers must not modify it. */
function kept<T>(index: RelationIndex, question: string, compute: () => T): T {
  let answer = index.answers.get(question) as T | undefined;
  if (answer === undefined) index.answers.set(question, (answer = compute()));
  return answer;
}

export function languageIndependentNeuronsOf(index: RelationIndex, languages: readonly string[], minFacts: number): RelationNeuronRow[] {
  const columns = languages.map((l) => index.languages.get(l) ?? -1);
  const { neurons, runStart } = index;
  const runs = new Int32Array(columns.length);
  const facts = new Map<number, number>();
  let candidates = new Int32Array(0);
  for (let f = 0; columns.length && f < index.facts; f++) {
    if (!runsOfFact(index, f, columns, runs)) continue;
    // start from the shortest list, keep what every other run has too
    let shortest = 0;
    for (let i = 1; i < runs.length; i++) if (runStart[runs[i] + 1] - runStart[runs[i]] < runStart[runs[shortest] + 1] - runStart[runs[shortest]]) shortest = i;
    const first = neurons.subarray(runStart[runs[shortest]], runStart[runs[shortest] + 1]);
    if (candidates.length < first.length) candidates = new Int32Array(first.length);
    candidates.set(first);
    let n = first.length;
    for (let i = 0; i < runs.length && n; i++) {
      if (i === shortest) continue;
      let j = runStart[runs[i]], kept = 0;
      const end = runStart[runs[i] + 1];
      for (let c = 0; c < n; c++) {
        while (j < end && neurons[j] < candidates[c]) j++;
        if (j < end && neurons[j] === candidates[c]) candidates[kept++] = candidates[c];
      }
      n = kept;
    }
    for (let c = 0; c < n; c++) facts.set(candidates[c], (facts.get(candidates[c]) ?? 0) + 1);
  }
  return [...facts]
    .filter(([, count]) => count >= minFacts)
    .sort((a, b) => b[1] - a[1] || a[0] - b[0])
    .map(([neuron, count]) => ({ layer: Math.floor(neuron / 2 ** NEURON_UNIT_BITS), unit: neuron & UNIT_MASK, facts: count }));
}

/** Knowledge neurons shared by two languages over the relation's facts with runs in both. */
export interface PairOverlap {
  a: string;
  b: string;
  /** Facts with a run in both languages. */
  facts: number;
  /** Σ over those facts of |KN_a ∩ KN_b| (on the diagonal |KN_a|). */
  shared: number;
  /** Σ over those facts of |KN_a ∪ KN_b|. */
  union: number;
  /** shared / union (0 when union is 0). */
  jaccard: number;
  /** Σ over those facts of |KN_a ∩ KN_b| / |KN_a ∪ KN_b| (a fact with an empty union adds 0). */
  jaccardSum: number;
  /** Mean over those facts of |KN_a ∩ KN_b| / |KN_a ∪ KN_b| (facts with an empty union left out). */
  meanJaccard: number;
  /** Facts whose a and b neurons share at least one neuron. */
  factsSharing: number;
}

/**
 * The language × language overlap of a relation's knowledge neurons (every ordered pair of
 * `languages`, diagonal included, row-major), counted from the relation's index: |KN| of a run is
 * its n_knowledge, the shared neurons of two runs of a fact the intersection of their lists.
 */
export async function relationLanguageOverlap(pool: Pool, q: LiknQuery & { relationId: string }): Promise<PairOverlap[]> {
  const languages = [...new Set(q.languages)];
  if (languages.length > 63) throw new RangeError("at most 63 languages per overlap matrix");
  const index = await relationIndexes(pool).get(q);
  return kept(index, `overlap|${languages.join(",")}`, () => languageOverlapOf(index, languages));
}

export function languageOverlapOf(index: RelationIndex, languages: readonly string[]): PairOverlap[] {
  const n = languages.length;
  const columns = languages.map((l) => index.languages.get(l) ?? -1);
  const width = index.languages.size;
  // per cell (a * n + b): facts, Σ shared, Σ union, Σ jaccard, facts with a non-empty union, facts sharing
  const facts = new Int32Array(n * n), shared = new Float64Array(n * n), union = new Float64Array(n * n);
  const jaccardSum = new Float64Array(n * n), jaccardFacts = new Int32Array(n * n), factsSharing = new Int32Array(n * n);
  const add = (cell: number, s: number, u: number) => {
    facts[cell]++;
    shared[cell] += s;
    union[cell] += u;
    if (u > 0) {
      jaccardSum[cell] += s / u;
      jaccardFacts[cell]++;
    }
    if (s > 0) factsSharing[cell]++;
  };
  const runs = new Int32Array(n);
  for (let f = 0; f < index.facts; f++) {
    for (let a = 0; a < n; a++) runs[a] = columns[a] < 0 ? -1 : index.runOf[f * width + columns[a]];
    for (let a = 0; a < n; a++) {
      if (runs[a] < 0) continue;
      const sizeA = index.knowledgeCount[runs[a]];
      add(a * n + a, sizeA, sizeA);
      for (let b = a + 1; b < n; b++) {
        if (runs[b] < 0) continue;
        const s = sharedCount(index, runs[a], runs[b]);
        const u = sizeA + index.knowledgeCount[runs[b]] - s;
        add(a * n + b, s, u);
        add(b * n + a, s, u);
      }
    }
  }
  return Array.from({ length: n * n }, (_, i) => ({
    a: languages[Math.floor(i / n)],
    b: languages[i % n],
    facts: facts[i],
    shared: shared[i],
    union: union[i],
    jaccard: union[i] > 0 ? shared[i] / union[i] : 0,
    jaccardSum: jaccardSum[i],
    meanJaccard: jaccardFacts[i] ? jaccardSum[i] / jaccardFacts[i] : 0,
    factsSharing: factsSharing[i],
  }));
}
