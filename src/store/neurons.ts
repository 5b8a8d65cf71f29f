// Read queries over stored runs and knowledge neurons, each served by an index named in README.md.
import type { Pool } from "pg";
import type { RunScope } from "../analysis/analysis-store.ts";
import type { TargetMode } from "../attribution/fact-attribution.ts";
import type { Method } from "../attribution/integrated-gradients.ts";
import type { Fact } from "./generated/client.ts";
import type { RunRecord } from "./runs.ts";
import { named } from "./client.ts";
import { LruMap } from "./lru-map.ts";
import { settingIdSql, settingKey, settingParams } from "./settings.ts";

/** A stored run as the API reads it: the written record without its neuron lists, plus its row id. */
export type RunRow = Omit<RunRecord, "goldProbs" | "topK" | "topNeurons" | "knowledgeNeurons" | "degenerateSets" | "grid"> & {
  id: bigint;
  createdAt: Date;
};

export interface NeuronRow {
  layer: number;
  unit: number;
  score: number;
  rank: number;
}

/** A run with its text keys (fact uuid, language code, relation id) and setting, from its integer keys. */
const RUN_COLUMNS = `r.id, r.checkpoint_id, f.id AS fact_id, l.code AS language_code, rel.id AS relation_id, s.method, s.steps,
    s.target_mode, r.prompt, r.gold_token_ids, r.gold_prob, r.predicted_ids, r.predicted_text, r.predicted_prob, r.tau, r.tau_rule, r.max_score,
    r.n_layers, r.ffn_width, r.timings, r.layer_max, r.layer_max_unit, r.layer_positive_sum, r.created_at`;
const RUN_FROM = `FROM attribution_run r
  JOIN run_setting s ON s.id = r.setting_id
  JOIN fact f ON f.key = r.fact_key
  JOIN language l ON l.key = r.language_key
  JOIN relation rel ON rel.key = r.relation_key`;
const RUN_SELECT = `SELECT ${RUN_COLUMNS}
  ${RUN_FROM}`;

interface RunDbRow {
  id: string;
  checkpoint_id: number;
  fact_id: string;
  language_code: string;
  relation_id: string;
  method: Method;
  steps: number;
  target_mode: TargetMode;
  prompt: string;
  gold_token_ids: number[];
  gold_prob: number;
  predicted_ids: number[];
  predicted_text: string;
  predicted_prob: number;
  tau: number;
  tau_rule: RunRecord["tauRule"];
  max_score: number;
  n_layers: number;
  ffn_width: number;
  timings: Record<string, number>;
  layer_max: number[] | null;
  layer_max_unit: number[] | null;
  layer_positive_sum: number[] | null;
  created_at: Date;
}

function toRun(r: RunDbRow): RunRow {
  return {
    id: BigInt(r.id),
    checkpointId: r.checkpoint_id,
    factId: r.fact_id,
    languageCode: r.language_code,
    relationId: r.relation_id,
    method: r.method,
    steps: r.steps,
    targetMode: r.target_mode,
    prompt: r.prompt,
    goldTokenIds: r.gold_token_ids,
    goldProb: r.gold_prob,
    predictedIds: r.predicted_ids,
    predictedText: r.predicted_text,
    predictedProb: r.predicted_prob,
    tau: r.tau,
    tauRule: r.tau_rule,
    maxScore: r.max_score,
    nLayers: r.n_layers,
    ffnWidth: r.ffn_width,
    timings: r.timings,
    layerSummaries: r.layer_max?.map((maxScore, layer) => ({ maxScore, maxUnit: r.layer_max_unit![layer], positiveSum: r.layer_positive_sum![layer] })),
    createdAt: r.created_at,
  };
}

/** The run of (checkpoint, setting, fact, language): a run key is stored at most once. */
export async function findRun(pool: Pool, q: RunScope & { factId: string; language: string }): Promise<RunRow | null> {
  const { rows } = await pool.query<RunDbRow>(
    named(
      `${RUN_SELECT}
       WHERE r.checkpoint_id = $1 AND r.setting_id = ${settingIdSql(2)}
         AND r.fact_key = (SELECT key FROM fact WHERE id = $5) AND r.language_key = (SELECT key FROM language WHERE code = $6)`,
      [q.checkpointId, ...settingParams(q.setting), q.factId, q.language],
    ),
  );
  return rows.length ? toRun(rows[0]) : null;
}

/** A run with its knowledge neurons (in rank order), as the API's point queries on a run read it. */
export interface RunWithKnowledgeNeurons {
  run: RunRow;
  knowledgeNeurons: NeuronRow[];
}

