// A queue worker: fetches attribution jobs in small batches, attributes the prompts of a batch
// together (the model packs their rows across prompts and layers), and stores each
// batch's runs and item statuses in one transaction before acknowledging the jobs. A worker
// killed at any point loses nothing: unacknowledged jobs are handed out again, and the unique
// run key keeps a re-computed run from being stored twice. A lost database is waited out (every
// step is idempotent, so it is simply run again once the server answers); a run that fails is
// retried by the queue and marked FAILED with its reason after QueueSettings.maxAttempts. A worker
// whose GPU device is lost marks the jobs of its batch that it could not compute FAILED with the
// reason, stores what it did compute, and stops with DeviceLostError (its model is gone; another
// worker or a re-run of `kn index` redoes the failed items).
import type PgBoss from "pg-boss";
import type { Pool } from "pg";
import { attributionModel, type FactModel } from "../attribution/model-port.ts";
import { PromptError } from "../attribution/prompts.ts";
import { paperSelection } from "../attribution/selection.ts";
import type { LanguageModel } from "../model/index.ts";
import { DeviceLostError } from "../model/webgpu.ts";
import { checkpointPath } from "../store/checkpoints.ts";
import { withTransaction } from "../store/client.ts";
import { factContexts, finishJobIfComplete, markItems, storedRunKeys } from "../store/index-jobs.ts";
import { type RunRecord, saveRuns } from "../store/runs.ts";
import { NonFiniteError, type RunInput, computeRuns, indexGridMaxCells } from "./attribute-job.ts";
import { type OutageOptions, outageWaitFromEnv, retryWhileUnavailable } from "../store/unavailable.ts";
import { ATTRIBUTION_QUEUE, type AttributionJob, type QueueSettings, jobKey, queueSettings, waitingJobs } from "./queue.ts";

export interface WorkerOptions {
  pool: Pool;
  boss: PgBoss;
  loadModel: (path: string) => Promise<LanguageModel>;
  /** Jobs fetched and stored together (default 4). */
  batchSize?: number;
  /** Return once the queue has no waiting job (kn index, tests); otherwise poll forever. */
  exitWhenIdle?: boolean;
  /** Stops after the batch in hand is stored. */
  signal?: AbortSignal;
  onBatch?: (stats: { computed: number; skipped: number; failed: number }) => void;
  /** Attempts per run (default: the environment's, see queueSettings). */
  settings?: QueueSettings;
  /** Longest database outage waited out (default KN_DB_RETRY_SECONDS). */
  outageMs?: number;
}

