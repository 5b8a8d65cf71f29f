// The attribution queue lives in PostgreSQL through pg-boss (schema "pgboss"), so any number of
// workers on any number of machines share it through the database alone. Each job carries its run
// key as singletonKey, and a key that is already waiting is not queued again. (pg-boss's
// "stately" policy would dedupe too, but it also holds a new job back while a job of the same key
// is active, which after a SIGKILL blocks resumption until the dead worker's job expires.)
import PgBoss from "pg-boss";
import type { NeuronSelection } from "../attribution/selection.ts";

export const ATTRIBUTION_QUEUE = "kn-attribution";

/** One unit of indexing work: everything a worker needs besides the database. */
export interface AttributionJob {
  checkpointId: number;
  factId: string;
  language: string;
  method: string;
  steps: number;
  targetMode: string;
  topK: number;
  /** Replace an existing run (kn index --force). */
  replace: boolean;
  /** Also search the degenerate neuron sets of the fact (§6.2). */
  dkn: boolean;
  /** Knowledge-neuron selection of the job's language (absent: the paper's τ). */
  selection?: NeuronSelection;
}

export const jobKey = (j: Pick<AttributionJob, "checkpointId" | "factId" | "language" | "method" | "steps" | "targetMode">) =>
  `${j.checkpointId}|${j.factId}|${j.language}|${j.method}|${j.steps}|${j.targetMode}`;

/** A worker killed mid-run leaves its job active; after this long it is handed out again. */
const EXPIRE_SECONDS = Number(process.env.KN_JOB_EXPIRE_SECONDS || 3600);

export async function startQueue(databaseUrl: string): Promise<PgBoss> {
  const boss = new PgBoss({ connectionString: databaseUrl, schema: "pgboss", max: 4, application_name: "kn-indexer" });
  boss.on("error", (err: Error) => process.stderr.write(`queue: ${err.message}\n`));
  await boss.start();
  if (!(await boss.getQueue(ATTRIBUTION_QUEUE))) {
    await boss.createQueue(ATTRIBUTION_QUEUE, { name: ATTRIBUTION_QUEUE, policy: "standard", retryLimit: 2, expireInSeconds: EXPIRE_SECONDS });
  }
  return boss;
}

/** Queues the jobs whose key is not already waiting; returns how many were queued. */
export async function enqueue(boss: PgBoss, jobs: readonly AttributionJob[]): Promise<number> {
  let queued = 0;
  for (let i = 0; i < jobs.length; i += 1000) {
    const chunk = jobs.slice(i, i + 1000);
    const { rows } = await boss.getDb().executeSql(
      `SELECT DISTINCT singleton_key FROM pgboss.job WHERE name = $1 AND state IN ('created', 'retry') AND singleton_key = ANY($2::text[])`,
      [ATTRIBUTION_QUEUE, chunk.map(jobKey)],
    );
    const waiting = new Set(rows.map((r: { singleton_key: string }) => r.singleton_key));
    const fresh = chunk.filter((j) => !waiting.has(jobKey(j)));
    if (fresh.length) {
      await boss.insert(fresh.map((data) => ({ name: ATTRIBUTION_QUEUE, data, singletonKey: jobKey(data), expireInSeconds: EXPIRE_SECONDS })));
    }
    queued += fresh.length;
  }
  return queued;
}

/** Jobs waiting (created or retry) in the queue. */
export async function waitingJobs(boss: PgBoss): Promise<number> {
  return boss.getQueueSize(ATTRIBUTION_QUEUE);
}
