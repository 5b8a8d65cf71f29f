// The attribution queue lives in PostgreSQL through pg-boss (schema "pgboss"), so any number of
// workers on any number of machines share it through the database alone. Each job carries its run
// key as singletonKey, and a key that is already waiting is not queued again. (pg-boss's
// "stately" policy would dedupe too, but it also holds a new job back while a job of the same key
// is active, which after a SIGKILL blocks resumption until the dead worker's job expires.)
import PgBoss from "pg-boss";
import type { TargetMode } from "../attribution/fact-attribution.ts";
import type { Method } from "../attribution/integrated-gradients.ts";
import type { NeuronSelection } from "../attribution/selection.ts";
import { runKeyOf } from "../store/index-jobs.ts";

export const ATTRIBUTION_QUEUE = "kn-attribution";

/** One unit of indexing work: everything a worker needs besides the database. */
export interface AttributionJob {
  checkpointId: number;
  factId: string;
  language: string;
  method: Method;
  steps: number;
  targetMode: TargetMode;
  topK: number;
  /** Replace an existing run (kn index --force). */
  replace: boolean;
  /** Also search the degenerate neuron sets of the fact (§6.2). */
  dkn: boolean;
  /** Knowledge-neuron selection of the job's language (absent: the paper's τ). */
  selection?: NeuronSelection;
  /** Workers take higher priorities first (default 0); equal ones in the order queued. */
  priority?: number;
}

/** The run key of a job: a job whose key is already waiting is not queued again. */
export const jobKey = runKeyOf;

/**
 * How the queue retries. A worker killed mid-run leaves its job active; after expireSeconds it is
 * handed out again. A run that fails (other than for a bad input, which fails at once) is retried
 * after retryDelaySeconds, and after maxAttempts deliveries its item is marked FAILED with the
 * reason, so a poison job (one that crashes its worker every time) ends instead of looping.
 */
export interface QueueSettings {
  expireSeconds: number;
  maxAttempts: number;
  retryDelaySeconds: number;
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min} (got ${JSON.stringify(raw)})`);
  return n;
}

/** KN_JOB_EXPIRE_SECONDS (3600), KN_JOB_MAX_ATTEMPTS (3), KN_JOB_RETRY_DELAY_SECONDS (10). */
export function queueSettings(env: NodeJS.ProcessEnv = process.env): QueueSettings {
  return {
    expireSeconds: intFromEnv(env, "KN_JOB_EXPIRE_SECONDS", 3600, 1),
    maxAttempts: intFromEnv(env, "KN_JOB_MAX_ATTEMPTS", 3, 1),
    retryDelaySeconds: intFromEnv(env, "KN_JOB_RETRY_DELAY_SECONDS", 10, 0),
  };
}

export async function startQueue(databaseUrl: string, settings: QueueSettings = queueSettings()): Promise<PgBoss> {
  // pg-boss hands its options to pg.Pool, which takes a connect timeout its types do not list
  const boss = new PgBoss({ connectionString: databaseUrl, schema: "pgboss", max: 4, application_name: "kn-indexer", connectionTimeoutMillis: 5_000 } as PgBoss.ConstructorOptions);
  boss.on("error", (err: Error) => process.stderr.write(`queue: ${err.message}\n`));
  await boss.start();
  // pg-boss gives the job the queue's retry settings; the last delivery only records the failure
  const options = { policy: "standard" as const, retryLimit: settings.maxAttempts, retryDelay: settings.retryDelaySeconds, expireInSeconds: settings.expireSeconds };
  if (!(await boss.getQueue(ATTRIBUTION_QUEUE))) await boss.createQueue(ATTRIBUTION_QUEUE, { name: ATTRIBUTION_QUEUE, ...options });
  else await boss.updateQueue(ATTRIBUTION_QUEUE, { name: ATTRIBUTION_QUEUE, ...options });
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
      await boss.insert(fresh.map((data) => ({ name: ATTRIBUTION_QUEUE, data, singletonKey: jobKey(data), priority: data.priority ?? 0 })));
    }
    queued += fresh.length;
  }
  return queued;
}

/** Jobs waiting (created or retry) in the queue. */
export async function waitingJobs(boss: PgBoss): Promise<number> {
  return boss.getQueueSize(ATTRIBUTION_QUEUE);
}
