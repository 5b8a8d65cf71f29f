// A queue worker: fetches attribution jobs in small batches, computes them, and stores each
// batch's runs and item statuses in one transaction before acknowledging the jobs. A worker
// killed at any point loses nothing: unacknowledged jobs are handed out again, and the unique
// run key keeps a re-computed run from being stored twice.
import type PgBoss from "pg-boss";
import type { Pool } from "pg";
import { attributionModel, type FactModel } from "../attribution/model-port.ts";
import { PromptError } from "../attribution/prompts.ts";
import { paperSelection } from "../attribution/selection.ts";
import type { LanguageModel } from "../model/index.ts";
import { withTransaction } from "../store/client.ts";
import { type RunRecord, saveRuns } from "../store/runs.ts";
import { computeRun, type FactContext } from "./attribute-job.ts";
import { finishJobIfComplete } from "./jobs.ts";
import { ATTRIBUTION_QUEUE, type AttributionJob, jobKey, waitingJobs } from "./queue.ts";

export interface WorkerOptions {
  pool: Pool;
  boss: PgBoss;
  loadModel: (path: string) => Promise<LanguageModel>;
  /** Jobs fetched and stored together (default 4). */
  batchSize?: number;
  /** Return once the queue has no waiting job (kn index, tests); otherwise poll forever. */
  exitWhenIdle?: boolean;
  signal?: AbortSignal;
  onBatch?: (stats: { computed: number; skipped: number; failed: number }) => void;
}

