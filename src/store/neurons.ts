// Read queries over stored runs and knowledge neurons, each served by an index named in README.md.
import type { Pool } from "pg";
import type { RunScope } from "../analysis/analysis-store.ts";
import type { RunRecord } from "./runs.ts";

/** A stored run as the API reads it: the written record without its neuron lists, plus its row id. */
export type RunRow = Omit<RunRecord, "goldProbs" | "topK" | "topNeurons" | "knowledgeNeurons" | "degenerateSets"> & {
  id: bigint;
  createdAt: Date;
};

export interface NeuronRow {
  layer: number;
  unit: number;
  score: number;
  rank: number;
}

const RUN_COLUMNS = `id, checkpoint_id, fact_id, language_code, relation_id, method, steps, target_mode, prompt, gold_token_ids,
  gold_prob, predicted_ids, predicted_text, predicted_prob, tau, max_score, n_layers, ffn_width, timings, created_at`;

interface RunDbRow {
  id: string;
  checkpoint_id: number;
  fact_id: string;
  language_code: string;
  relation_id: string;
  method: string;
  steps: number;
  target_mode: string;
  prompt: string;
  gold_token_ids: number[];
  gold_prob: number;
  predicted_ids: number[];
  predicted_text: string;
  predicted_prob: number;
  tau: number;
  max_score: number;
  n_layers: number;
  ffn_width: number;
  timings: Record<string, number>;
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
    maxScore: r.max_score,
    nLayers: r.n_layers,
    ffnWidth: r.ffn_width,
    timings: r.timings,
    createdAt: r.created_at,
  };
}

/** The run of (checkpoint, setting, fact, language): a run key is stored at most once. */
export async function findRun(pool: Pool, q: RunScope & { factId: string; language: string }): Promise<RunRow | null> {
  const { rows } = await pool.query<RunDbRow>(
    `SELECT ${RUN_COLUMNS} FROM attribution_run
     WHERE checkpoint_id = $1 AND fact_id = $2 AND language_code = $3 AND method = $4 AND steps = $5 AND target_mode = $6`,
    [q.checkpointId, q.factId, q.language, q.setting.method, q.setting.steps, q.setting.targetMode],
  );
  return rows.length ? toRun(rows[0]) : null;
}

export async function knowledgeNeuronsOfRuns(pool: Pool, runIds: readonly bigint[]): Promise<Map<bigint, NeuronRow[]>> {
  const { rows } = await pool.query<{ run_id: string } & NeuronRow>(
    `SELECT run_id, layer, unit, score, rank FROM knowledge_neuron WHERE run_id = ANY($1::bigint[]) ORDER BY run_id, rank`,
    [runIds.map(String)],
  );
  return groupByRun(rows);
}

export async function topScoresOfRuns(pool: Pool, runIds: readonly bigint[]): Promise<Map<bigint, NeuronRow[]>> {
  const { rows } = await pool.query<{ run_id: string } & NeuronRow>(
    `SELECT run_id, layer, unit, score, rank FROM neuron_score WHERE run_id = ANY($1::bigint[]) ORDER BY run_id, rank`,
    [runIds.map(String)],
  );
  return groupByRun(rows);
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
  languages: string[];
  maxScore: number;
}

/**
 * Facts whose knowledge neurons include (layer, unit) in runs of one setting, one row per fact with
 * the languages in which it was selected; keyset-paged by fact id.
 */
export async function factsOfNeuron(
  pool: Pool,
  q: RunScope & { layer: number; unit: number; language?: string | null; after?: string | null; first: number },
): Promise<{ rows: NeuronFactRow[]; totalCount: number; hasNextPage: boolean }> {
  const filter = `k.checkpoint_id = $1 AND k.layer = $2 AND k.unit = $3 AND r.method = $4 AND r.steps = $5 AND r.target_mode = $6
    AND ($7::text IS NULL OR k.language_code = $7)`;
  const from = `knowledge_neuron k JOIN attribution_run r ON r.id = k.run_id`;
  const params = [q.checkpointId, q.layer, q.unit, q.setting.method, q.setting.steps, q.setting.targetMode, q.language ?? null];
  const [page, count] = await Promise.all([
    pool.query<{ fact_id: string; languages: string[]; max_score: number }>(
      `SELECT k.fact_id, array_agg(DISTINCT k.language_code ORDER BY k.language_code) AS languages, max(k.score) AS max_score
       FROM ${from} WHERE ${filter} AND ($8::text IS NULL OR k.fact_id > $8)
       GROUP BY k.fact_id ORDER BY k.fact_id LIMIT $9`,
      [...params, q.after ?? null, q.first + 1],
    ),
    pool.query<{ n: number }>(`SELECT count(DISTINCT k.fact_id)::int AS n FROM ${from} WHERE ${filter}`, params),
  ]);
  return {
    rows: page.rows.slice(0, q.first).map((r) => ({ factId: r.fact_id, languages: r.languages, maxScore: r.max_score })),
    totalCount: count.rows[0].n,
    hasNextPage: page.rows.length > q.first,
  };
}

/** Languages in which the checkpoint has runs of the setting, by code. */
export async function languagesWithRuns(pool: Pool, q: RunScope): Promise<string[]> {
  const { rows } = await pool.query<{ language_code: string }>(
    `SELECT DISTINCT language_code FROM attribution_run WHERE checkpoint_id = $1 AND method = $2 AND steps = $3 AND target_mode = $4 ORDER BY 1`,
    [q.checkpointId, q.setting.method, q.setting.steps, q.setting.targetMode],
  );
  return rows.map((r) => r.language_code);
}
