// Language-independent knowledge neurons straight from knowledge_neuron (ALGORITHMS.md §5.1):
// a neuron is language-independent for a fact when it is a knowledge neuron of the fact in every
// requested language, in runs of one setting (method, steps, target mode). Both queries are
// index-only scans of knowledge_neuron (setting, relation, language, fact, layer, unit, rank) in
// the checkpoint's partition, one range per language.
import type { Pool, PoolClient } from "pg";
import type { RunScope } from "../analysis/analysis-store.ts";
import { named } from "./client.ts";
import { relationAnswer } from "./relation-answers.ts";
import { settingIdSql, settingParams } from "./settings.ts";

export interface LiknQuery extends RunScope {
  languages: readonly string[];
}

/** Neuron rows of a checkpoint ($1), setting ($2-$4), relation (the key `relationKey` gives) and
 * language set (codes, $6). */
const scope = (relationKey: string) => `k.checkpoint_id = $1 AND k.setting_id = ${settingIdSql(2)} AND k.relation_key = ${relationKey}
  AND k.language_key = ANY(ARRAY(SELECT key FROM language WHERE code = ANY($6::text[])))`;

/** The fact's language-independent neurons, ranked by their best rank in any language. */
export async function factLanguageIndependentNeurons(pool: Pool, q: LiknQuery & { factId: string }): Promise<[number, number][]> {
  const languages = [...new Set(q.languages)];
  const { rows } = await pool.query<{ layer: number; unit: number }>(
    named(
    `SELECT k.layer, k.unit FROM knowledge_neuron k
     WHERE ${scope("(SELECT rel.key FROM fact f JOIN relation rel ON rel.id = f.relation_id WHERE f.id = $5)")}
       AND k.fact_key = (SELECT key FROM fact WHERE id = $5)
     GROUP BY k.layer, k.unit HAVING count(*) = $7
     ORDER BY min(k.rank), k.layer, k.unit`,
    [q.checkpointId, ...settingParams(q.setting), q.factId, languages, languages.length],
    ),
  );
  return rows.map((r) => [r.layer, r.unit]);
}

export interface RelationNeuronRow {
  layer: number;
  unit: number;
  facts: number;
}

/**
 * Per relation: each language-independent neuron and the number of facts that share it. A
 * relation-level answer (relation-answers.ts): computed once per version of the relation's runs.
 */
export async function relationLanguageIndependentNeurons(pool: Pool, q: LiknQuery & { relationId: string; minFacts: number }): Promise<RelationNeuronRow[]> {
  const languages = [...new Set(q.languages)].sort();
  // One run per (fact, language, setting) and each neuron once per run: count(*) counts languages.
  return relationAnswer(pool, { ...q, kind: "likn", args: `${languages.join(",")};${q.minFacts}` }, async (db) => {
    const { rows } = await db.query<RelationNeuronRow>(
      named(
        `SELECT layer, unit, count(*)::int AS facts FROM (
           SELECT k.fact_key, k.layer, k.unit FROM knowledge_neuron k
           WHERE ${scope("(SELECT key FROM relation WHERE id = $5)")}
           GROUP BY k.fact_key, k.layer, k.unit HAVING count(*) = $7
         ) shared
         GROUP BY layer, unit HAVING count(*) >= $8
         ORDER BY facts DESC, layer, unit`,
        [q.checkpointId, ...settingParams(q.setting), q.relationId, languages, languages.length, q.minFacts],
      ),
    );
    return rows;
  });
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
 * `languages`, diagonal included, row-major): the database returns each fact's runs (|KN| per
 * language) and, per (fact, neuron) selected in two or more of the languages, the bit mask of
 * those languages; the pairs are counted here. Index-only scans: attribution_run (setting,
 * relation, language) and knowledge_neuron (setting, relation, language, fact, layer, unit). A
 * relation-level answer (relation-answers.ts): computed once per version of the relation's runs
 * and language set, whatever the order the languages are asked in.
 */