/**
 * findRun and the run's knowledge neurons for each of these facts, in one language and setting, in
 * one statement (the neurons as a JSON array per run), keyed by fact id; a fact without such a run
 * (or unknown) has no entry. The API's Fact.knowledgeNeurons of a list of facts, and its point
 * queries on one run (one fact), answer in one round trip.
 */
export async function findRunsWithKnowledgeNeurons(
  pool: Pool,
  q: RunScope & { factIds: readonly string[]; language: string },
): Promise<Map<string, RunWithKnowledgeNeurons>> {
  const { rows } = await pool.query<RunDbRow & { knowledge_neurons: [number, number, number, number][] }>(
    named(
      `SELECT ${RUN_COLUMNS},
         (SELECT coalesce(json_agg(json_build_array(k.layer, k.unit, k.score, k.rank) ORDER BY k.rank), '[]')
          FROM knowledge_neuron k WHERE k.checkpoint_id = $1 AND k.run_id = r.id) AS knowledge_neurons
       ${RUN_FROM}
       WHERE r.checkpoint_id = $1 AND r.setting_id = ${settingIdSql(2)}
         AND r.fact_key = ANY(ARRAY(SELECT key FROM fact WHERE id = ANY($5::text[])))
         AND r.language_key = (SELECT key FROM language WHERE code = $6)`,
      [q.checkpointId, ...settingParams(q.setting), [...new Set(q.factIds)], q.language],
    ),
  );
  return new Map(
    rows.map((r) => [r.fact_id, { run: toRun(r), knowledgeNeurons: r.knowledge_neurons.map(([layer, unit, score, rank]) => ({ layer, unit, score, rank })) }]),
  );
}

/** findRunsWithKnowledgeNeurons of one fact: null when it has no such run. */
export async function findRunWithKnowledgeNeurons(pool: Pool, q: RunScope & { factId: string; language: string }): Promise<RunWithKnowledgeNeurons | null> {
  return (await findRunsWithKnowledgeNeurons(pool, { ...q, factIds: [q.factId] })).get(q.factId) ?? null;
}

/** A stored run as its neuron rows are found: its id within its checkpoint's partition. */
export interface RunRef {
  id: bigint;
  checkpointId: number;
}

const refArrays = (runs: readonly RunRef[]) => [runs.map((r) => r.id.toString()), [...new Set(runs.map((r) => r.checkpointId))]];

export async function knowledgeNeuronsOfRuns(pool: Pool, runs: readonly RunRef[]): Promise<Map<bigint, NeuronRow[]>> {
  const { rows } = await pool.query<{ run_id: string } & NeuronRow>(
    named(`SELECT run_id, layer, unit, score, rank FROM knowledge_neuron WHERE run_id = ANY($1::bigint[]) AND checkpoint_id = ANY($2::int[]) ORDER BY run_id, rank`, refArrays(runs)),
  );
  return groupByRun(rows);
}

/** The top-K scores of runs, in rank order: each run's one neuron_score row, its arrays unrolled (rank = index). */
export async function topScoresOfRuns(pool: Pool, runs: readonly RunRef[]): Promise<Map<bigint, NeuronRow[]>> {
  const { rows } = await pool.query<{ run_id: string; layers: number[]; units: number[]; scores: number[] }>(
    named(`SELECT run_id, layers, units, scores FROM neuron_score WHERE run_id = ANY($1::bigint[]) AND checkpoint_id = ANY($2::int[]) ORDER BY run_id`, refArrays(runs)),
  );
  return new Map(rows.map((r) => [BigInt(r.run_id), r.scores.map((score, rank) => ({ layer: r.layers[rank], unit: r.units[rank], score, rank }))]));
}

function groupByRun(rows: ({ run_id: string } & NeuronRow)[]): Map<bigint, NeuronRow[]> {
  const out = new Map<bigint, NeuronRow[]>();
  for (const { run_id, ...n } of rows) {
    const id = BigInt(run_id);
    const list = out.get(id) ?? [];
    list.push(n);
    out.set(id, list);
  }
  return out;
}

export interface NeuronFactRow {
  factId: string;
  /** The fact's integer key: the page order (FACT) and the cursor. */
  factKey: number;
  /** The fact's row, read with the page. */
  fact: Fact;
  languages: string[];
  /** The neuron's highest score over the fact's languages: the page order (SCORE). */
  maxScore: number;
}

/** How many neuron fact counts a process keeps (each a few dozen bytes). */
const NEURON_FACT_COUNTS = 10_000;

interface NeuronFactCount {
  /** The highest relation_version of the checkpoint and setting when counted (null: none). */
  version: string | null;
  count: number;
}

