// Edits of live models and their measured effects (tables edit, edit_effect). Plain SQL on the
// pg pool like the other store modules. Timestamps are TIMESTAMP(3) without time zone holding UTC
// (what Prisma writes), so they are written and read through AT TIME ZONE 'UTC' and never depend
// on the session's time zone.
import type { Pool } from "pg";
import type { RunScope } from "../analysis/analysis-store.ts";
import type { UpdateRule } from "../attribution/editing.ts";
import { withPoolClient, withTransaction } from "./client.ts";
import { settingIdSql, settingParams } from "./settings.ts";
import { announceEditExpression } from "./edit-events.ts";

export type EditKindName = "SUPPRESS" | "ENHANCE" | "ERASE" | "UPDATE";
export type EditTargetName = "LIKN" | "KN" | "EXPLICIT";
export type EditStatusName = "ACTIVE" | "REVERTED";

/** What re-applying an edit needs besides its neurons and saved weights, plus what it was asked. */
export interface EditParams {
  /** Activation edits: the factor applied at the target position. */
  factor?: number;
  /** LIKN / KN targets: the setting of the runs whose neurons were taken (steps and targetMode are
   * absent in edits stored before the setting was recorded; those took the method's latest run). */
  method?: string;
  steps?: number;
  targetMode?: string;
  /** LIKN target: the languages intersected. */
  languages?: string[];
  /** UPDATE: the new object, y_old (the model's answer then) and y_new as single token ids. */
  newObject?: string;
  oldTokenId?: number;
  newTokenId?: number;
  oldAnswer?: string;
  /** UPDATE: λ (UPDATE_LAMBDA when absent, as in edits stored before it existed). */
  strength?: number;
  /** UPDATE: the rule, per-neuron activation signs and (gradient rule) unit gradients; see src/attribution/editing.ts. */
  rule?: UpdateRule;
  signs?: number[];
  gradients?: number[][];
  unrelatedSample?: number;
}

export interface EditRow {
  id: bigint;
  checkpointId: number;
  model: string;
  kind: EditKindName;
  target: EditTargetName;
  factId: string | null;
  languageCode: string | null;
  neurons: [number, number][];
  params: EditParams;
  savedWeights: Buffer | null;
  status: EditStatusName;
  appliedBy: string;
  appliedAt: Date;
  revertedBy: string | null;
  revertedAt: Date | null;
}

export interface EffectRow {
  factId: string;
  languageCode: string;
  related: boolean;
  probBefore: number;
  probAfter: number;
  answerBefore: string;
  answerAfter: string;
}

export type NewEdit = Omit<EditRow, "model" | "status" | "appliedAt" | "revertedBy" | "revertedAt">;

const EDIT_COLUMNS = `e.id, e.checkpoint_id, c.name AS model, e.kind, e.target, e.fact_id, e.language_code, e.neurons, e.params,
  e.saved_weights, e.status, e.applied_by, e.applied_at AT TIME ZONE 'UTC' AS applied_at, e.reverted_by,
  e.reverted_at AT TIME ZONE 'UTC' AS reverted_at`;
const EDIT_FROM = `edit e JOIN checkpoint c ON c.id = e.checkpoint_id`;

interface EditDbRow {
  id: string;
  checkpoint_id: number;
  model: string;
  kind: EditKindName;
  target: EditTargetName;
  fact_id: string | null;
  language_code: string | null;
  neurons: [number, number][];
  params: EditParams;
  saved_weights: Buffer | null;
  status: EditStatusName;
  applied_by: string;
  applied_at: Date;
  reverted_by: string | null;
  reverted_at: Date | null;
}

function toEdit(r: EditDbRow): EditRow {
  return {
    id: BigInt(r.id),
    checkpointId: r.checkpoint_id,
    model: r.model,
    kind: r.kind,
    target: r.target,
    factId: r.fact_id,
    languageCode: r.language_code,
    neurons: r.neurons,
    params: r.params,
    savedWeights: r.saved_weights,
    status: r.status,
    appliedBy: r.applied_by,
    appliedAt: r.applied_at,
    revertedBy: r.reverted_by,
    revertedAt: r.reverted_at,
  };
}

/** Advisory-lock class of "the edits of one checkpoint" (the object is the checkpoint id). */
const EDIT_LOCK_CLASS = 0x6b6e; // "kn"

