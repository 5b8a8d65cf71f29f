// Index jobs: a request to attribute every (fact, language) of a selection with one checkpoint
// and method. The job's items record progress; the queue carries the work.
import type PgBoss from "pg-boss";
import type { Pool } from "pg";
import type { NeuronSelection } from "../attribution/selection.ts";
import { withTransaction } from "../store/client.ts";
import { type AttributionJob, enqueue } from "./queue.ts";

export interface IndexRequest {
  checkpointId: number;
  method: string;
  steps: number;
  targetMode: string;
  languages: string[];
  relations: string[];
  topK: number;
  force: boolean;
  /** Search degenerate neuron sets with each run (default true). */
  dkn?: boolean;
  /** Knowledge-neuron selection per language (kn index --tau / --calibrate-tau / --fixed-k)… */
  selections?: Readonly<Record<string, NeuronSelection>>;
  /** …and for the languages without one (absent: the paper's τ of the language). */
  defaultSelection?: NeuronSelection | null;
}

export interface CreatedJob {
  id: bigint;
  total: number;
  /** Items already stored and therefore skipped (0 with force). */
  skipped: number;
  queued: number;
}

class EmptySelection extends Error {}

/**
 * Creates the job and its items in one transaction (INSERT ... SELECT over the catalog), marks
 * the items whose run already exists as SKIPPED (unless force), then queues the rest. A selection
 * that matches no fact stores nothing and returns null.
 */
export async function createIndexJob(pool: Pool, boss: PgBoss, req: IndexRequest): Promise<CreatedJob | null> {
  const created = await withTransaction(pool, async (db) => {
    const job = await db.query<{ id: string }>(
      `INSERT INTO index_job (checkpoint_id, method, steps, target_mode, languages, relations, force, status)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'RUNNING') RETURNING id`,
      [req.checkpointId, req.method, req.steps, req.targetMode, req.languages, req.relations, req.force],
    );
    const id = BigInt(job.rows[0].id);
    const items = await db.query<{ fact_id: string; language_code: string; status: string }>(
      `INSERT INTO index_job_item (job_id, fact_id, language_code, status, run_id, finished_at)
       SELECT $1, fl.fact_id, fl.language_code,
              CASE WHEN r.id IS NOT NULL AND NOT $8 THEN 'SKIPPED'::item_status ELSE 'PENDING'::item_status END,
              CASE WHEN NOT $8 THEN r.id END,
              CASE WHEN r.id IS NOT NULL AND NOT $8 THEN now() END
       FROM fact_label fl
       JOIN fact f ON f.id = fl.fact_id
       LEFT JOIN attribution_run r ON r.checkpoint_id = $2 AND r.fact_id = fl.fact_id AND r.language_code = fl.language_code
                                  AND r.method = $3 AND r.steps = $4 AND r.target_mode = $5
       WHERE (cardinality($6::text[]) = 0 OR fl.language_code = ANY($6))
         AND (cardinality($7::text[]) = 0 OR f.relation_id = ANY($7))
       RETURNING fact_id, language_code, status`,
      [id.toString(), req.checkpointId, req.method, req.steps, req.targetMode, req.languages, req.relations, req.force],
    );
    if (!items.rows.length) throw new EmptySelection(); // rolls the job back
    await db.query(`UPDATE index_job SET total = $2, started_at = now() WHERE id = $1`, [id.toString(), items.rows.length]);
    return { id, items: items.rows };
  }).catch((error: unknown) => {
    if (error instanceof EmptySelection) return null;
    throw error;
  });
  if (!created) return null;
  const { id, items } = created;
  const pending = items.filter((r) => r.status === "PENDING");
  const jobs: AttributionJob[] = pending.map((r) => ({
    checkpointId: req.checkpointId,
    factId: r.fact_id,
    language: r.language_code,
    method: req.method,
    steps: req.steps,
    targetMode: req.targetMode,
    topK: req.topK,
    replace: req.force,
    dkn: req.dkn ?? true,
    ...selectionFor(req, r.language_code),
  }));
  await enqueue(boss, jobs);
  if (!pending.length) await finishJobIfComplete(pool, id);
  return { id, total: items.length, skipped: items.length - pending.length, queued: pending.length };
}

function selectionFor(req: IndexRequest, language: string): { selection?: NeuronSelection } {
  const selection = req.selections?.[language] ?? req.defaultSelection;
  return selection ? { selection } : {};
}

export interface JobProgress {
  id: bigint;
  status: string;
  total: number;
  done: number;
  failed: number;
  pending: number;
  /** Items finished per second since the job started. */
  rate: number;
  /** Seconds until the remaining items are done at the current rate (null when unknown). */
  eta: number | null;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export async function jobProgress(pool: Pool, id: bigint): Promise<JobProgress | null> {
  const { rows } = await pool.query(
    `SELECT j.id, j.status, j.total, j.started_at, j.finished_at,
            count(*) FILTER (WHERE i.status IN ('DONE', 'SKIPPED'))::int AS done,
            count(*) FILTER (WHERE i.status = 'FAILED')::int AS failed,
            count(*) FILTER (WHERE i.status = 'PENDING')::int AS pending,
            count(*) FILTER (WHERE i.status = 'DONE')::int AS computed,
            EXTRACT(EPOCH FROM (COALESCE(j.finished_at, now()) - j.started_at))::float8 AS seconds
     FROM index_job j LEFT JOIN index_job_item i ON i.job_id = j.id
     WHERE j.id = $1 GROUP BY j.id`,
    [id.toString()],
  );
  if (!rows.length) return null;
  const r = rows[0];
  const rate = r.seconds > 0 ? r.computed / r.seconds : 0;
  return {
    id,
    status: r.status,
    total: r.total,
    done: r.done,
    failed: r.failed,
    pending: r.pending,
    rate,
    eta: r.pending === 0 ? 0 : rate > 0 ? r.pending / rate : null,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
  };
}

/** Marks the job (null: every running job) DONE, or FAILED when some items failed, once no item is pending. */
export async function finishJobIfComplete(pool: Pool, id: bigint | null): Promise<void> {
  await pool.query(
    `UPDATE index_job j SET status = CASE WHEN EXISTS (SELECT 1 FROM index_job_item WHERE job_id = j.id AND status = 'FAILED')
                                          THEN 'FAILED'::job_status ELSE 'DONE'::job_status END,
                            finished_at = now()
     WHERE ($1::bigint IS NULL OR j.id = $1) AND j.status = 'RUNNING'
       AND NOT EXISTS (SELECT 1 FROM index_job_item WHERE job_id = j.id AND status = 'PENDING')`,
    [id === null ? null : id.toString()],
  );
}
