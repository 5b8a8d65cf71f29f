// Index jobs: a request to attribute every (fact, language) of a selection with one checkpoint
// and setting. The job's items (src/store/index-jobs.ts) record progress; the queue carries the work.
import type PgBoss from "pg-boss";
import type { Pool } from "pg";
import type { NeuronSelection } from "../attribution/selection.ts";
import { finishJobIfComplete, type IndexSelection, insertIndexJob, pendingItems } from "../store/index-jobs.ts";
import { type AttributionJob, enqueue } from "./queue.ts";

export interface IndexRequest extends IndexSelection {
  topK: number;
  /** Search degenerate neuron sets with each run (default true). */
  dkn?: boolean;
  /** Knowledge-neuron selection per language (kn index --tau / --calibrate-tau / --fixed-k)… */
  selections?: Readonly<Record<string, NeuronSelection>>;
  /** …and for the languages without one (absent: the paper's τ of the language). */
  defaultSelection?: NeuronSelection | null;
  /** Queue priority of each fact's items (absent: 0 for all, taken in the order queued). */
  priorities?: ReadonlyMap<string, number>;
}

export interface CreatedJob {
  id: bigint;
  total: number;
  /** Items already stored and therefore skipped (0 with force). */
  skipped: number;
  queued: number;
}

/**
 * Creates the job and its items, then queues the items whose run is not stored yet (all of them
 * with force). A selection that matches no fact stores nothing and returns null.
 */
export async function createIndexJob(pool: Pool, boss: PgBoss, req: IndexRequest): Promise<CreatedJob | null> {
  const created = await insertIndexJob(pool, req);
  if (!created) return null;
  const { id, items } = created;
  const pending = items.filter((r) => r.status === "PENDING");
  const jobs = attributionJobs(req, pending);
  await enqueue(boss, jobs);
  if (!pending.length) await finishJobIfComplete(pool, id);
  return { id, total: items.length, skipped: items.length - pending.length, queued: pending.length };
}

/**
 * Queues again the pending items of an unfinished job (after a restart whose queue lost them, or
 * whose worker died): keys already waiting are skipped by enqueue. Returns how many were queued.
 */
export async function resumeIndexJob(pool: Pool, boss: PgBoss, req: IndexRequest & { id: bigint }): Promise<number> {
  return enqueue(boss, attributionJobs(req, await pendingItems(pool, req.id)));
}

/** The queue jobs of a request's items. */
function attributionJobs(req: IndexRequest, items: readonly { factId: string; language: string }[]): AttributionJob[] {
  return items.map((r) => ({
    checkpointId: req.checkpointId,
    factId: r.factId,
    language: r.language,
    ...req.setting,
    topK: req.topK,
    replace: req.force,
    dkn: req.dkn ?? true,
    ...selectionFor(req, r.language),
    ...(req.priorities?.has(r.factId) ? { priority: req.priorities.get(r.factId) } : {}),
  }));
}

function selectionFor(req: IndexRequest, language: string): { selection?: NeuronSelection } {
  const selection = req.selections?.[language] ?? req.defaultSelection;
  return selection ? { selection } : {};
}
