// The run and neuron tables are LIST-partitioned by checkpoint_id (migration *_store_for_scale):
// a trigger creates a checkpoint's partitions (<table>_c<id>) when its row is inserted, and a
// checkpoint's runs and neurons go by dropping those partitions, a catalog operation whatever
// their size, instead of deleting rows one by one.
import type { Pool, PoolClient } from "pg";
import { withTransaction } from "./client.ts";

interface Partition {
  parent: string;
  partition: string;
}

/** The checkpoint's partitions, tables that others refer to last (the order they can be dropped in). */
async function checkpointPartitions(db: PoolClient, checkpointId: number): Promise<Partition[]> {
  const { rows } = await db.query<Partition & { referenced_by: string[] }>(
    `SELECT parent.relname AS parent, child.relname AS partition,
            ARRAY(SELECT DISTINCT c.conrelid::regclass::text FROM pg_constraint c
                  WHERE c.contype = 'f' AND c.confrelid = parent.oid AND c.conrelid <> parent.oid AND c.conparentid = 0) AS referenced_by
     FROM pg_partitioned_table p
     JOIN pg_class parent ON parent.oid = p.partrelid
     JOIN pg_inherits i ON i.inhparent = parent.oid
     JOIN pg_class child ON child.oid = i.inhrelid
     WHERE parent.relnamespace = current_schema()::regnamespace
       AND pg_get_expr(child.relpartbound, child.oid) = format('FOR VALUES IN (%s)', $1::int)`,
    [checkpointId],
  );
  // topological order over the foreign keys between the partitioned tables: referrers first
  const remaining = new Map(rows.map((r) => [r.parent, r]));
  const ordered: Partition[] = [];
  while (remaining.size) {
    const next = [...remaining.values()].filter((r) => !r.referenced_by.some((t) => remaining.has(t)));
    if (!next.length) throw new Error(`foreign keys between ${[...remaining.keys()].join(", ")} form a cycle`);
    for (const r of next.sort((a, b) => a.parent.localeCompare(b.parent))) {
      ordered.push({ parent: r.parent, partition: r.partition });
      remaining.delete(r.parent);
    }
  }
  return ordered;
}

const ident = (name: string) => `"${name.replace(/"/g, '""')}"`;

/**
 * Drops every run, score, knowledge neuron and degenerate set of the checkpoint by dropping its
 * partitions, then creates them again empty (the checkpoint stays registered). Index-job items
 * keep their status but no longer point at a run. Returns the partitions dropped.
 */
export async function clearCheckpointRuns(pool: Pool, checkpointId: number): Promise<string[]> {
  return withTransaction(pool, async (db) => {
    const partitions = await checkpointPartitions(db, checkpointId);
    // a referenced partition cannot be dropped while attached; a detached one keeps its foreign
    // keys, so each goes at once, referrers first
    for (const p of partitions) {
      await db.query(`ALTER TABLE ${ident(p.parent)} DETACH PARTITION ${ident(p.partition)}`);
      await db.query(`DROP TABLE ${ident(p.partition)}`);
    }
    await db.query(`SELECT create_checkpoint_partitions($1)`, [checkpointId]);
    await db.query(`UPDATE index_job_item i SET run_id = NULL FROM index_job j WHERE i.job_id = j.id AND j.checkpoint_id = $1 AND i.run_id IS NOT NULL`, [checkpointId]);
    return partitions.map((p) => p.partition);
  });
}
