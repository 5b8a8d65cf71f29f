// The migration *_neuron_score_per_run carries the per-score neuron_score rows of a database over
// into one row per run without losing a score: a database built by the migrations before it is
// filled (runs of two checkpoints, K = 100 and K = 1024, awkward float32 values, a run without
// scores), migrated, and every run's scores are compared, content and rank order, with what was
// there, through SQL and the store's query. Scores that cannot be carried over (ranks with a gap,
// scores of a missing run) fail the migration and change nothing.
import { rmSync } from "node:fs";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_RUN_SETTING } from "../src/attribution/run-setting.ts";
import { createPool, withTransaction } from "../src/store/client.ts";
import { applyMigrations, migrationStatus } from "../src/store/migrate.ts";
import { topScoresOfRuns } from "../src/store/neurons.ts";
import { clearCheckpointRuns } from "../src/store/partitions.ts";
import { type RunRecord, runKey, saveRuns } from "../src/store/runs.ts";
import { createScratchDatabase, type ScratchDatabase } from "./helpers/db.ts";
import { migrationNamed, migrationsBefore, migrationsFrom } from "./helpers/migrations.ts";
import { SCORES_OF_RUN_ROWS } from "./helpers/store-v1.ts";

const MIGRATION = migrationNamed("_neuron_score_per_run");
const FACTS = ["f-1", "f-2", "f-3"];
const PER_SCORE_ROWS = `SELECT run_id::text, rank::int, layer, unit, score FROM neuron_score ORDER BY 1, 2`;

/** A run of `k` scores with values that a careless conversion would change (float32 edges, negatives). */
function run(checkpointId: number, factId: string, languageCode: string, k: number, seed: number): RunRecord {
  const topNeurons = Array.from({ length: k }, (_, i) => ({
    layer: (i * 7 + seed) % 4,
    unit: (i * 131 + seed * 17) % 256,
    score: i === 0 ? 3.4028234663852886e38 : i === 1 ? -1.401298464324817e-45 : Math.sin(seed * 1000 + i) / (i + 1),
  }));
  return {
    checkpointId, factId, languageCode, relationId: "P1", ...DEFAULT_RUN_SETTING,
    prompt: `${factId} ${languageCode}`, goldTokenIds: [5], goldProbs: [0.5], goldProb: 0.5, predictedIds: [5], predictedText: "x", predictedProb: 0.5,
    tau: 0.2, tauRule: { rule: "paper" }, maxScore: 1, topK: k, nLayers: 4, ffnWidth: 256, timings: { totalMs: 1 },
    topNeurons, knowledgeNeurons: topNeurons.slice(0, 3), degenerateSets: [],
  };
}

