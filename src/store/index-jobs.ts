// Index jobs and their items (tables index_job, index_job_item): what `kn index` and the
// indexFacts mutation asked for and how far the workers got. The queue itself is pg-boss's
// (src/indexer/queue.ts); these tables are the durable record of progress.
import type { Pool, PoolClient } from "pg";
import type { RunSetting } from "../attribution/run-setting.ts";
import { withTransaction } from "./client.ts";
import { ensureSettings, settingKey } from "./settings.ts";

/** The fields that identify a run, as an attribution job carries them. */
export interface RunKeyFields {
  checkpointId: number;
  factId: string;
  language: string;
  method: string;
  steps: number;
  targetMode: string;
}

export interface IndexSelection {
  checkpointId: number;
  setting: RunSetting;
  /** Empty: every imported language / relation. */
  languages: readonly string[];
  relations: readonly string[];
  /** Recompute runs that are already stored. */
  force: boolean;
}

export interface JobItem {
  factId: string;
  language: string;
  status: "PENDING" | "SKIPPED";
}

class EmptySelection extends Error {}

/**
 * Creates the job and one item per (fact, language) of the selection in one transaction
 * (INSERT ... SELECT over the catalog); items whose run is already stored are SKIPPED unless
 * `force`. A selection that matches no fact stores nothing and returns null.
 */
export async function insertIndexJob(pool: Pool, sel: IndexSelection): Promise<{ id: bigint; items: JobItem[] } | null> {
  return withTransaction(pool, async (db) => {
    const settingId = (await ensureSettings(db, [sel.setting])).get(settingKey(sel.setting))!;
    const job = await db.query<{ id: string }>(
      `INSERT INTO index_job (checkpoint_id, setting_id, languages, relations, force, status)
       VALUES ($1, $2, $3, $4, $5, 'RUNNING') RETURNING id`,
      [sel.checkpointId, settingId, [...sel.languages], [...sel.relations], sel.force],
    );
    const id = BigInt(job.rows[0].id);
    const items = await db.query<{ fact_id: string; language_code: string; status: JobItem["status"] }>(
      `INSERT INTO index_job_item (job_id, fact_id, language_code, status, run_id, finished_at)
       SELECT $1, fl.fact_id, fl.language_code,
              CASE WHEN r.id IS NOT NULL AND NOT $6 THEN 'SKIPPED'::item_status ELSE 'PENDING'::item_status END,
              CASE WHEN NOT $6 THEN r.id END,
              CASE WHEN r.id IS NOT NULL AND NOT $6 THEN now() END
       FROM fact_label fl
       JOIN fact f ON f.id = fl.fact_id
       JOIN language l ON l.code = fl.language_code
       LEFT JOIN attribution_run r ON r.checkpoint_id = $2 AND r.setting_id = $3 AND r.fact_key = f.key AND r.language_key = l.key
       WHERE (cardinality($4::text[]) = 0 OR fl.language_code = ANY($4))
         AND (cardinality($5::text[]) = 0 OR f.relation_id = ANY($5))
       RETURNING fact_id, language_code, status`,
      [id.toString(), sel.checkpointId, settingId, [...sel.languages], [...sel.relations], sel.force],
    );
    if (!items.rows.length) throw new EmptySelection(); // rolls the job back
    await db.query(`UPDATE index_job SET total = $2, started_at = now() WHERE id = $1`, [id.toString(), items.rows.length]);
    return { id, items: items.rows.map((r) => ({ factId: r.fact_id, language: r.language_code, status: r.status })) };
  }).catch((error: unknown) => {
    if (error instanceof EmptySelection) return null;
    throw error;
  });
}

