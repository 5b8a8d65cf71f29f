// Bulk storage of attribution runs, used by the indexer's workers and by `npm run bench:store`:
// per batch one statement for the runs (jsonb_to_recordset, ON CONFLICT on the run key) and one
// binary COPY per neuron table (and the full grids the indexer kept, run_grid), inside the caller's
// transaction, so a crash leaves either the whole run or nothing, and the unique run key keeps a
// re-delivered job from storing it twice. The versions of the relations stored are raised last
// (relation-answers.ts).
import type { Pool, PoolClient } from "pg";
import type { TargetMode } from "../attribution/fact-attribution.ts";
import type { Method } from "../attribution/integrated-gradients.ts";
import type { LayerSummary } from "../attribution/selection.ts";
import { BinaryCopyEncoder, copyBinary } from "./binary-copy.ts";
import { raiseRelationVersions } from "./relation-answers.ts";
import { ensureSettings, settingKey } from "./settings.ts";

export interface StoredNeuron {
  layer: number;
  unit: number;
  score: number;
}

export interface RunRecord {
  checkpointId: number;
  factId: string;
  languageCode: string;
  /** The fact's relation (the stored run takes it from the fact itself). */
  relationId: string;
  method: Method;
  steps: number;
  targetMode: TargetMode;
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
  /** Per-layer summaries of the full attribution, index = layer (absent: not stored). */
  layerSummaries?: readonly LayerSummary[];
  degenerateSets: {
    baseProb: number;
    jointProb: number;
    members: { layer: number; unit: number; aloneProb: number }[];
  }[];
  /** The full grid, row-major (scores[layer * ffnWidth + unit]), stored in run_grid when given. */
  grid?: Float32Array;
}

export const runKey = (r: Pick<RunRecord, "checkpointId" | "factId" | "languageCode" | "method" | "steps" | "targetMode">) =>
  `${r.checkpointId}|${r.factId}|${r.languageCode}|${r.method}|${r.steps}|${r.targetMode}`;

/**
 * NaN/±∞ are refused, never stored as a number: the indexer fails such a run with its reason
 * before it gets here (nonFiniteProblem in src/indexer/attribute-job.ts).
 */
const finite = (x: number) => {
  if (!Number.isFinite(x)) throw new RangeError(`refusing to store the non-finite value ${x}`);
  return x;
};

/** For real columns: a finite float32 (a value beyond its range is refused like NaN). */
const real = (x: number) => finite(Math.fround(x));

/** The integer keys a stored run is filed under. */
interface RunKeys {
  checkpointId: number;
  settingId: number;
  factKey: number;
  languageKey: number;
  relationKey: number;
}

const keyString = (k: Pick<RunKeys, "checkpointId" | "settingId" | "factKey" | "languageKey">) => `${k.checkpointId}|${k.settingId}|${k.factKey}|${k.languageKey}`;

export class UnknownRunTargetError extends Error {}

/** The integer keys of each run's setting, fact, language and relation, in the order of `runs`. */
async function resolveKeys(db: PoolClient, runs: readonly RunRecord[]): Promise<RunKeys[]> {
  const settings = await ensureSettings(db, runs);
  const { rows } = await db.query<{ fact_id: string; language_code: string; fact_key: number | null; relation_key: number | null; language_key: number | null }>(
    `SELECT k.fact_id, k.language_code, f.key AS fact_key, rel.key AS relation_key, l.key AS language_key
     FROM (SELECT DISTINCT * FROM unnest($1::text[], $2::text[])) AS k(fact_id, language_code)
     LEFT JOIN fact f ON f.id = k.fact_id
     LEFT JOIN relation rel ON rel.id = f.relation_id
     LEFT JOIN language l ON l.code = k.language_code`,
    [runs.map((r) => r.factId), runs.map((r) => r.languageCode)],
  );
  const byPair = new Map(rows.map((r) => [`${r.fact_id}|${r.language_code}`, r]));
  return runs.map((r) => {
    const k = byPair.get(`${r.factId}|${r.languageCode}`);
    if (k?.fact_key == null || k.relation_key == null) throw new UnknownRunTargetError(`run of unknown fact ${JSON.stringify(r.factId)}`);
    if (k.language_key == null) throw new UnknownRunTargetError(`run in unknown language ${JSON.stringify(r.languageCode)}`);
    return { checkpointId: r.checkpointId, settingId: settings.get(settingKey(r))!, factKey: k.fact_key, languageKey: k.language_key, relationKey: k.relation_key };
  });
}