export async function relationLanguageOverlap(pool: Pool, q: LiknQuery & { relationId: string }): Promise<PairOverlap[]> {
  const languages = [...new Set(q.languages)];
  if (languages.length > 63) throw new RangeError("at most 63 languages per overlap matrix");
  const sorted = [...languages].sort();
  const cells = await relationAnswer(pool, { ...q, kind: "overlap", args: sorted.join(",") }, (db) => overlapOf(db, { ...q, languages: sorted }));
  const byPair = new Map(cells.map((c) => [`${c.a}|${c.b}`, c]));
  return languages.flatMap((a) => languages.map((b) => byPair.get(`${a}|${b}`)!));
}

async function overlapOf(db: Pool | PoolClient, q: LiknQuery & { relationId: string }): Promise<PairOverlap[]> {
  const languages = q.languages;
  const params = [q.checkpointId, ...settingParams(q.setting), q.relationId, languages];
  // language keys in the order of `languages`: bit i of a mask is languages[i]
  const keys = `ARRAY(SELECT l.key FROM unnest($6::text[]) WITH ORDINALITY AS x(code, i) JOIN language l ON l.code = x.code ORDER BY x.i)`;
  // one after the other: on one connection, in the caller's snapshot
  const runs = await db.query<{ fact_key: number; i: number; n: number }>(
    named(
      `SELECT r.fact_key, array_position(${keys}, r.language_key::int) - 1 AS i, r.n_knowledge AS n FROM attribution_run r
       WHERE r.checkpoint_id = $1 AND r.setting_id = ${settingIdSql(2)} AND r.relation_key = (SELECT key FROM relation WHERE id = $5)
         AND r.language_key = ANY(ARRAY(SELECT key FROM language WHERE code = ANY($6::text[])))`,
      params,
    ),
  );
  const masks = await db.query<{ fact_key: number; mask: string }>(
    named(
      `SELECT k.fact_key, bit_or(1::bigint << (array_position(${keys}, k.language_key::int) - 1))::text AS mask
       FROM knowledge_neuron k WHERE ${scope("(SELECT key FROM relation WHERE id = $5)")}
       GROUP BY k.fact_key, k.layer, k.unit HAVING count(*) >= 2`,
      params,
    ),
  );
  const n = languages.length;
  // per fact: |KN| by language index (-1: no run)
  const perFact = new Map<number, Int32Array>();
  for (const r of runs.rows) {
    let sizes = perFact.get(r.fact_key);
    if (!sizes) perFact.set(r.fact_key, (sizes = new Int32Array(n).fill(-1)));
    sizes[r.i] = r.n;
  }
  const sharedByFact = new Map<number, Int32Array>();
  for (const m of masks.rows) {
    let shared = sharedByFact.get(m.fact_key);
    if (!shared) sharedByFact.set(m.fact_key, (shared = new Int32Array(n * n)));
    const bits: number[] = [];
    for (let i = 0, mask = BigInt(m.mask); mask; i++, mask >>= 1n) if (mask & 1n) bits.push(i);
    for (const a of bits) for (const b of bits) if (a !== b) shared[a * n + b]++;
  }
  const cells = Array.from({ length: n * n }, () => ({ facts: 0, shared: 0, union: 0, jaccardSum: 0, jaccardFacts: 0, factsSharing: 0 }));
  for (const [fact, sizes] of perFact) {
    const shared = sharedByFact.get(fact);
    for (let a = 0; a < n; a++) {
      if (sizes[a] < 0) continue;
      for (let b = 0; b < n; b++) {
        if (sizes[b] < 0) continue;
        const s = a === b ? sizes[a] : (shared?.[a * n + b] ?? 0);
        const u = sizes[a] + sizes[b] - s;
        const cell = cells[a * n + b];
        cell.facts++;
        cell.shared += s;
        cell.union += u;
        if (u > 0) {
          cell.jaccardSum += s / u;
          cell.jaccardFacts++;
        }
        if (s > 0) cell.factsSharing++;
      }
    }
  }
  return cells.map((c, i) => ({
    a: languages[Math.floor(i / n)],
    b: languages[i % n],
    facts: c.facts,
    shared: c.shared,
    union: c.union,
    jaccard: c.union > 0 ? c.shared / c.union : 0,
    jaccardSum: c.jaccardSum,
    meanJaccard: c.jaccardFacts ? c.jaccardSum / c.jaccardFacts : 0,
    factsSharing: c.factsSharing,
  }));
}