export interface JobProgress {
  id: bigint;
  status: "QUEUED" | "RUNNING" | "DONE" | "FAILED" | "CANCELLED";
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

/** A job with its selection and setting, as the API lists it. */
export interface JobSummary extends JobProgress {
  checkpointId: number;
  model: string;
  method: string;
  steps: number;
  targetMode: string;
  languages: string[];
  relations: string[];
  createdAt: Date;
}

export async function jobProgress(pool: Pool, id: bigint): Promise<JobProgress | null> {
  return (await jobSummaries(pool, { ids: [id], first: 1 }))[0] ?? null;
}

/**
 * Jobs with their progress, newest first: the given ids, or those of one checkpoint and status
 * set (null: all), at most `first`. One statement; item counts over the (job, status) index.
 */
export async function jobSummaries(
  pool: Pool,
  q: { ids?: readonly bigint[] | null; checkpointId?: number | null; statuses?: readonly string[] | null; first: number },
): Promise<JobSummary[]> {
  const { rows } = await pool.query<{
    id: string;
    checkpoint_id: number;
    model: string;
    method: string;
    steps: number;
    target_mode: string;
    languages: string[];
    relations: string[];
    status: JobProgress["status"];
    total: number;
    created_at: Date;
    started_at: Date | null;
    finished_at: Date | null;
    done: number;
    failed: number;
    pending: number;
    computed: number;
    seconds: number | null;
  }>(
    `SELECT j.id, j.checkpoint_id, c.name AS model, s.method, s.steps, s.target_mode, j.languages, j.relations,
            j.status, j.total, j.created_at, j.started_at, j.finished_at, i.done, i.failed, i.pending, i.computed,
            EXTRACT(EPOCH FROM (COALESCE(j.finished_at, now()) - j.started_at))::float8 AS seconds
     FROM index_job j JOIN checkpoint c ON c.id = j.checkpoint_id JOIN run_setting s ON s.id = j.setting_id
     CROSS JOIN LATERAL (
       SELECT count(*) FILTER (WHERE status IN ('DONE', 'SKIPPED'))::int AS done,
              count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
              count(*) FILTER (WHERE status = 'PENDING')::int AS pending,
              count(*) FILTER (WHERE status = 'DONE')::int AS computed
       FROM index_job_item WHERE job_id = j.id) i
     WHERE ($1::bigint[] IS NULL OR j.id = ANY($1::bigint[])) AND ($2::int IS NULL OR j.checkpoint_id = $2)
       AND ($3::job_status[] IS NULL OR j.status = ANY($3::job_status[]))
     ORDER BY j.id DESC LIMIT $4`,
    [q.ids?.map(String) ?? null, q.checkpointId ?? null, q.statuses ?? null, q.first],
  );
  return rows.map((r) => {
    const seconds = r.seconds ?? 0;
    const rate = seconds > 0 ? r.computed / seconds : 0;
    return {
      id: BigInt(r.id),
      checkpointId: r.checkpoint_id,
      model: r.model,
      method: r.method,
      steps: r.steps,
      targetMode: r.target_mode,
      languages: r.languages,
      relations: r.relations,
      status: r.status,
      total: r.total,
      done: r.done,
      failed: r.failed,
      pending: r.pending,
      rate,
      eta: r.pending === 0 ? 0 : rate > 0 ? r.pending / rate : null,
      createdAt: r.created_at,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
    };
  });
}

/** The items of a job still PENDING. */
export async function pendingItems(pool: Pool, jobId: bigint): Promise<{ factId: string; language: string }[]> {
  const { rows } = await pool.query<{ fact_id: string; language_code: string }>(
    `SELECT fact_id, language_code FROM index_job_item WHERE job_id = $1 AND status = 'PENDING'`,
    [jobId.toString()],
  );
  return rows.map((r) => ({ factId: r.fact_id, language: r.language_code }));
}

/** Index jobs of a checkpoint (newest first) with their selection: what first-start indexing looks for. */
export async function jobsOfCheckpoint(pool: Pool, checkpointId: number): Promise<{ id: bigint; status: JobProgress["status"]; relations: string[]; languages: string[] }[]> {
  const { rows } = await pool.query<{ id: string; status: JobProgress["status"]; relations: string[]; languages: string[] }>(
    `SELECT id, status, relations, languages FROM index_job WHERE checkpoint_id = $1 ORDER BY id DESC`,
    [checkpointId],
  );
  return rows.map((r) => ({ ...r, id: BigInt(r.id) }));
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

/** Failed items of a job with the same reason in the same language, counted. */
export interface FailureGroup {
  language: string;
  error: string | null;
  count: number;
  /** The first fact id of the group. */
  example: string;
}

/**
 * A job's failures grouped by language and reason, the largest groups first: a policy (causal
 * models skip templates whose [Y] is not final) fails every fact of a relation and language
 * with the same message.
 */
export async function failureGroups(pool: Pool, jobId: bigint, limit: number): Promise<FailureGroup[]> {
  const { rows } = await pool.query<{ language_code: string; error: string | null; n: number; example: string }>(
    `SELECT language_code, error, count(*)::int AS n, min(fact_id) AS example FROM index_job_item
     WHERE job_id = $1 AND status = 'FAILED' GROUP BY language_code, error ORDER BY n DESC, language_code, error LIMIT $2`,
    [jobId.toString(), limit],
  );
  return rows.map((r) => ({ language: r.language_code, error: r.error, count: r.n, example: r.example }));
}

/** unnest($1..$6) of run keys as a table k(checkpoint_id, fact_id, language_code, method, steps,
 * target_mode), joined to the integer keys they stand for (setting_id, fact_key, language_key). */
const KEYED = `unnest($1::int[], $2::text[], $3::text[], $4::attribution_method[], $5::int[], $6::target_mode[]) WITH ORDINALITY
    AS k(checkpoint_id, fact_id, language_code, method, steps, target_mode, ord)
  JOIN run_setting s ON (s.method, s.steps, s.target_mode) = (k.method, k.steps, k.target_mode)
  JOIN fact f ON f.id = k.fact_id
  JOIN language l ON l.code = k.language_code`;

const keyArrays = (keys: readonly RunKeyFields[]) => [
  keys.map((k) => k.checkpointId),
  keys.map((k) => k.factId),
  keys.map((k) => k.language),
  keys.map((k) => k.method),
  keys.map((k) => k.steps),
  keys.map((k) => k.targetMode),
];

/**
 * Marks the matching pending items of every running index job with these run keys: DONE with the
 * stored run's id, or FAILED with the error.
 */
export async function markItems(db: Pool | PoolClient, keys: readonly RunKeyFields[], status: "DONE" | "FAILED", errors?: readonly string[]): Promise<void> {
  if (!keys.length) return;
  await db.query(
    `UPDATE index_job_item i SET status = $8::item_status, error = x.error, finished_at = now(),
            run_id = (SELECT r.id FROM attribution_run r WHERE r.checkpoint_id = x.checkpoint_id AND r.setting_id = x.setting_id
                        AND r.fact_key = x.fact_key AND r.language_key = x.language_key)
     FROM (SELECT k.checkpoint_id, s.id AS setting_id, f.key AS fact_key, l.key AS language_key, k.fact_id, k.language_code, e.error
           FROM ${KEYED}
           JOIN unnest($7::text[]) WITH ORDINALITY AS e(error, ord) ON e.ord = k.ord) x,
          index_job j
     WHERE i.job_id = j.id AND i.status = 'PENDING' AND j.checkpoint_id = x.checkpoint_id AND j.setting_id = x.setting_id
       AND i.fact_id = x.fact_id AND i.language_code = x.language_code`,
    [...keyArrays(keys), errors ?? keys.map(() => null), status],
  );
}

/** "checkpoint|fact|language|method|steps|mode": the key runKeyOf and storedRunKeys agree on. */
export const runKeyOf = (k: RunKeyFields) => `${k.checkpointId}|${k.factId}|${k.language}|${k.method}|${k.steps}|${k.targetMode}`;

/** Keys (runKeyOf) of the runs already stored among these. */
export async function storedRunKeys(pool: Pool, keys: readonly RunKeyFields[]): Promise<Set<string>> {
  if (!keys.length) return new Set();
  const { rows } = await pool.query<{ key: string }>(
    `SELECT concat_ws('|', k.checkpoint_id, k.fact_id, k.language_code, k.method, k.steps, k.target_mode) AS key
     FROM ${KEYED}
     JOIN attribution_run r ON r.checkpoint_id = k.checkpoint_id AND r.setting_id = s.id AND r.fact_key = f.key AND r.language_key = l.key`,
    keyArrays(keys),
  );
  return new Set(rows.map((r) => r.key));
}

/** What a worker needs to build a fact's prompts in a language: labels and every template. */
export interface FactContext {
  relationId: string;
  subject: string;
  object: string;
  templates: string[];
}

/** Keyed by `${factId}|${language}`; pairs without a label are absent. */
export async function factContexts(pool: Pool, pairs: readonly { factId: string; language: string }[]): Promise<Map<string, FactContext>> {
  const { rows } = await pool.query<{ fact_id: string; language_code: string; relation_id: string; subject: string; object: string; templates: string[] | null }>(
    `SELECT fl.fact_id, fl.language_code, f.relation_id, fl.subject, fl.object,
            array_agg(t.text ORDER BY t.id) FILTER (WHERE t.id IS NOT NULL) AS templates
     FROM unnest($1::text[], $2::text[]) AS k(fact_id, language_code)
     JOIN fact_label fl ON fl.fact_id = k.fact_id AND fl.language_code = k.language_code
     JOIN fact f ON f.id = fl.fact_id
     LEFT JOIN template t ON t.relation_id = f.relation_id AND t.language_code = fl.language_code
     GROUP BY fl.fact_id, fl.language_code, f.relation_id, fl.subject, fl.object`,
    [pairs.map((p) => p.factId), pairs.map((p) => p.language)],
  );
  return new Map(
    rows.map((r) => [`${r.fact_id}|${r.language_code}`, { relationId: r.relation_id, subject: r.subject, object: r.object, templates: r.templates ?? [] }]),
  );
}

/** Queue priority per fact: fact-major, the relations' facts interleaved (first facts first). */
export async function factPriorities(pool: Pool, relations: readonly string[]): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ id: string; rank: number }>(
    `SELECT id, (row_number() OVER (PARTITION BY relation_id ORDER BY key) - 1) * $2 + array_position($1::text[], relation_id) - 1 AS rank
     FROM fact WHERE relation_id = ANY($1::text[])`,
    [relations, relations.length],
  );
  const last = Math.max(0, ...rows.map((r) => Number(r.rank)));
  return new Map(rows.map((r) => [r.id, last - Number(r.rank)]));
}