/**
 * Stores runs; returns the run id for every runKey. With `replace`, existing runs with the same
 * key are deleted first (with their neuron rows and degenerate sets); otherwise an existing run
 * is kept and its id returned, so a job delivered twice stores nothing new.
 */
export async function saveRuns(db: PoolClient, runs: readonly RunRecord[], options: { replace?: boolean } = {}): Promise<Map<string, bigint>> {
  const ids = new Map<string, bigint>();
  if (!runs.length) return ids;
  const keys = await resolveKeys(db, runs);
  const keyArrays = [keys.map((k) => k.checkpointId), keys.map((k) => k.settingId), keys.map((k) => k.factKey), keys.map((k) => k.languageKey)];
  const keyTable = `unnest($1::int[], $2::smallint[], $3::int[], $4::smallint[]) AS k(checkpoint_id, setting_id, fact_key, language_key)`;
  const sameKey = `r.checkpoint_id = k.checkpoint_id AND r.setting_id = k.setting_id AND r.fact_key = k.fact_key AND r.language_key = k.language_key`;
  if (options.replace) await db.query(`DELETE FROM attribution_run r USING ${keyTable} WHERE ${sameKey}`, keyArrays);

  const rows = runs.map((r, i) => ({
    checkpoint_id: keys[i].checkpointId,
    setting_id: keys[i].settingId,
    fact_key: keys[i].factKey,
    language_key: keys[i].languageKey,
    relation_key: keys[i].relationKey,
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
    layer_max: r.layerSummaries?.map((l) => real(l.maxScore)) ?? null,
    layer_max_unit: r.layerSummaries?.map((l) => l.maxUnit) ?? null,
    layer_positive_sum: r.layerSummaries?.map((l) => real(l.positiveSum)) ?? null,
  }));
  const inserted = await db.query<{ id: string; checkpoint_id: number; setting_id: number; fact_key: number; language_key: number }>(
    `INSERT INTO attribution_run (checkpoint_id, setting_id, fact_key, language_key, relation_key, prompt, gold_token_ids, gold_probs,
       gold_prob, predicted_ids, predicted_text, predicted_prob, tau, tau_rule, max_score, top_k, n_knowledge, n_layers, ffn_width, timings,
       layer_max, layer_max_unit, layer_positive_sum)
     SELECT checkpoint_id, setting_id, fact_key, language_key, relation_key, prompt, gold_token_ids, gold_probs,
       gold_prob, predicted_ids, predicted_text, predicted_prob, tau, tau_rule, max_score, top_k, n_knowledge, n_layers, ffn_width, timings,
       layer_max, layer_max_unit, layer_positive_sum
     FROM jsonb_to_recordset($1::jsonb) AS x(checkpoint_id int, setting_id smallint, fact_key int, language_key smallint, relation_key smallint,
       prompt text, gold_token_ids int[], gold_probs float8[], gold_prob float8, predicted_ids int[], predicted_text text,
       predicted_prob float8, tau float8, tau_rule jsonb, max_score float8, top_k int, n_knowledge int, n_layers int, ffn_width int, timings jsonb,
       layer_max real[], layer_max_unit int[], layer_positive_sum real[])
     ON CONFLICT (checkpoint_id, setting_id, fact_key, language_key) DO NOTHING
     RETURNING id, checkpoint_id, setting_id, fact_key, language_key`,
    [JSON.stringify(rows)],
  );
  const idOf = new Map<string, string>();
  for (const row of inserted.rows) idOf.set(keyString({ checkpointId: row.checkpoint_id, settingId: row.setting_id, factKey: row.fact_key, languageKey: row.language_key }), row.id);
  const fresh = new Set(idOf.keys());
  if (idOf.size < runs.length) {
    const existing = await db.query<{ id: string; checkpoint_id: number; setting_id: number; fact_key: number; language_key: number }>(
      `SELECT r.id, r.checkpoint_id, r.setting_id, r.fact_key, r.language_key FROM attribution_run r JOIN ${keyTable} ON ${sameKey}`,
      keyArrays,
    );
    for (const row of existing.rows) {
      const key = keyString({ checkpointId: row.checkpoint_id, settingId: row.setting_id, factKey: row.fact_key, languageKey: row.language_key });
      if (!idOf.has(key)) idOf.set(key, row.id);
    }
  }

  const stored: StoredRun[] = [];
  runs.forEach((run, i) => {
    const key = keyString(keys[i]);
    ids.set(runKey(run), BigInt(idOf.get(key)!));
    if (fresh.delete(key)) stored.push({ run, keys: keys[i], id: idOf.get(key)! });
  });
  await copyBinary(db, "neuron_score", SCORE_COLUMNS, scoreRows(stored));
  await copyBinary(db, "knowledge_neuron", KNOWLEDGE_COLUMNS, knowledgeRows(stored));
  await saveDegenerateSets(db, stored);
  await saveIndexGrids(db, stored);
  // relation-level answers of these relations are out of date once this commits (last: the version
  // rows stay locked only until the caller's COMMIT; runs deleted by `replace` raised theirs by trigger)
  await raiseRelationVersions(db, stored.map((s) => s.keys));
  return ids;
}

