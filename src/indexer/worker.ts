// A queue worker: fetches attribution jobs in small batches, computes them, and stores each
// batch's runs and item statuses in one transaction before acknowledging the jobs. A worker
// killed at any point loses nothing: unacknowledged jobs are handed out again, and the unique
// run key keeps a re-computed run from being stored twice.
import type PgBoss from "pg-boss";
import type { Pool } from "pg";
import { attributionModel, type FactModel } from "../attribution/model-port.ts";
import { PromptError } from "../attribution/prompts.ts";
import { tauFor } from "../attribution/selection.ts";
import type { LanguageModel } from "../model/index.ts";
import { checkpointPath } from "../store/checkpoints.ts";
import { withTransaction } from "../store/client.ts";
import { factContexts, finishJobIfComplete, markItems, storedRunKeys } from "../store/index-jobs.ts";
import { type RunRecord, saveRuns } from "../store/runs.ts";
import { computeRun } from "./attribute-job.ts";
import { ATTRIBUTION_QUEUE, type AttributionJob, jobKey, waitingJobs } from "./queue.ts";

export interface WorkerOptions {
  pool: Pool;
  boss: PgBoss;
  loadModel: (path: string) => Promise<LanguageModel>;
  /** Jobs fetched and stored together (default 4). */
  batchSize?: number;
  /** Return once the queue has no waiting job (kn index, tests); otherwise poll forever. */
  exitWhenIdle?: boolean;
  tauOverrides?: Record<string, number>;
  signal?: AbortSignal;
  onBatch?: (stats: { computed: number; skipped: number; failed: number }) => void;
}

interface Loaded {
  model: FactModel;
  shape: { nLayers: number; ffnWidth: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runWorker(options: WorkerOptions): Promise<{ computed: number; skipped: number; failed: number }> {
  const { pool, boss } = options;
  const totals = { computed: 0, skipped: 0, failed: 0 };
  const models = new Map<number, Promise<Loaded>>();
  const loadFor = (checkpointId: number): Promise<Loaded> => {
    let entry = models.get(checkpointId);
    if (!entry) {
      entry = (async () => {
        const path = await checkpointPath(pool, checkpointId);
        if (path === null) throw new Error(`checkpoint ${checkpointId} is not registered`);
        const lm = await options.loadModel(path);
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
        computed.push({ job, run: await computeRun(model, job, fact, tauFor(job.language, options.tauOverrides), shape) });
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
