// Bulk storage of attribution runs: one statement per table per batch (jsonb_to_recordset for the
// runs, unnest for the neuron rows), inside one transaction, so a crash leaves either the whole
// run or nothing, and the unique run key keeps a re-delivered job from storing it twice.
import type { PoolClient } from "pg";

export interface StoredNeuron {
  layer: number;
  unit: number;
  score: number;
}

export interface RunRecord {
  checkpointId: number;
  factId: string;
  languageCode: string;
  relationId: string;
  method: string;
  steps: number;
  targetMode: string;
  prompt: string;
  goldTokenIds: number[];
  goldProbs: number[];
  goldProb: number;
  predictedIds: number[];
  predictedText: string;
  predictedProb: number;
  tau: number;
  /** How tau (or k) was chosen (src/attribution/selection.ts TauRule). */
  tauRule: { rule: string } & Record<string, unknown>;
  maxScore: number;
  topK: number;
  nLayers: number;
  ffnWidth: number;
  timings: Record<string, number>;
  /** The K best neurons, in rank order. */
  topNeurons: StoredNeuron[];
  /** The selected knowledge neurons, in rank order. */
  knowledgeNeurons: StoredNeuron[];
  degenerateSets: {
    baseProb: number;
    jointProb: number;
    members: { layer: number; unit: number; aloneProb: number }[];
  }[];
}

export const runKey = (r: { checkpointId: number; factId: string; languageCode: string; method: string; steps: number; targetMode: string }) =>
  `${r.checkpointId}|${r.factId}|${r.languageCode}|${r.method}|${r.steps}|${r.targetMode}`;

/** The unique key of attribution_run: a run is stored at most once per key. */
const KEY_COLUMNS = ["checkpoint_id", "fact_id", "language_code", "method", "steps", "target_mode"] as const;

const rowKey = (row: Record<string, unknown>) =>
  runKey({
    checkpointId: row.checkpoint_id as number,
    factId: row.fact_id as string,
    languageCode: row.language_code as string,
    method: row.method as string,
    steps: row.steps as number,
    targetMode: row.target_mode as string,
  });

/**
 * NaN/±∞ are refused, never stored as a number: the indexer fails such a run with its reason
 * before it gets here (nonFiniteProblem in src/indexer/attribute-job.ts).
 */
const finite = (x: number) => {
  if (!Number.isFinite(x)) throw new RangeError(`refusing to store the non-finite value ${x}`);
  return x;
};

/**
 * Stores runs; returns the run id for every key. With `replace`, existing runs with the same key
 * are deleted first (their neuron rows cascade); otherwise an existing run is kept and its id
 * returned, so a job delivered twice stores nothing new.
 */
