// The run and neuron tables are LIST-partitioned by checkpoint_id (migration *_store_for_scale):
// inserting a checkpoint row creates its partitions (<table>_c<id>), deleting it drops them (SQL
// functions create_checkpoint_partitions / drop_checkpoint_partitions, run by a trigger), and a
// checkpoint's runs and neurons go by dropping those partitions, a catalog operation whatever their
// size, instead of deleting rows one by one.
import type { Pool } from "pg";
import { withTransaction } from "./client.ts";

/**
 * Drops every run, score, knowledge neuron, degenerate set and grid of the checkpoint by dropping its
 * partitions, then creates them again empty (the checkpoint stays registered). Index-job items
 * keep their status but no longer point at a run. Returns the partitions dropped.
 */
export async function clearCheckpointRuns(pool: Pool, checkpointId: number): Promise<string[]> {
  return withTransaction(pool, async (db) => {
    const { rows } = await db.query<{ dropped: string }>(`SELECT drop_checkpoint_partitions($1) AS dropped`, [checkpointId]);
    await db.query(`SELECT create_checkpoint_partitions($1)`, [checkpointId]);
    // the grids of the dropped runs (run_grid is not partitioned)
    await db.query(`DELETE FROM run_grid WHERE checkpoint_id = $1`, [checkpointId]);
    await db.query(`UPDATE index_job_item i SET run_id = NULL FROM index_job j WHERE i.job_id = j.id AND j.checkpoint_id = $1 AND i.run_id IS NOT NULL`, [checkpointId]);
    return rows.map((r) => r.dropped);
  });
}