interface Loaded {
  model: FactModel;
  shape: { nLayers: number; ffnWidth: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Labels and templates of (fact, language) pairs, keyed `${factId}|${language}`. */
export async function factContexts(pool: Pool, jobs: readonly Pick<AttributionJob, "factId" | "language">[]): Promise<Map<string, FactContext>> {
  const { rows } = await pool.query<{ fact_id: string; language_code: string; relation_id: string; subject: string; object: string; templates: string[] | null }>(
    `SELECT fl.fact_id, fl.language_code, f.relation_id, fl.subject, fl.object,
            array_agg(t.text ORDER BY t.id) FILTER (WHERE t.id IS NOT NULL) AS templates
     FROM unnest($1::text[], $2::text[]) AS k(fact_id, language_code)
     JOIN fact_label fl ON fl.fact_id = k.fact_id AND fl.language_code = k.language_code
     JOIN fact f ON f.id = fl.fact_id
     LEFT JOIN template t ON t.relation_id = f.relation_id AND t.language_code = fl.language_code
     GROUP BY fl.fact_id, fl.language_code, f.relation_id, fl.subject, fl.object`,
    [jobs.map((j) => j.factId), jobs.map((j) => j.language)],
  );
  return new Map(
    rows.map((r) => [
      `${r.fact_id}|${r.language_code}`,
      { relationId: r.relation_id, subject: r.subject, object: r.object, templates: r.templates ?? [] },
    ]),
  );
}

/**
 * Marks the matching pending items of every running index job with these parameters: DONE with
 * the stored run's id, or FAILED with the error.
 */
async function markItems(db: Pick<Pool, "query">, jobs: readonly AttributionJob[], status: "DONE" | "FAILED", errors?: string[]): Promise<void> {
  if (!jobs.length) return;
  await db.query(
    `UPDATE index_job_item i SET status = $8::item_status, error = k.error, finished_at = now(),
            run_id = (SELECT r.id FROM attribution_run r WHERE r.checkpoint_id = k.checkpoint_id AND r.fact_id = k.fact_id
                        AND r.language_code = k.language_code AND r.method = k.method AND r.steps = k.steps AND r.target_mode = k.target_mode)
     FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[])
            AS k(checkpoint_id, fact_id, language_code, method, steps, target_mode, error),
          index_job j
     WHERE i.job_id = j.id AND i.status = 'PENDING' AND j.checkpoint_id = k.checkpoint_id AND j.method = k.method
       AND j.steps = k.steps AND j.target_mode = k.target_mode AND i.fact_id = k.fact_id AND i.language_code = k.language_code`,
    [
      jobs.map((j) => j.checkpointId),
      jobs.map((j) => j.factId),
      jobs.map((j) => j.language),
      jobs.map((j) => j.method),
      jobs.map((j) => j.steps),
      jobs.map((j) => j.targetMode),
      errors ?? jobs.map(() => null),
      status,
    ],
  );
}

/** Keys of the runs already stored among these jobs. */
async function storedRunKeys(pool: Pool, jobs: readonly AttributionJob[]): Promise<Set<string>> {
  const { rows } = await pool.query<{ k: string }>(
    `SELECT concat_ws('|', checkpoint_id, fact_id, language_code, method, steps, target_mode) AS k FROM attribution_run
     WHERE (checkpoint_id, fact_id, language_code, method, steps, target_mode) IN
           (SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[]))`,
    [jobs.map((j) => j.checkpointId), jobs.map((j) => j.factId), jobs.map((j) => j.language), jobs.map((j) => j.method), jobs.map((j) => j.steps), jobs.map((j) => j.targetMode)],
  );
  return new Set(rows.map((r) => r.k));
}

export async function runWorker(options: WorkerOptions): Promise<{ computed: number; skipped: number; failed: number }> {
  const { pool, boss } = options;
  const totals = { computed: 0, skipped: 0, failed: 0 };
  const models = new Map<number, Promise<Loaded>>();
  const loadFor = (checkpointId: number): Promise<Loaded> => {
    let entry = models.get(checkpointId);
    if (!entry) {
      entry = (async () => {
        const { rows } = await pool.query<{ path: string }>("SELECT path FROM checkpoint WHERE id = $1", [checkpointId]);
        if (!rows.length) throw new Error(`checkpoint ${checkpointId} is not registered`);
        const lm = await options.loadModel(rows[0].path);
        return { model: attributionModel(lm), shape: { nLayers: lm.nLayers, ffnWidth: lm.ffnWidth } };
      })();
      models.set(checkpointId, entry);
    }
    return entry;
  };

  while (!options.signal?.aborted) {
    const fetched = await boss.fetch<AttributionJob>(ATTRIBUTION_QUEUE, { batchSize: options.batchSize ?? 4 });
    if (!fetched.length) {
      if (options.exitWhenIdle && (await waitingJobs(boss)) === 0) break;
      await sleep(300);
      continue;
    }
    const jobs = fetched.map((j) => j.data);
    const contexts = await factContexts(pool, jobs);
    const stored = await storedRunKeys(pool, jobs);
    const computed: { job: AttributionJob; run: RunRecord }[] = [];
    const failed: { job: AttributionJob; error: string }[] = [];
    const alreadyStored: AttributionJob[] = [];
    for (const job of jobs) {
      if (stored.has(jobKey(job)) && !job.replace) {
        alreadyStored.push(job);
        continue;
      }
      const fact = contexts.get(`${job.factId}|${job.language}`);
      try {
        if (!fact) throw new PromptError(`fact ${job.factId} has no label in language ${job.language}`);
        if (!fact.templates.length) throw new PromptError(`relation ${fact.relationId} has no template in language ${job.language}`);
        const { model, shape } = await loadFor(job.checkpointId);
        computed.push({ job, run: await computeRun(model, job, fact, job.selection ?? paperSelection(job.language), shape) });
      } catch (err) {
        failed.push({ job, error: err instanceof Error ? err.message : String(err) });
      }
    }
    await withTransaction(pool, async (db) => {
      await saveRuns(db, computed.filter((c) => c.job.replace).map((c) => c.run), { replace: true });
      await saveRuns(db, computed.filter((c) => !c.job.replace).map((c) => c.run));
      await markItems(db, [...computed.map((c) => c.job), ...alreadyStored], "DONE");
      await markItems(db, failed.map((f) => f.job), "FAILED", failed.map((f) => f.error));
    });
    await boss.complete(ATTRIBUTION_QUEUE, fetched.map((j) => j.id));
    await finishJobIfComplete(pool, null);
    const stats = { computed: computed.length, skipped: alreadyStored.length, failed: failed.length };
    totals.computed += stats.computed;
    totals.skipped += stats.skipped;
    totals.failed += stats.failed;
    options.onBatch?.(stats);
  }
  return totals;
}
