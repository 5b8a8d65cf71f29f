// Relation-level answers kept in PostgreSQL. LIKN of a relation over a language set and the
// language-overlap matrix read every knowledge neuron of the relation in those languages (tens of
// thousands of index entries at 100 M rows); their answers are small and change only when runs of
// the relation are stored. So the first ask computes the answer in one snapshot, together with the
// relation's version (relation_version, raised by saveRuns in the transaction that stores runs of
// the relation), and stores it; later asks read it by primary key as long as the version is the
// same. Every replica and process shares the answers; none can be stale, because an answer is
// used only at the version its snapshot saw.
import type { Pool, PoolClient } from "pg";
import type { RunScope } from "../analysis/analysis-store.ts";
import { named, withPoolClient } from "./client.ts";
import { settingIdSql, settingParams } from "./settings.ts";

export type RelationAnswerKind = "likn" | "overlap";

export interface RelationQuestion extends RunScope {
  relationId: string;
  kind: RelationAnswerKind;
  /** The canonical form of the question's other arguments (the same question, the same string). */
  args: string;
}

/** The stored answer at the relation's current version: one primary-key read (and one of the version). */
const HIT = `SELECT a.answer FROM relation_answer a
  WHERE a.checkpoint_id = $1 AND a.setting_id = ${settingIdSql(2)} AND a.relation_key = (SELECT key FROM relation WHERE id = $5)
    AND a.kind = $6 AND a.args = $7
    AND a.version = COALESCE((SELECT v.version FROM relation_version v
                              WHERE v.checkpoint_id = a.checkpoint_id AND v.setting_id = a.setting_id AND v.relation_key = a.relation_key), 0)`;

/** The keys and version the answer is computed at, read in the computing snapshot. */
const SCOPE = `SELECT s.setting_id, r.relation_key,
    COALESCE((SELECT v.version FROM relation_version v WHERE v.checkpoint_id = $1 AND v.setting_id = s.setting_id AND v.relation_key = r.relation_key), 0)::text AS version
  FROM (SELECT ${settingIdSql(2)} AS setting_id) s, (SELECT (SELECT key FROM relation WHERE id = $5) AS relation_key) r`;

/**
 * Keeps an answer: answers of older versions of the relation are deleted first, and the answer is
 * kept only while fewer than $8 answers of this kind are kept for the relation at this version.
 */
const STORE = `WITH stale AS (
    DELETE FROM relation_answer WHERE checkpoint_id = $1 AND setting_id = $2 AND relation_key = $3 AND version < $6::bigint)
  INSERT INTO relation_answer (checkpoint_id, setting_id, relation_key, kind, args, version, answer)
  SELECT $1, $2, $3, $4, $5, $6::bigint, $7::jsonb
  WHERE (SELECT count(*) FROM relation_answer
         WHERE checkpoint_id = $1 AND setting_id = $2 AND relation_key = $3 AND kind = $4 AND version = $6::bigint) < $8
  ON CONFLICT (checkpoint_id, setting_id, relation_key, kind, args)
  DO UPDATE SET version = excluded.version, answer = excluded.answer WHERE relation_answer.version < excluded.version`;

/**
 * Most answers of one kind kept per relation and version: the questions are open-ended (any
 * language set), so a client asking ever new ones must not grow the table without bound; beyond
 * this they are computed on every ask.
 */
export const MAX_KEPT_ANSWERS = 1000;

/**
 * The answer to a relation-level question: stored, or computed by `compute` (on one connection, in
 * a REPEATABLE READ snapshot that also reads the relation's version) and stored for the next ask.
 * The answer must survive JSON (plain objects, arrays, finite numbers, strings).
 */
export async function relationAnswer<T>(pool: Pool, q: RelationQuestion, compute: (db: PoolClient) => Promise<T>, options: { maxKept?: number } = {}): Promise<T> {
  const scope = [q.checkpointId, ...settingParams(q.setting), q.relationId];
  const hit = await pool.query<{ answer: T }>(named(HIT, [...scope, q.kind, q.args]));
  if (hit.rows.length) return hit.rows[0].answer;
  const computed = await withPoolClient(pool, async (db, lost) => {
    await db.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    try {
      const { rows } = await db.query<{ setting_id: number | null; relation_key: number | null; version: string }>(named(SCOPE, scope));
      const answer = await compute(db);
      await db.query("COMMIT");
      return { answer, ...rows[0] };
    } catch (error) {
      if (!lost()) await db.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  });
  // an unknown setting or relation has nothing stored: nothing to keep
  if (computed.setting_id !== null && computed.relation_key !== null) {
    const maxKept = options.maxKept ?? MAX_KEPT_ANSWERS;
    await pool.query(named(STORE, [q.checkpointId, computed.setting_id, computed.relation_key, q.kind, q.args, computed.version, JSON.stringify(computed.answer), maxKept]));
  }
  return computed.answer;
}

/** The run keys saveRuns files a batch under. */
export interface RelationOfRun {
  checkpointId: number;
  settingId: number;
  relationKey: number;
}

/**
 * Raises the version of every (checkpoint, setting, relation) of these runs, in key order (so two
 * writers lock shared rows in the same order and cannot deadlock). Called by saveRuns as the last
 * statement of its work, so the rows stay locked only until the caller commits.
 */
export async function raiseRelationVersions(db: PoolClient, runs: readonly RelationOfRun[]): Promise<void> {
  const keys = [...new Map(runs.map((r) => [`${r.checkpointId}|${r.settingId}|${r.relationKey}`, r])).values()];
  if (!keys.length) return;
  await db.query(
    named(
      `INSERT INTO relation_version AS v (checkpoint_id, setting_id, relation_key, version)
       SELECT k.checkpoint_id, k.setting_id, k.relation_key, 1 FROM unnest($1::int[], $2::smallint[], $3::smallint[]) AS k(checkpoint_id, setting_id, relation_key)
       ORDER BY 1, 2, 3
       ON CONFLICT (checkpoint_id, setting_id, relation_key) DO UPDATE SET version = v.version + 1`,
      [keys.map((k) => k.checkpointId), keys.map((k) => k.settingId), keys.map((k) => k.relationKey)],
    ),
  );
}