export async function saveRuns(db: PoolClient, runs: readonly RunRecord[], options: { replace?: boolean } = {}): Promise<Map<string, bigint>> {
  const ids = new Map<string, bigint>();
  if (!runs.length) return ids;
  const keyCols = KEY_COLUMNS.join(", ");
  const qualified = (alias: string) => KEY_COLUMNS.map((c) => `${alias}.${c}`).join(", ");
  const keys = {
    checkpoint: runs.map((r) => r.checkpointId),
    fact: runs.map((r) => r.factId),
    language: runs.map((r) => r.languageCode),
    method: runs.map((r) => r.method),
    steps: runs.map((r) => r.steps),
    mode: runs.map((r) => r.targetMode),
  };
  const keyParams = [keys.checkpoint, keys.fact, keys.language, keys.method, keys.steps, keys.mode];
  const keyTable = `unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[]) AS k(${keyCols})`;
  if (options.replace) {
    await db.query(`DELETE FROM attribution_run r USING ${keyTable} WHERE (${qualified("r")}) = (${qualified("k")})`, keyParams);
  }
  const rows = runs.map((r) => ({
    checkpoint_id: r.checkpointId,
    fact_id: r.factId,
    language_code: r.languageCode,
    relation_id: r.relationId,
    method: r.method,
    steps: r.steps,
    target_mode: r.targetMode,
    prompt: r.prompt,
    gold_token_ids: r.goldTokenIds,
    gold_probs: r.goldProbs.map(finite),
    gold_prob: finite(r.goldProb),
    predicted_ids: r.predictedIds,
    predicted_text: r.predictedText,
    predicted_prob: finite(r.predictedProb),
    tau: finite(r.tau),
    tau_rule: r.tauRule,
    max_score: finite(r.maxScore),
    top_k: r.topK,
    n_knowledge: r.knowledgeNeurons.length,
    n_layers: r.nLayers,
    ffn_width: r.ffnWidth,
    timings: r.timings,
  }));
  const inserted = await db.query<{ id: string } & Record<string, unknown>>(
    `INSERT INTO attribution_run (${keyCols}, relation_id, prompt, gold_token_ids, gold_probs, gold_prob, predicted_ids,
       predicted_text, predicted_prob, tau, tau_rule, max_score, top_k, n_knowledge, n_layers, ffn_width, timings)
     SELECT ${keyCols}, relation_id, prompt, gold_token_ids, gold_probs, gold_prob, predicted_ids,
       predicted_text, predicted_prob, tau, tau_rule, max_score, top_k, n_knowledge, n_layers, ffn_width, timings
     FROM jsonb_to_recordset($1::jsonb) AS x(checkpoint_id int, fact_id text, language_code text, method text, steps int,
       target_mode text, relation_id text, prompt text, gold_token_ids int[], gold_probs float8[], gold_prob float8,
       predicted_ids int[], predicted_text text, predicted_prob float8, tau float8, tau_rule jsonb, max_score float8, top_k int,
       n_knowledge int, n_layers int, ffn_width int, timings jsonb)
     ON CONFLICT (${keyCols}) DO NOTHING
     RETURNING id, ${keyCols}`,
    [JSON.stringify(rows)],
  );
  const fresh = new Set<string>();
  for (const row of inserted.rows) {
    const key = rowKey(row);
    ids.set(key, BigInt(row.id));
    fresh.add(key);
  }
  if (ids.size < runs.length) {
    const existing = await db.query<{ id: string } & Record<string, unknown>>(
      `SELECT r.id, ${qualified("r")} FROM attribution_run r JOIN ${keyTable} ON (${qualified("r")}) = (${qualified("k")})`,
      keyParams,
    );
    for (const row of existing.rows) {
      const key = rowKey(row);
      if (!ids.has(key)) ids.set(key, BigInt(row.id));
    }
  }

  const freshRuns = runs.filter((r) => fresh.has(runKey(r)));
  const scoreRows = { run: [] as string[], layer: [] as number[], unit: [] as number[], score: [] as number[], rank: [] as number[] };
  const knRows = { ...structuredClone(scoreRows), fact: [] as string[], relation: [] as string[], language: [] as string[], checkpoint: [] as number[], method: [] as string[] };
  for (const r of freshRuns) {
    const id = ids.get(runKey(r))!.toString();
    r.topNeurons.forEach((n, rank) => {
      scoreRows.run.push(id);
      scoreRows.layer.push(n.layer);
      scoreRows.unit.push(n.unit);
      scoreRows.score.push(finite(n.score));
      scoreRows.rank.push(rank);
    });
    r.knowledgeNeurons.forEach((n, rank) => {
      knRows.run.push(id);
      knRows.layer.push(n.layer);
      knRows.unit.push(n.unit);
      knRows.score.push(finite(n.score));
      knRows.rank.push(rank);
      knRows.fact.push(r.factId);
      knRows.relation.push(r.relationId);
      knRows.language.push(r.languageCode);
      knRows.checkpoint.push(r.checkpointId);
      knRows.method.push(r.method);
    });
  }
  if (scoreRows.run.length) {
    await db.query(
      `INSERT INTO neuron_score (run_id, layer, unit, score, rank)
       SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::int[], $4::real[], $5::smallint[])`,
      [scoreRows.run, scoreRows.layer, scoreRows.unit, scoreRows.score, scoreRows.rank],
    );
  }
  if (knRows.run.length) {
    await db.query(
      `INSERT INTO knowledge_neuron (run_id, layer, unit, score, rank, fact_id, relation_id, language_code, checkpoint_id, method)
       SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::int[], $4::real[], $5::smallint[], $6::text[], $7::text[], $8::text[], $9::int[], $10::text[])`,
      [knRows.run, knRows.layer, knRows.unit, knRows.score, knRows.rank, knRows.fact, knRows.relation, knRows.language, knRows.checkpoint, knRows.method],
    );
  }
  await saveDegenerateSets(db, freshRuns.map((r) => ({ run: r, runId: ids.get(runKey(r))! })));
  return ids;
}

/** Degenerate sets of freshly stored runs; ids are drawn first so members can reference them. */
async function saveDegenerateSets(db: PoolClient, runs: { run: RunRecord; runId: bigint }[]): Promise<void> {
  const sets = runs.flatMap(({ run, runId }) => run.degenerateSets.map((set) => ({ run, runId, set })));
  if (!sets.length) return;
  const { rows } = await db.query<{ id: string }>(
    `SELECT nextval(pg_get_serial_sequence('degenerate_set', 'id'))::text AS id FROM generate_series(1, $1)`,
    [sets.length],
  );
  const setIds = rows.map((r) => r.id);
  await db.query(
    `INSERT INTO degenerate_set (id, run_id, checkpoint_id, fact_id, relation_id, language_code, base_prob, joint_prob)
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::text[], $5::text[], $6::text[], $7::float8[], $8::float8[])`,
    [
      setIds,
      sets.map((s) => s.runId.toString()),
      sets.map((s) => s.run.checkpointId),
      sets.map((s) => s.run.factId),
      sets.map((s) => s.run.relationId),
      sets.map((s) => s.run.languageCode),
      sets.map((s) => finite(s.set.baseProb)),
      sets.map((s) => finite(s.set.jointProb)),
    ],
  );
  const members = sets.flatMap((s, i) => s.set.members.map((m) => ({ setId: setIds[i], ...m })));
  await db.query(
    `INSERT INTO degenerate_member (set_id, layer, unit, alone_prob)
     SELECT * FROM unnest($1::bigint[], $2::smallint[], $3::int[], $4::float8[])`,
    [members.map((m) => m.setId), members.map((m) => m.layer), members.map((m) => m.unit), members.map((m) => finite(m.aloneProb))],
  );
}
