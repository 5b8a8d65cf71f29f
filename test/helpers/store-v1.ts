// The store as it was before the migration *_store_for_scale (schema of the migrations before
// it): the statements its writer ran (git show f983e96:src/store/runs.ts) and a snapshot of every
// run, score, knowledge neuron and degenerate set in text keys, to compare with what the
// migration carried over.
import type pg from "pg";
import type { RunRecord } from "../../src/store/runs.ts";

/** Stores runs exactly as the pre-migration writer did (text keys in every row). */
export async function saveRunsV1(db: pg.ClientBase, runs: readonly RunRecord[]): Promise<bigint[]> {
  const ids: bigint[] = [];
  for (const r of runs) {
    const { rows } = await db.query<{ id: string }>(
      `INSERT INTO attribution_run (checkpoint_id, fact_id, language_code, relation_id, method, steps, target_mode, prompt, gold_token_ids,
         gold_probs, gold_prob, predicted_ids, predicted_text, predicted_prob, tau, max_score, top_k, n_knowledge, n_layers, ffn_width, timings)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21) RETURNING id`,
      [
        r.checkpointId, r.factId, r.languageCode, r.relationId, r.method, r.steps, r.targetMode, r.prompt, r.goldTokenIds,
        r.goldProbs, r.goldProb, r.predictedIds, r.predictedText, r.predictedProb, r.tau, r.maxScore, r.topK, r.knowledgeNeurons.length,
        r.nLayers, r.ffnWidth, JSON.stringify(r.timings),
      ],
    );
    const id = rows[0].id;
    ids.push(BigInt(id));
    const cols = (ns: RunRecord["topNeurons"]) => [ns.map(() => id), ns.map((n) => n.layer), ns.map((n) => n.unit), ns.map((n) => n.score), ns.map((_, i) => i)];
    await db.query(
      `INSERT INTO neuron_score (run_id, layer, unit, score, rank) SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::int[], $4::real[], $5::smallint[])`,
      cols(r.topNeurons),
    );
    const kn = r.knowledgeNeurons;
    await db.query(
      `INSERT INTO knowledge_neuron (run_id, layer, unit, score, rank, fact_id, relation_id, language_code, checkpoint_id, method)
       SELECT *, $6, $7, $8, $9::int, $10 FROM unnest($1::bigint[], $2::smallint[], $3::int[], $4::real[], $5::smallint[])`,
      [...cols(kn), r.factId, r.relationId, r.languageCode, r.checkpointId, r.method],
    );
    for (const set of r.degenerateSets) {
      const s = await db.query<{ id: string }>(
        `INSERT INTO degenerate_set (run_id, checkpoint_id, fact_id, relation_id, language_code, base_prob, joint_prob)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
        [id, r.checkpointId, r.factId, r.relationId, r.languageCode, set.baseProb, set.jointProb],
      );
      for (const m of set.members) {
        await db.query(`INSERT INTO degenerate_member (set_id, layer, unit, alone_prob) VALUES ($1, $2, $3, $4)`, [s.rows[0].id, m.layer, m.unit, m.aloneProb]);
      }
    }
  }
  return ids;
}

/** Everything stored about runs, in text keys, ordered; the same shape before and after the migration. */
export interface StoreSnapshot {
  runs: Record<string, unknown>[];
  scores: Record<string, unknown>[];
  knowledgeNeurons: Record<string, unknown>[];
  degenerateSets: Record<string, unknown>[];
  degenerateMembers: Record<string, unknown>[];
  jobItems: Record<string, unknown>[];
}

const RUN_FIELDS = `r.prompt, r.gold_token_ids, r.gold_probs, r.gold_prob, r.predicted_ids, r.predicted_text, r.predicted_prob, r.tau,
  r.max_score, r.top_k, r.n_knowledge, r.n_layers, r.ffn_width, r.timings, r.created_at`;

export async function snapshotV1(db: pg.ClientBase): Promise<StoreSnapshot> {
  const q = async (sql: string) => (await db.query<Record<string, unknown>>(sql)).rows;
  return {
    runs: await q(`SELECT r.id::text, c.name AS model, r.fact_id, r.language_code, r.relation_id, r.method, r.steps, r.target_mode, ${RUN_FIELDS}
                   FROM attribution_run r JOIN checkpoint c ON c.id = r.checkpoint_id ORDER BY r.id`),
    scores: await q(`SELECT run_id::text, rank, layer, unit, score FROM neuron_score ORDER BY run_id, rank`),
    knowledgeNeurons: await q(`SELECT k.run_id::text, k.rank, k.layer, k.unit, k.score, k.fact_id, k.relation_id, k.language_code, c.name AS model, k.method
                               FROM knowledge_neuron k JOIN checkpoint c ON c.id = k.checkpoint_id ORDER BY k.run_id, k.rank`),
    degenerateSets: await q(`SELECT id::text, run_id::text, base_prob, joint_prob FROM degenerate_set ORDER BY id`),
    degenerateMembers: await q(`SELECT set_id::text, layer, unit, alone_prob FROM degenerate_member ORDER BY set_id, layer, unit`),
    jobItems: await q(`SELECT i.job_id::text, j.method, j.steps, j.target_mode, i.fact_id, i.language_code, i.status, i.run_id::text
                       FROM index_job_item i JOIN index_job j ON j.id = i.job_id ORDER BY i.job_id, i.fact_id, i.language_code`),
  };
}

/**
 * Every top-K score of the current schema (one neuron_score row per run, arrays in rank order) as
 * the rows the per-score table held, ordered by run and rank.
 */
export const SCORES_OF_RUN_ROWS = `SELECT s.run_id::text, (u.ord - 1)::int AS rank, u.layer, u.unit, u.score
  FROM neuron_score s, unnest(s.layers, s.units, s.scores) WITH ORDINALITY AS u(layer, unit, score, ord) ORDER BY 1, 2`;

/** The same snapshot from the migrated schema (integer keys resolved back to text). */
export async function snapshotV2(db: pg.ClientBase): Promise<StoreSnapshot> {
  const q = async (sql: string) => (await db.query<Record<string, unknown>>(sql)).rows;
  return {
    runs: await q(`SELECT r.id::text, c.name AS model, f.id AS fact_id, l.code AS language_code, rel.id AS relation_id, s.method::text AS method,
                     s.steps, s.target_mode::text AS target_mode, ${RUN_FIELDS}
                   FROM attribution_run r JOIN checkpoint c ON c.id = r.checkpoint_id JOIN run_setting s ON s.id = r.setting_id
                   JOIN fact f ON f.key = r.fact_key JOIN language l ON l.key = r.language_key JOIN relation rel ON rel.key = r.relation_key
                   ORDER BY r.id`),
    scores: await q(SCORES_OF_RUN_ROWS),
    knowledgeNeurons: await q(`SELECT k.run_id::text, k.rank, k.layer, k.unit, k.score, f.id AS fact_id, rel.id AS relation_id, l.code AS language_code,
                                 c.name AS model, s.method::text AS method
                               FROM knowledge_neuron k JOIN checkpoint c ON c.id = k.checkpoint_id JOIN run_setting s ON s.id = k.setting_id
                               JOIN fact f ON f.key = k.fact_key JOIN language l ON l.key = k.language_key JOIN relation rel ON rel.key = k.relation_key
                               ORDER BY k.run_id, k.rank`),
    degenerateSets: await q(`SELECT id::text, run_id::text, base_prob, joint_prob FROM degenerate_set ORDER BY id`),
    degenerateMembers: await q(`SELECT set_id::text, layer, unit, alone_prob FROM degenerate_member ORDER BY set_id, layer, unit`),
    jobItems: await q(`SELECT i.job_id::text, s.method::text AS method, s.steps, s.target_mode::text AS target_mode, i.fact_id, i.language_code, i.status, i.run_id::text
                       FROM index_job_item i JOIN index_job j ON j.id = i.job_id JOIN run_setting s ON s.id = j.setting_id
                       ORDER BY i.job_id, i.fact_id, i.language_code`),
  };
}