/**
 * Runs fn holding the database lock on a checkpoint's edits: API replicas apply and revert the
 * edits of one checkpoint one at a time, so each sees the others' edits before it checks for a
 * conflict. (A lock held by a lost connection is released by the server.)
 */
export function withCheckpointEditLock<T>(pool: Pool, checkpointId: number, fn: () => Promise<T>): Promise<T> {
  return withPoolClient(pool, async (client, lost) => {
    await client.query("SELECT pg_advisory_lock($1, $2)", [EDIT_LOCK_CLASS, checkpointId]);
    try {
      return await fn();
    } finally {
      if (!lost()) await client.query("SELECT pg_advisory_unlock($1, $2)", [EDIT_LOCK_CLASS, checkpointId]).catch(() => undefined);
    }
  });
}

/** Takes the next edit id before anything is stored, so a live model can key the edit by it. */
export async function reserveEditId(pool: Pool): Promise<bigint> {
  const { rows } = await pool.query<{ id: string }>(`SELECT nextval(pg_get_serial_sequence('edit', 'id'))::text AS id`);
  return BigInt(rows[0].id);
}

/** Stores an edit and its effects in one transaction, announced to the other API replicas on commit. */
export async function saveEdit(pool: Pool, edit: NewEdit, effects: readonly EffectRow[]): Promise<void> {
  await withTransaction(pool, async (db) => {
    await db.query(
      `INSERT INTO edit (id, checkpoint_id, kind, target, fact_id, language_code, neurons, params, saved_weights, status, applied_by, applied_at)
       VALUES ($1, $2, $3::edit_kind, $4::edit_target, $5, $6, $7::jsonb, $8::jsonb, $9, 'ACTIVE', $10, now() AT TIME ZONE 'UTC')`,
      [
        edit.id.toString(), edit.checkpointId, edit.kind, edit.target, edit.factId, edit.languageCode,
        JSON.stringify(edit.neurons), JSON.stringify(edit.params), edit.savedWeights, edit.appliedBy,
      ],
    );
    await db.query(`SELECT ${announceEditExpression("$1", "$2", "'ACTIVE'")}`, [edit.checkpointId, edit.id.toString()]);
    if (!effects.length) return;
    await db.query(
      `INSERT INTO edit_effect (edit_id, fact_id, language_code, related, prob_before, prob_after, answer_before, answer_after)
       SELECT $1::bigint, * FROM unnest($2::text[], $3::text[], $4::boolean[], $5::float8[], $6::float8[], $7::text[], $8::text[])`,
      [
        edit.id.toString(),
        effects.map((e) => e.factId), effects.map((e) => e.languageCode), effects.map((e) => e.related),
        effects.map((e) => e.probBefore), effects.map((e) => e.probAfter),
        effects.map((e) => e.answerBefore), effects.map((e) => e.answerAfter),
      ],
    );
  });
}

export async function findEdit(pool: Pool, id: bigint): Promise<EditRow | null> {
  const { rows } = await pool.query<EditDbRow>(`SELECT ${EDIT_COLUMNS} FROM ${EDIT_FROM} WHERE e.id = $1`, [id.toString()]);
  return rows.length ? toEdit(rows[0]) : null;
}

/** A checkpoint's active edits in the order they were applied. */
export async function activeEdits(pool: Pool, checkpointId: number): Promise<EditRow[]> {
  const { rows } = await pool.query<EditDbRow>(`SELECT ${EDIT_COLUMNS} FROM ${EDIT_FROM} WHERE e.checkpoint_id = $1 AND e.status = 'ACTIVE' ORDER BY e.id`, [checkpointId]);
  return rows.map(toEdit);
}

/** Checkpoints that have active edits (what a restarted API re-applies). */
export async function checkpointsWithActiveEdits(pool: Pool): Promise<{ id: number; path: string }[]> {
  const { rows } = await pool.query<{ id: number; path: string }>(
    `SELECT c.id, c.path FROM checkpoint c WHERE EXISTS (SELECT 1 FROM edit e WHERE e.checkpoint_id = c.id AND e.status = 'ACTIVE') ORDER BY c.id`,
  );
  return rows;
}

/** Marks an active edit reverted (and announces it, in the same statement); null when it is not active (any more). */
export async function markReverted(pool: Pool, id: bigint, by: string): Promise<EditRow | null> {
  const { rows } = await pool.query(
    `WITH reverted AS (
       UPDATE edit SET status = 'REVERTED', reverted_by = $2, reverted_at = now() AT TIME ZONE 'UTC' WHERE id = $1 AND status = 'ACTIVE'
       RETURNING id, checkpoint_id)
     SELECT ${announceEditExpression("checkpoint_id", "id", "'REVERTED'")} FROM reverted`,
    [id.toString(), by],
  );
  return rows.length ? findEdit(pool, id) : null;
}