/** The grids the indexer computed with fresh runs, as run_grid rows marked from_index. */
async function saveIndexGrids(db: PoolClient, runs: readonly StoredRun[]): Promise<void> {
  const withGrid = runs.filter((r) => r.run.grid !== undefined);
  if (!withGrid.length) return;
  for (const { run } of withGrid) {
    if (run.grid!.length !== run.nLayers * run.ffnWidth) throw new RangeError(`a grid of ${run.grid!.length} cells for ${run.nLayers} x ${run.ffnWidth}`);
    for (const x of run.grid!) finite(x);
  }
  await db.query(
    `INSERT INTO run_grid (run_id, checkpoint_id, n_layers, ffn_width, scores, from_index)
     SELECT *, true FROM unnest($1::bigint[], $2::int[], $3::int[], $4::int[], $5::bytea[])
     ON CONFLICT (run_id, checkpoint_id) DO NOTHING`,
    [
      withGrid.map((r) => r.id),
      withGrid.map((r) => r.keys.checkpointId),
      withGrid.map((r) => r.run.nLayers),
      withGrid.map((r) => r.run.ffnWidth),
      withGrid.map((r) => Buffer.from(r.run.grid!.buffer, r.run.grid!.byteOffset, r.run.grid!.byteLength)),
    ],
  );
}

type StoredRun = { run: RunRecord; keys: RunKeys; id: string };

const SCORE_COLUMNS = ["run_id", "checkpoint_id", "layers", "units", "scores"];

/** One neuron_score row per run with scores: its top neurons as arrays in rank order. */
function scoreRows(stored: readonly StoredRun[]): BinaryCopyEncoder {
  const encoder = new BinaryCopyEncoder(["int8", "int4", "int2[]", "int4[]", "float4[]"]);
  for (const { run, keys, id } of stored) {
    const n = run.topNeurons;
    if (!n.length) continue;
    const layers = new Array<number>(n.length);
    const units = new Array<number>(n.length);
    const scores = new Array<number>(n.length);
    for (let i = 0; i < n.length; i++) {
      layers[i] = n[i].layer;
      units[i] = n[i].unit;
      scores[i] = real(n[i].score);
    }
    encoder.row([Number(id), keys.checkpointId, layers, units, scores]);
  }
  return encoder;
}

const KNOWLEDGE_COLUMNS = ["run_id", "checkpoint_id", "setting_id", "relation_key", "language_key", "fact_key", "layer", "unit", "score", "rank"];