interface Loaded {
  model: FactModel;
  shape: { nLayers: number; ffnWidth: number; gridMaxCells: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type FetchedJob = PgBoss.JobWithMetadata<AttributionJob>;

/** Why the previous delivery of a job ended: what the worker reported, or that it stopped (expired). */
function previousFailure(job: FetchedJob): string {
  const output = job.output as { message?: unknown; value?: { message?: unknown } } | null;
  const message = output?.message ?? output?.value?.message;
  return typeof message === "string" ? message : "the worker running it stopped before finishing";
}

export async function runWorker(options: WorkerOptions): Promise<{ computed: number; skipped: number; failed: number }> {
  const { pool, boss } = options;
  const settings = options.settings ?? queueSettings();
  const outage: OutageOptions = { maxWaitMs: options.outageMs ?? outageWaitFromEnv(), signal: options.signal };
  const retry = <T>(what: string, work: () => Promise<T>) => retryWhileUnavailable(what, work, outage);
  const totals = { computed: 0, skipped: 0, failed: 0 };
  const models = new Map<number, Promise<Loaded>>();
  const loadFor = (checkpointId: number): Promise<Loaded> => {
    let entry = models.get(checkpointId);
    if (!entry) {
      entry = (async () => {
        const path = await retry("reading the checkpoint", () => checkpointPath(pool, checkpointId));
        if (path === null) throw new Error(`checkpoint ${checkpointId} is not registered`);
        const lm = await options.loadModel(path);
        return { model: attributionModel(lm), shape: { nLayers: lm.nLayers, ffnWidth: lm.ffnWidth, gridMaxCells: indexGridMaxCells() } };
      })();
      models.set(checkpointId, entry);
      entry.catch(() => models.delete(checkpointId)); // a failed load is tried again by the job's next attempt
    }
    return entry;
  };

  while (!options.signal?.aborted) {
    const fetched = await retry("fetching jobs", () => boss.fetch<AttributionJob>(ATTRIBUTION_QUEUE, { batchSize: options.batchSize ?? 4, includeMetadata: true }));
    if (!fetched.length) {
      if (options.exitWhenIdle && (await retry("counting waiting jobs", () => waitingJobs(boss))) === 0) break;
      await sleep(300);
      continue;
    }
    const jobs = fetched.map((j) => j.data);
    const contexts = await retry("reading facts", () => factContexts(pool, jobs));
    const stored = await retry("reading stored runs", () => storedRunKeys(pool, jobs));
    const computed: { job: AttributionJob; run: RunRecord }[] = [];
    const failed: { job: AttributionJob; error: string }[] = [];
    const again: { id: string; error: string }[] = [];
    const alreadyStored: AttributionJob[] = [];
    let deviceLost: DeviceLostError | undefined;
    // a failed job: bad input, a NaN/∞ of a deterministic computation and a lost device fail the
    // same way every time (a lost device also stops this worker); anything else may be passing
    // (a file, memory) and goes back to the queue until maxAttempts
    const fail = (fetchedJob: FetchedJob, err: unknown) => {
      const message = err instanceof Error ? err.message : String(err);
      const attempt = fetchedJob.retryCount + 1;
      if (err instanceof DeviceLostError) deviceLost ??= err;
      if (err instanceof PromptError || err instanceof NonFiniteError || err instanceof DeviceLostError) failed.push({ job: fetchedJob.data, error: message });
      else if (attempt >= settings.maxAttempts) failed.push({ job: fetchedJob.data, error: `failed ${attempt} times; the last: ${message}` });
      else again.push({ id: fetchedJob.id, error: message });
    };
    // the jobs to compute, per checkpoint: each checkpoint's jobs go to the attribution together
    const byCheckpoint = new Map<number, { fetchedJob: FetchedJob; input: RunInput }[]>();
    for (const fetchedJob of fetched) {
      const job = fetchedJob.data;
      if (stored.has(jobKey(job)) && !job.replace) {
        alreadyStored.push(job);
        continue;
      }
      // delivered maxAttempts times already: the earlier deliveries failed or killed their worker
      if (fetchedJob.retryCount >= settings.maxAttempts) {
        failed.push({ job, error: `gave up after ${settings.maxAttempts} attempts; the last: ${previousFailure(fetchedJob)}` });
        continue;
      }
      const fact = contexts.get(`${job.factId}|${job.language}`);
      if (!fact) fail(fetchedJob, new PromptError(`fact ${job.factId} has no label in language ${job.language}`));
      else if (!fact.templates.length) fail(fetchedJob, new PromptError(`relation ${fact.relationId} has no template in language ${job.language}`));
      else {
        const input = { job, fact, selection: job.selection ?? paperSelection(job.language) };
        byCheckpoint.set(job.checkpointId, [...(byCheckpoint.get(job.checkpointId) ?? []), { fetchedJob, input }]);
      }
    }
    for (const [checkpointId, members] of byCheckpoint) {
      if (deviceLost) {
        for (const m of members) failed.push({ job: m.input.job, error: deviceLost.message });
        continue;
      }
      let results: Awaited<ReturnType<typeof computeRuns>>;
      try {
        const { model, shape } = await loadFor(checkpointId);
        results = await computeRuns(model, members.map((m) => m.input), shape);
      } catch (err) {
        results = members.map(() => ({ error: err }));
      }
      results.forEach((r, k) => ("run" in r ? computed.push({ job: members[k].input.job, run: r.run }) : fail(members[k].fetchedJob, r.error)));
    }
    await retry("storing the batch", () =>
      withTransaction(pool, async (db) => {
        await saveRuns(db, computed.filter((c) => c.job.replace).map((c) => c.run), { replace: true });
        await saveRuns(db, computed.filter((c) => !c.job.replace).map((c) => c.run));
        await markItems(db, [...computed.map((c) => c.job), ...alreadyStored], "DONE");
        await markItems(db, failed.map((f) => f.job), "FAILED", failed.map((f) => f.error));
      }),
    );
    const finished = fetched.filter((j) => !again.some((a) => a.id === j.id)).map((j) => j.id);
    if (finished.length) await retry("acknowledging jobs", () => boss.complete(ATTRIBUTION_QUEUE, finished));
    for (const a of again) await retry("scheduling a retry", () => boss.fail(ATTRIBUTION_QUEUE, a.id, { message: a.error }));
    await retry("finishing index jobs", () => finishJobIfComplete(pool, null));
    const stats = { computed: computed.length, skipped: alreadyStored.length, failed: failed.length };
    totals.computed += stats.computed;
    totals.skipped += stats.skipped;
    totals.failed += stats.failed;
    options.onBatch?.(stats);
    if (deviceLost) throw deviceLost;
  }
  return totals;
}
