// Read queries over stored runs and knowledge neurons, each served by an index named in README.md.
import type { Pool } from "pg";
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
  gold_prob, predicted_ids, predicted_text, predicted_prob, tau, tau_rule, max_score, n_layers, ffn_width, timings, created_at`;

function toRun(r: Record<string, unknown>): RunRow {
  return {
    id: BigInt(r.id as string),
    checkpointId: r.checkpoint_id as number,
    factId: r.fact_id as string,
    languageCode: r.language_code as string,
    relationId: r.relation_id as string,
    method: r.method as string,
    steps: r.steps as number,
    targetMode: r.target_mode as string,
    prompt: r.prompt as string,
    goldTokenIds: r.gold_token_ids as number[],
    goldProb: r.gold_prob as number,
    predictedIds: r.predicted_ids as number[],
    predictedText: r.predicted_text as string,
    predictedProb: r.predicted_prob as number,
    tau: r.tau as number,
    tauRule: r.tau_rule as RunRecord["tauRule"],
    maxScore: r.max_score as number,
    nLayers: r.n_layers as number,
    ffnWidth: r.ffn_width as number,
    timings: r.timings as Record<string, number>,
    createdAt: r.created_at as Date,
  };
}

/** The most recent run of (checkpoint, fact, language, method), any steps / target mode. */
export async function latestRun(pool: Pool, checkpointId: number, factId: string, language: string, method: string): Promise<RunRow | null> {
  const { rows } = await pool.query(
    `SELECT ${RUN_COLUMNS} FROM attribution_run
     WHERE checkpoint_id = $1 AND fact_id = $2 AND language_code = $3 AND method = $4
     ORDER BY created_at DESC, id DESC LIMIT 1`,
    [checkpointId, factId, language, method],
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
 * Facts whose knowledge neurons include (layer, unit), one row per fact with the languages in
 * which it was selected; keyset-paged by fact id over the (checkpoint, layer, unit, fact) index.
 */
export async function factsOfNeuron(
  pool: Pool,
  q: { checkpointId: number; layer: number; unit: number; method?: string | null; language?: string | null; after?: string | null; first: number },
): Promise<{ rows: NeuronFactRow[]; totalCount: number; hasNextPage: boolean }> {
  const filter = `checkpoint_id = $1 AND layer = $2 AND unit = $3 AND ($4::text IS NULL OR method = $4) AND ($5::text IS NULL OR language_code = $5)`;
  const params = [q.checkpointId, q.layer, q.unit, q.method ?? null, q.language ?? null];
  const [page, count] = await Promise.all([
    pool.query<{ fact_id: string; languages: string[]; max_score: number }>(
      `SELECT fact_id, array_agg(DISTINCT language_code ORDER BY language_code) AS languages, max(score) AS max_score
       FROM knowledge_neuron WHERE ${filter} AND ($6::text IS NULL OR fact_id > $6)
       GROUP BY fact_id ORDER BY fact_id LIMIT $7`,
      [...params, q.after ?? null, q.first + 1],
    ),
    pool.query<{ n: number }>(`SELECT count(DISTINCT fact_id)::int AS n FROM knowledge_neuron WHERE ${filter}`, params),
  ]);
  return {
    rows: page.rows.slice(0, q.first).map((r) => ({ factId: r.fact_id, languages: r.languages, maxScore: r.max_score })),
    totalCount: count.rows[0].n,
    hasNextPage: page.rows.length > q.first,
  };
}
