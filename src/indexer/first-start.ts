// First start: when a demo model has nothing indexed, `npm start` queues a default selection for
// it (DEFAULT_SELECTION's relations in every imported language) as an ordinary index job, which the
// server's worker processes in the background. Idempotent: a model that has runs or already has
// this job gets no new one; an unfinished job's pending items are queued again (resumable). Facts
// are taken in a fact-major order shared by the models (each relation's first fact in every
// language, then the second, ...), zh first within a fact (its τ of 0.2 selects the most neurons,
// so degenerate sets show up there first), so overlaps and degenerate sets of real facts appear
// within the first minutes instead of after a whole relation.
import type PgBoss from "pg-boss";
import type { Pool } from "pg";
import { DEFAULT_RUN_SETTING } from "../attribution/run-setting.ts";
import { factPriorities, jobsOfCheckpoint } from "../store/index-jobs.ts";
import { countRuns } from "../store/runs.ts";
import { type IndexRequest, createIndexJob, resumeIndexJob } from "./jobs.ts";

/** P17 (country), P36 (capital), P19 (place of birth): the relations the paper's figures use most. */
export const DEFAULT_RELATIONS = ["P17", "P36", "P19"] as const;

export interface FirstStartResult {
  model: string;
  /** created: a new job; resumed: the earlier job's pending items queued again; indexed: runs exist already. */
  action: "created" | "resumed" | "indexed" | "nothing";
  jobId: bigint | null;
  queued: number;
}

const isDefaultJob = (j: { relations: string[]; languages: string[] }) =>
  j.languages.length === 0 && j.relations.length === DEFAULT_RELATIONS.length && DEFAULT_RELATIONS.every((r) => j.relations.includes(r));

export async function queueFirstStartIndexing(pool: Pool, boss: PgBoss, checkpoints: readonly { id: number; name: string }[]): Promise<FirstStartResult[]> {
  const priorities = await factPriorities(pool, DEFAULT_RELATIONS);
  const out: FirstStartResult[] = [];
  for (const c of checkpoints) {
    const priority = (factId: string, language: string) => (priorities.get(factId) ?? 0) * 8 + (language === "zh" ? 1 : 0);
    const request: IndexRequest = { checkpointId: c.id, setting: DEFAULT_RUN_SETTING, languages: [], relations: [...DEFAULT_RELATIONS], force: false, topK: 100, priority };
    const earlier = (await jobsOfCheckpoint(pool, c.id)).find(isDefaultJob);
    if (earlier) {
      const queued = earlier.status === "RUNNING" ? await resumeIndexJob(pool, boss, { ...request, id: earlier.id }) : 0;
      out.push({ model: c.name, action: queued ? "resumed" : "nothing", jobId: earlier.id, queued });
      continue;
    }
    if ((await countRuns(pool, c.id)) > 0) {
      out.push({ model: c.name, action: "indexed", jobId: null, queued: 0 });
      continue;
    }
    const job = await createIndexJob(pool, boss, request);
    out.push({ model: c.name, action: job ? "created" : "nothing", jobId: job?.id ?? null, queued: job?.queued ?? 0 });
  }
  return out;
}