function knowledgeRows(stored: readonly StoredRun[]): BinaryCopyEncoder {
  const encoder = new BinaryCopyEncoder(["int8", "int4", "int2", "int2", "int2", "int4", "int2", "int4", "float4", "int2"]);
  const row = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  for (const { run, keys, id } of stored) {
    row.splice(0, 6, Number(id), keys.checkpointId, keys.settingId, keys.relationKey, keys.languageKey, keys.factKey);
    run.knowledgeNeurons.forEach((n, rank) => {
      row[6] = n.layer;
      row[7] = n.unit;
      row[8] = real(n.score);
      row[9] = rank;
      encoder.row(row);
    });
  }
  return encoder;
}

/**
 * Degenerate sets of freshly stored runs and their members, in one statement: each set draws its id
 * (a CTE with nextval is evaluated once per row), and its members find it by the set's position.
 */
async function saveDegenerateSets(db: PoolClient, runs: readonly StoredRun[]): Promise<void> {
  const sets = runs.flatMap(({ run, keys, id }) => run.degenerateSets.map((set) => ({ checkpointId: keys.checkpointId, runId: id, set })));
  if (!sets.length) return;
  const members = sets.flatMap((s, i) => s.set.members.map((m) => ({ set: i + 1, ...m })));
  await db.query(
    `WITH s AS (
       SELECT nextval(pg_get_serial_sequence('degenerate_set', 'id')) AS id, x.*
       FROM unnest($1::int[], $2::bigint[], $3::float8[], $4::float8[]) WITH ORDINALITY AS x(checkpoint_id, run_id, base_prob, joint_prob, n)
     ), sets AS (
       INSERT INTO degenerate_set (id, checkpoint_id, run_id, base_prob, joint_prob) SELECT id, checkpoint_id, run_id, base_prob, joint_prob FROM s
     )
     INSERT INTO degenerate_member (set_id, checkpoint_id, layer, unit, alone_prob)
     SELECT s.id, s.checkpoint_id, m.layer, m.unit, m.alone_prob
     FROM unnest($5::int[], $6::smallint[], $7::int[], $8::float8[]) AS m(n, layer, unit, alone_prob) JOIN s ON s.n = m.n`,
    [
      sets.map((s) => s.checkpointId), sets.map((s) => s.runId), sets.map((s) => finite(s.set.baseProb)), sets.map((s) => finite(s.set.jointProb)),
      members.map((m) => m.set), members.map((m) => m.layer), members.map((m) => m.unit), members.map((m) => finite(m.aloneProb)),
    ],
  );
}

/** Runs stored for a checkpoint, every setting. */
export async function countRuns(pool: Pool, checkpointId: number): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM attribution_run WHERE checkpoint_id = $1`, [checkpointId]);
  return rows[0].n;
}

/** Knowledge-neuron counts and τ of a checkpoint's runs, per setting, language and relation. */
export interface RunSizeRow {
  method: string;
  steps: number;
  targetMode: string;
  language: string;
  relation: string;
  runs: number;
  /** Mean |KN| over the runs (empty sets included), and the runs with an empty set. */
  meanKnowledge: number;
  empty: number;
  tauMin: number;
  tauMax: number;
  /** The distinct τ rules of the runs ({rule: paper | given | calibrated | top-k, ...}). */
  tauRules: unknown[];
}

export async function runSizes(pool: Pool, checkpointId: number): Promise<RunSizeRow[]> {
  const { rows } = await pool.query<RunSizeRow>(
    `SELECT s.method::text AS method, s.steps, s.target_mode::text AS "targetMode", l.code AS language, rel.id AS relation,
            count(*)::int AS runs, avg(r.n_knowledge)::float8 AS "meanKnowledge", count(*) FILTER (WHERE r.n_knowledge = 0)::int AS empty,
            min(r.tau)::float8 AS "tauMin", max(r.tau)::float8 AS "tauMax", jsonb_agg(DISTINCT r.tau_rule) AS "tauRules"
       FROM attribution_run r
       JOIN run_setting s ON s.id = r.setting_id
       JOIN language l ON l.key = r.language_key
       JOIN relation rel ON rel.key = r.relation_key
      WHERE r.checkpoint_id = $1
      GROUP BY 1, 2, 3, 4, 5
      ORDER BY 1, 2, 3, 4, 5`,
    [checkpointId],
  );
  return rows;
}
