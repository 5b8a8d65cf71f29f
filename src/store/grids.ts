// Full layer x unit attribution grids of stored runs: read from neuron_score when the run kept
// every score (top_k >= layers x width), else from the run_grid cache that attributionGrid fills
// after recomputing a run through the model host.
import type { Pool } from "pg";
import type { RunRef } from "./neurons.ts";

export interface Grid {
  layers: number;
  width: number;
  /** Row-major: scores[layer * width + unit]. */
  scores: Float32Array;
}

/** The run's grid from its stored scores, or null when it stored fewer than layers x width of them. */
export async function storedGrid(pool: Pool, run: RunRef & { nLayers: number; ffnWidth: number }): Promise<Grid | null> {
  const cells = run.nLayers * run.ffnWidth;
  const { rows } = await pool.query<{ layer: number; unit: number; score: number }>(
    `SELECT layer, unit, score FROM neuron_score WHERE run_id = $1 AND checkpoint_id = $2
       AND (SELECT top_k FROM attribution_run WHERE id = $1 AND checkpoint_id = $2) >= $3`,
    [run.id.toString(), run.checkpointId, cells],
  );
  if (rows.length < cells) return null;
  const scores = new Float32Array(cells);
  for (const r of rows) scores[r.layer * run.ffnWidth + r.unit] = r.score;
  return { layers: run.nLayers, width: run.ffnWidth, scores };
}

export async function cachedGrid(pool: Pool, run: RunRef): Promise<Grid | null> {
  const { rows } = await pool.query<{ n_layers: number; ffn_width: number; scores: Buffer }>(
    `SELECT n_layers, ffn_width, scores FROM run_grid WHERE run_id = $1 AND checkpoint_id = $2`,
    [run.id.toString(), run.checkpointId],
  );
  if (!rows.length) return null;
  const { n_layers, ffn_width, scores } = rows[0];
  // copy: the Buffer may sit at an offset that is not a multiple of 4 in Node's pool
  const copy = new Uint8Array(scores);
  return { layers: n_layers, width: ffn_width, scores: new Float32Array(copy.buffer, 0, n_layers * ffn_width) };
}

export async function saveGrid(pool: Pool, run: RunRef, grid: Grid): Promise<void> {
  const bytes = Buffer.from(grid.scores.buffer, grid.scores.byteOffset, grid.scores.byteLength);
  await pool.query(
    `INSERT INTO run_grid (run_id, checkpoint_id, n_layers, ffn_width, scores) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
    [run.id.toString(), run.checkpointId, grid.layers, grid.width, bytes],
  );
}