/**
 * Counts of a neuron's facts, per pool (so per database), least recently counted first out. A
 * popular neuron is a knowledge neuron in thousands of runs, and counting its facts took two thirds
 * of a page's statement; the count is kept with the version of the checkpoint's runs it was taken
 * at (every stored, replaced or deleted run raises its relation's version from one sequence, and
 * clearing the checkpoint drops its versions), and counted again when that has changed.
 */
const neuronFactCountsByPool = new WeakMap<Pool, LruMap<string, NeuronFactCount>>();

function neuronFactCounts(pool: Pool): LruMap<string, NeuronFactCount> {
  let counts = neuronFactCountsByPool.get(pool);
  if (!counts) neuronFactCountsByPool.set(pool, (counts = new LruMap(NEURON_FACT_COUNTS)));
  return counts;
}

/**
 * Facts whose knowledge neurons include (layer, unit) in runs of one setting, one row per fact with
 * the languages in which it was selected, over the index (setting, layer, unit, fact, language,
 * score) of the checkpoint's partition: keyset-paged by fact key (FACT, index-only), or by the
 * highest score descending then fact key (SCORE: the neuron's facts are grouped, then sorted).
 * One statement: the page, its facts' rows and the total count (a page is one round trip), the
 * count kept per process while the checkpoint's runs are unchanged (neuronFactCounts).
 */
export async function factsOfNeuron(
  pool: Pool,
  q: RunScope & {
    layer: number;
    unit: number;
    language?: string | null;
    relationId?: string | null;
    /** FACT (the default) or SCORE. */
    orderBy?: "SCORE" | "FACT";
    /** The page starts after this fact (FACT), or after (afterScore, afterFactKey) (SCORE). */
    afterFactKey?: number | null;
    afterScore?: number | null;
    first: number;
  },
): Promise<{ rows: NeuronFactRow[]; totalCount: number; hasNextPage: boolean }> {
  const params: unknown[] = [q.checkpointId, ...settingParams(q.setting), q.layer, q.unit];
  let filter = `k.checkpoint_id = $1 AND k.setting_id = ${settingIdSql(2)} AND k.layer = $5 AND k.unit = $6`;
  if (q.language != null) {
    params.push(q.language);
    filter += ` AND k.language_key = (SELECT key FROM language WHERE code = $${params.length})`;
  }
  if (q.relationId != null) {
    params.push(q.relationId);
    filter += ` AND k.relation_key = (SELECT key FROM relation WHERE id = $${params.length})`;
  }
  const n = params.length;
  const byScore = q.orderBy === "SCORE";
  let keyset = "";
  if (q.afterFactKey != null && byScore) {
    params.push(q.afterScore ?? 0, q.afterFactKey);
    keyset = `HAVING max(k.score) < $${n + 1}::float8 OR (max(k.score) = $${n + 1}::float8 AND k.fact_key > $${n + 2})`;
  } else if (q.afterFactKey != null) {
    params.push(q.afterFactKey);
    keyset = `HAVING k.fact_key > $${n + 1}`;
  }
  params.push(q.first + 1);
  const limit = params.length;
  const counts = neuronFactCounts(pool);
  const countKey = [q.checkpointId, settingKey(q.setting), q.layer, q.unit, q.language ?? "", q.relationId ?? ""].join("|");
  const counted = counts.get(countKey);
  params.push(counted?.version ?? null);
  const order = byScore ? "max_score DESC, fact_key" : "fact_key";
  const outerOrder = byScore ? "p.max_score DESC, p.fact_key" : "p.fact_key";
  // the count is one row, with the version of the checkpoint's runs it is counted at, and counted
  // only when that is not the version of the count kept; the page joins it (LEFT: an empty page still brings the count)
  const { rows } = await pool.query<{
    version: string | null;
    total_count: number | null;
    fact_id: string | null;
    fact_key: number;
    relation_id: string;
    subject_uri: string;
    object_uri: string;
    languages: string[];
    max_score: number;
  }>(
    named(
      `SELECT c.version, c.total_count, f.id AS fact_id, p.fact_key, f.relation_id, f.subject_uri, f.object_uri,
              (SELECT array_agg(l.code ORDER BY l.code) FROM language l WHERE l.key = ANY(p.language_keys)) AS languages, p.max_score
       FROM (SELECT v.version,
                    CASE WHEN v.version IS NOT DISTINCT FROM $${limit + 1}::text THEN NULL
                         ELSE (SELECT count(*)::int FROM (SELECT k.fact_key FROM knowledge_neuron k WHERE ${filter} GROUP BY k.fact_key) g) END AS total_count
             FROM (SELECT max(r.version)::text AS version FROM relation_version r WHERE r.checkpoint_id = $1 AND r.setting_id = ${settingIdSql(2)}) v) c
       LEFT JOIN ((SELECT k.fact_key, array_agg(k.language_key) AS language_keys, max(k.score)::float8 AS max_score
                   FROM knowledge_neuron k WHERE ${filter}
                   GROUP BY k.fact_key ${keyset} ORDER BY ${order} LIMIT $${limit}) p
                  JOIN fact f ON f.key = p.fact_key) ON true
       ORDER BY ${outerOrder}`,
      params,
    ),
  );
  const page = rows.filter((r) => r.fact_id !== null);
  const first = rows.at(0); // always a row (the count's), but for a stand-in pool that only EXPLAINs
  // counted anew: keep it (a kept count was refreshed by counts.get above)
  if (first && first.total_count !== null) counts.set(countKey, { version: first.version, count: first.total_count });
  const totalCount = first?.total_count ?? counted?.count ?? 0;
  return {
    rows: page.slice(0, q.first).map((r) => ({
      factId: r.fact_id!,
      factKey: r.fact_key,
      fact: { id: r.fact_id!, key: r.fact_key, relationId: r.relation_id, subjectUri: r.subject_uri, objectUri: r.object_uri },
      languages: r.languages,
      maxScore: r.max_score,
    })),
    totalCount,
    hasNextPage: page.length > q.first,
  };
}