/** Newest first, keyset-paged by id. */
export async function editPage(
  pool: Pool,
  q: { checkpointId?: number | null; status?: EditStatusName | null; after?: bigint | null; first: number },
): Promise<{ rows: EditRow[]; totalCount: number; hasNextPage: boolean }> {
  const filter = `($1::int IS NULL OR e.checkpoint_id = $1) AND ($2::edit_status IS NULL OR e.status = $2::edit_status)`;
  const params = [q.checkpointId ?? null, q.status ?? null];
  const [page, count] = await Promise.all([
    pool.query<EditDbRow>(
      `SELECT ${EDIT_COLUMNS} FROM ${EDIT_FROM} WHERE ${filter} AND ($3::bigint IS NULL OR e.id < $3) ORDER BY e.id DESC LIMIT $4`,
      [...params, q.after?.toString() ?? null, q.first + 1],
    ),
    pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM edit e WHERE ${filter}`, params),
  ]);
  return { rows: page.rows.slice(0, q.first).map(toEdit), totalCount: count.rows[0].n, hasNextPage: page.rows.length > q.first };
}

/** Edits of a checkpoint whose neuron list includes (layer, unit), newest first. */
export async function editsOfNeuron(pool: Pool, q: { checkpointId: number; layer: number; unit: number; first: number }): Promise<EditRow[]> {
  const { rows } = await pool.query<EditDbRow>(
    `SELECT ${EDIT_COLUMNS} FROM ${EDIT_FROM} WHERE e.checkpoint_id = $1 AND e.neurons @> $2::jsonb ORDER BY e.id DESC LIMIT $3`,
    [q.checkpointId, JSON.stringify([[q.layer, q.unit]]), q.first],
  );
  return rows.map(toEdit);
}

/** One measurement of a stored edit, with what the edit was: the rows cross-lingual editing results group. */
export interface EditMeasurementRow extends EffectRow {
  editId: bigint;
  kind: EditKindName;
  target: EditTargetName;
  sourceLanguage: string | null;
}

/** Every effect of the checkpoint's edits (optionally: on one relation's facts, of one kind, target, status). */
export async function editMeasurements(
  pool: Pool,
  q: { checkpointId: number; relationId: string | null; kind: EditKindName | null; target: EditTargetName | null; status: EditStatusName | null },
): Promise<EditMeasurementRow[]> {
  const { rows } = await pool.query<{ edit_id: string; kind: EditKindName; target: EditTargetName; source: string | null; fact_id: string; language_code: string; related: boolean; prob_before: number; prob_after: number; answer_before: string; answer_after: string }>(
    `SELECT e.id AS edit_id, e.kind, e.target, e.language_code AS source, x.fact_id, x.language_code, x.related, x.prob_before, x.prob_after, x.answer_before, x.answer_after
     FROM edit e JOIN edit_effect x ON x.edit_id = e.id
     WHERE e.checkpoint_id = $1
       AND ($2::text IS NULL OR e.fact_id IN (SELECT id FROM fact WHERE relation_id = $2))
       AND ($3::edit_kind IS NULL OR e.kind = $3::edit_kind) AND ($4::edit_target IS NULL OR e.target = $4::edit_target)
       AND ($5::edit_status IS NULL OR e.status = $5::edit_status)
     ORDER BY e.id`,
    [q.checkpointId, q.relationId, q.kind, q.target, q.status],
  );
  return rows.map((r) => ({
    editId: BigInt(r.edit_id), kind: r.kind, target: r.target, sourceLanguage: r.source, factId: r.fact_id, languageCode: r.language_code, related: r.related,
    probBefore: r.prob_before, probAfter: r.prob_after, answerBefore: r.answer_before, answerAfter: r.answer_after,
  }));
}

/** Effects per edit: related ones first (by language), then the unrelated facts. */
export async function effectsOfEdits(pool: Pool, ids: readonly bigint[]): Promise<Map<bigint, EffectRow[]>> {
  const out = new Map<bigint, EffectRow[]>(ids.map((id) => [id, []]));
  if (!ids.length) return out;
  const { rows } = await pool.query<{ edit_id: string; fact_id: string; language_code: string; related: boolean; prob_before: number; prob_after: number; answer_before: string; answer_after: string }>(
    `SELECT edit_id, fact_id, language_code, related, prob_before, prob_after, answer_before, answer_after FROM edit_effect
     WHERE edit_id = ANY($1::bigint[]) ORDER BY edit_id, related DESC, language_code, fact_id`,
    [ids.map(String)],
  );
  for (const r of rows) {
    out.get(BigInt(r.edit_id))?.push({
      factId: r.fact_id,
      languageCode: r.language_code,
      related: r.related,
      probBefore: r.prob_before,
      probAfter: r.prob_after,
      answerBefore: r.answer_before,
      answerAfter: r.answer_after,
    });
  }
  return out;
}

export interface FactPromptRow {
  factId: string;
  relationId: string;
  languageCode: string;
  subject: string;
  object: string;
  /** The relation's first template in the language (by id), the one the indexer's run reports. */
  template: string;
}

/** Label and first template of each fact in each language (all its languages when none are given). */
export async function factPrompts(pool: Pool, factIds: readonly string[], languages?: readonly string[] | null): Promise<FactPromptRow[]> {
  if (!factIds.length) return [];
  const { rows } = await pool.query<{ fact_id: string; relation_id: string; language_code: string; subject: string; object: string; template: string }>(
    `SELECT DISTINCT ON (fl.fact_id, fl.language_code) fl.fact_id, f.relation_id, fl.language_code, fl.subject, fl.object, t.text AS template
     FROM fact_label fl JOIN fact f ON f.id = fl.fact_id
     JOIN template t ON t.relation_id = f.relation_id AND t.language_code = fl.language_code
     WHERE fl.fact_id = ANY($1::text[]) AND ($2::text[] IS NULL OR fl.language_code = ANY($2::text[]))
     ORDER BY fl.fact_id, fl.language_code, t.id`,
    [[...factIds], languages ? [...languages] : null],
  );
  return rows.map((r) => ({ factId: r.fact_id, relationId: r.relation_id, languageCode: r.language_code, subject: r.subject, object: r.object, template: r.template }));
}

/**
 * Up to `limit` facts other than `excludeFactId`, labelled (with a template) in `language`: the
 * facts indexed for the checkpoint first, then other imported facts, each group in an order fixed
 * by `seed`, so the same edit always measures the same sample.
 */
export async function unrelatedFacts(
  pool: Pool,
  q: { checkpointId: number; language: string; excludeFactId: string | null; seed: string; limit: number },
): Promise<string[]> {
  if (q.limit <= 0) return [];
  const { rows } = await pool.query<{ fact_id: string }>(
    `SELECT fl.fact_id FROM fact_label fl JOIN fact f ON f.id = fl.fact_id
     WHERE fl.language_code = $2 AND ($3::text IS NULL OR fl.fact_id <> $3)
       AND EXISTS (SELECT 1 FROM template t WHERE t.relation_id = f.relation_id AND t.language_code = $2)
     ORDER BY EXISTS (SELECT 1 FROM attribution_run r WHERE r.checkpoint_id = $1 AND r.fact_key = f.key
                        AND r.setting_id = ANY(ARRAY(SELECT id FROM run_setting))) DESC,
       md5($4 || fl.fact_id), fl.fact_id
     LIMIT $5`,
    [q.checkpointId, q.language, q.excludeFactId, q.seed, q.limit],
  );
  return rows.map((r) => r.fact_id);
}

/** Per language of the fact: its stored run of (checkpoint, setting) and the knowledge neurons selected. */
export async function storedNeuronCounts(pool: Pool, q: RunScope & { factId: string }): Promise<Map<string, { runs: number; neurons: number }>> {
  const { rows } = await pool.query<{ language_code: string; runs: number; neurons: number }>(
    `SELECT l.code AS language_code, count(*)::int AS runs, sum(r.n_knowledge)::int AS neurons
     FROM attribution_run r JOIN language l ON l.key = r.language_key
     WHERE r.checkpoint_id = $1 AND r.setting_id = ${settingIdSql(2)} AND r.fact_key = (SELECT key FROM fact WHERE id = $5)
     GROUP BY l.code`,
    [q.checkpointId, ...settingParams(q.setting), q.factId],
  );
  return new Map(rows.map((r) => [r.language_code, { runs: r.runs, neurons: r.neurons }]));
}
