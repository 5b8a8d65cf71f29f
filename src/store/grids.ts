// Full layer x unit attribution grids of stored runs: from run_grid, where the indexer stores the
// grid with its run (small models, KN_INDEX_GRID_MAX_CELLS) and attributionGrid caches a grid it
// recomputed through the model host; else from neuron_score when the run kept every score
// (top_k >= layers x width).
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
  const { rows } = await pool.query<{ layers: number[]; units: number[]; scores: number[] }>(
    `SELECT layers, units, scores FROM neuron_score WHERE run_id = $1 AND checkpoint_id = $2
       AND (SELECT top_k FROM attribution_run WHERE id = $1 AND checkpoint_id = $2) >= $3`,
    [run.id.toString(), run.checkpointId, cells],
  );
  if (!rows.length || rows[0].scores.length < cells) return null;
  const { layers, units, scores: stored } = rows[0];
  const scores = new Float32Array(cells);
  for (let i = 0; i < stored.length; i++) scores[layers[i] * run.ffnWidth + units[i]] = stored[i];
  return { layers: run.nLayers, width: run.ffnWidth, scores };
}

/** The run's grid from run_grid; `fromIndex`: stored by the indexer with the run (else a recomputed grid, cached). */
export async function cachedGrid(pool: Pool, run: RunRef): Promise<(Grid & { fromIndex: boolean }) | null> {
  const { rows } = await pool.query<{ n_layers: number; ffn_width: number; scores: Buffer; from_index: boolean }>(
    `SELECT n_layers, ffn_width, scores, from_index FROM run_grid WHERE run_id = $1 AND checkpoint_id = $2`,
    [run.id.toString(), run.checkpointId],
  );
  if (!rows.length) return null;
  const { n_layers, ffn_width, scores, from_index } = rows[0];
  // copy: the Buffer may sit at an offset that is not a multiple of 4 in Node's pool
  const copy = new Uint8Array(scores);
  return { layers: n_layers, width: ffn_width, scores: new Float32Array(copy.buffer, 0, n_layers * ffn_width), fromIndex: from_index };
}

export async function saveGrid(pool: Pool, run: RunRef, grid: Grid): Promise<void> {
  const bytes = Buffer.from(grid.scores.buffer, grid.scores.byteOffset, grid.scores.byteLength);
  await pool.query(
    `INSERT INTO run_grid (run_id, checkpoint_id, n_layers, ffn_width, scores) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
    [run.id.toString(), run.checkpointId, grid.layers, grid.width, bytes],
  );
}