/** For how many facts of each relation (layer, unit) is a knowledge neuron, in any language; most first. */
export async function relationsOfNeuron(pool: Pool, q: RunScope & { layer: number; unit: number }): Promise<{ relationId: string; facts: number }[]> {
  const { rows } = await pool.query<{ relation_id: string; facts: number }>(
    `SELECT rel.id AS relation_id, p.facts FROM (
       SELECT k.relation_key, count(DISTINCT k.fact_key)::int AS facts FROM knowledge_neuron k
       WHERE k.checkpoint_id = $1 AND k.setting_id = ${settingIdSql(2)} AND k.layer = $5 AND k.unit = $6 GROUP BY k.relation_key) p
     JOIN relation rel ON rel.key = p.relation_key ORDER BY p.facts DESC, rel.id`,
    [q.checkpointId, ...settingParams(q.setting), q.layer, q.unit],
  );
  return rows.map((r) => ({ relationId: r.relation_id, facts: r.facts }));
}

/** Which stored runs of a fact: optionally one checkpoint, some languages, one setting (null: any). */
export interface RunFilter {
  checkpointId?: number | null;
  languages?: readonly string[] | null;
  method?: string | null;
  steps?: number | null;
  targetMode?: string | null;
}

/** The stored runs of many facts under one filter, in one statement: per fact id, by checkpoint, language, setting. */
export async function runsOfFacts(pool: Pool, factIds: readonly string[], q: RunFilter): Promise<Map<string, RunRow[]>> {
  const { rows } = await pool.query<RunDbRow>(
    `${RUN_SELECT}
     WHERE r.fact_key = ANY(SELECT key FROM fact WHERE id = ANY($1::text[]))
       AND ($2::int IS NULL OR r.checkpoint_id = $2)
       AND ($3::text[] IS NULL OR l.code = ANY($3))
       AND ($4::attribution_method IS NULL OR s.method = $4::attribution_method)
       AND ($5::int IS NULL OR s.steps = $5)
       AND ($6::target_mode IS NULL OR s.target_mode = $6::target_mode)
     ORDER BY f.id, r.checkpoint_id, l.code, s.id`,
    [[...factIds], q.checkpointId ?? null, q.languages ?? null, q.method ?? null, q.steps ?? null, q.targetMode ?? null],
  );
  const out = new Map<string, RunRow[]>();
  for (const row of rows) {
    const run = toRun(row);
    const list = out.get(run.factId);
    if (list) list.push(run);
    else out.set(run.factId, [run]);
  }
  return out;
}

/** Languages in which the checkpoint has runs of the setting (of one relation, unless null), by code. */
export async function languagesWithRuns(pool: Pool, q: RunScope & { relationId?: string | null }): Promise<string[]> {
  const { rows } = await pool.query<{ code: string }>(
    `SELECT l.code FROM language l
     WHERE EXISTS (SELECT 1 FROM attribution_run r WHERE r.checkpoint_id = $1 AND r.setting_id = ${settingIdSql(2)} AND r.language_key = l.key
                   AND ($5::text IS NULL OR r.relation_key = (SELECT key FROM relation WHERE id = $5)))
     ORDER BY l.code`,
    [q.checkpointId, ...settingParams(q.setting), q.relationId ?? null],
  );
  return rows.map((r) => r.code);
}