describe("migrating per-score neuron_score rows to one row per run", () => {
  let db: ScratchDatabase;
  let dir: string;
  let pool: pg.Pool;
  let before: Record<string, unknown>[];
  const checkpoints: number[] = [];
  const rows = async (sql: string) => (await pool.query<Record<string, unknown>>(sql)).rows;

  beforeAll(async () => {
    db = await createScratchDatabase("scores_per_run");
    dir = migrationsBefore(MIGRATION.name);
    expect(await applyMigrations(db.url, { migrationsDir: dir })).not.toContain(MIGRATION.name);
    pool = createPool(db.url, { max: 2 });
    await pool.query(`INSERT INTO relation (id, label) VALUES ('P1', 'test relation')`);
    await pool.query(`INSERT INTO language (code, name) VALUES ('en', 'English'), ('zh', 'Chinese')`);
    await pool.query(`INSERT INTO fact (id, relation_id, subject_uri, object_uri) SELECT unnest($1::text[]), 'P1', 'Q1', 'Q2'`, [FACTS]);
    for (const name of ["cp-a", "cp-b"]) {
      const { rows } = await pool.query<{ id: number }>(
        `INSERT INTO checkpoint (name, architecture, model_type, n_layers, hidden, ffn_width, vocab_size, path, content_hash)
         VALUES ($1, 'MASKED', 'bert', 4, 64, 256, 100, '/x', $1) RETURNING id`,
        [name],
      );
      checkpoints.push(rows[0].id);
    }
    const runs = checkpoints.flatMap((cp, c) =>
      FACTS.flatMap((f, i) => ["en", "zh"].map((l, j) => run(cp, f, l, c === 0 && i === 0 && j === 0 ? 1024 : i === 2 && j === 1 ? 0 : 100, c * 10 + i * 2 + j))),
    );
    // the runs through today's writer (its run statement is the previous schema's), their scores one row each as that schema's writer did
    await withTransaction(pool, async (c) => {
      const ids = await saveRuns(c, runs.map((r) => ({ ...r, topNeurons: [] })));
      const scores = runs.flatMap((r) => r.topNeurons.map((n, rank) => ({ id: ids.get(runKey(r))!.toString(), checkpointId: r.checkpointId, rank, ...n })));
      await c.query(
        `INSERT INTO neuron_score (run_id, checkpoint_id, rank, layer, unit, score)
         SELECT * FROM unnest($1::bigint[], $2::int[], $3::smallint[], $4::smallint[], $5::int[], $6::real[])`,
        [scores.map((s) => s.id), scores.map((s) => s.checkpointId), scores.map((s) => s.rank), scores.map((s) => s.layer), scores.map((s) => s.unit), scores.map((s) => s.score)],
      );
    });
    before = await rows(PER_SCORE_ROWS);
    expect(before).toHaveLength(1024 + 9 * 100);
  }, 120_000);

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A migration attempt that must fail with `message`, leaving the per-score table as it was. */
  async function refused(message: RegExp) {
    await expect(applyMigrations(db.url)).rejects.toThrow(message);
    expect((await migrationStatus(db.url)).failed).toEqual([MIGRATION.name]);
    // a failed migration must be marked rolled back before it is retried (prisma migrate resolve)
    await pool.query(`UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = $1 AND finished_at IS NULL`, [MIGRATION.name]);
  }

  it("refuses, changing nothing, a run whose ranks have a gap, or scores of a missing run", async () => {
    const gap = await pool.query<{ run_id: string; checkpoint_id: number; layer: number; unit: number; score: number }>(
      `DELETE FROM neuron_score WHERE rank = 5 AND run_id = (SELECT min(run_id) FROM neuron_score) RETURNING run_id, checkpoint_id, layer, unit, score`,
    );
    await refused(/1 run\(s\) have ranks that are not 0 \.\. n-1/);
    const g = gap.rows[0];
    await pool.query(`INSERT INTO neuron_score (run_id, checkpoint_id, rank, layer, unit, score) VALUES ($1, $2, 5, $3, $4, $5)`, [g.run_id, g.checkpoint_id, g.layer, g.unit, g.score]);
    expect(await rows(PER_SCORE_ROWS)).toEqual(before);

    // written into a partition directly, past the run check of the parent's trigger
    await pool.query(`INSERT INTO neuron_score_c${checkpoints[1]} (run_id, checkpoint_id, rank, layer, unit, score) VALUES (999999, $1, 0, 1, 1, 0.5)`, [checkpoints[1]]);
    await refused(/scores of 1 run\(s\) that are not in attribution_run/);
    await pool.query(`DELETE FROM neuron_score WHERE run_id = 999999`);
    expect(await rows(PER_SCORE_ROWS)).toEqual(before);
    expect((await pool.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'kn_scores_v1'`)).rowCount).toBe(0);
  });

  it("keeps every score of every run, in rank order, one row per run with scores", async () => {
    expect(await applyMigrations(db.url)).toEqual(migrationsFrom(MIGRATION.name));
    expect(await rows(SCORES_OF_RUN_ROWS)).toEqual(before);
    expect(Number((await pool.query(`SELECT count(*) AS n FROM neuron_score`)).rows[0].n)).toBe(10); // 12 runs, two without scores
    // through the store's query, run by run, as float32 values exactly
    const runs = await pool.query<{ id: string; checkpoint_id: number }>(`SELECT id::text, checkpoint_id FROM attribution_run ORDER BY id`);
    for (const r of runs.rows) {
      const expected = before.filter((s) => s.run_id === r.id).map((s) => ({ layer: s.layer, unit: s.unit, score: s.score, rank: s.rank }));
      const read = (await topScoresOfRuns(pool, [{ id: BigInt(r.id), checkpointId: r.checkpoint_id }])).get(BigInt(r.id));
      expect(read ?? []).toEqual(expected);
    }
    // the partitions of both checkpoints, the old table gone
    const parts = await pool.query<{ relname: string }>(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'neuron_score'::regclass ORDER BY 1`,
    );
    expect(parts.rows.map((p) => p.relname)).toEqual(checkpoints.map((c) => `neuron_score_c${c}`));
    expect((await pool.query(`SELECT 1 FROM pg_namespace WHERE nspname = 'kn_scores_v1'`)).rowCount).toBe(0);
  });

  it("keeps the run integrity of the scores and dropping a checkpoint's partitions", async () => {
    const error = await pool.query(`INSERT INTO neuron_score (run_id, checkpoint_id, layers, units, scores) VALUES (999999, $1, '{1}', '{1}', '{0.5}')`, [checkpoints[0]])
      .then(() => null, (e: { code?: string }) => e);
    expect(error?.code).toBe("23503");
    const one = before[0].run_id as string;
    await pool.query(`DELETE FROM attribution_run WHERE id = $1`, [one]);
    expect((await pool.query(`SELECT 1 FROM neuron_score WHERE run_id = $1`, [one])).rowCount).toBe(0);
    await clearCheckpointRuns(pool, checkpoints[0]);
    expect((await pool.query(`SELECT 1 FROM neuron_score WHERE checkpoint_id = $1`, [checkpoints[0]])).rowCount).toBe(0);
    expect(Number((await pool.query(`SELECT count(*) AS n FROM neuron_score`)).rows[0].n)).toBe(5);
    await pool.query(`TRUNCATE attribution_run CASCADE`);
    expect(Number((await pool.query(`SELECT count(*) AS n FROM neuron_score`)).rows[0].n)).toBe(0);
  });
});
