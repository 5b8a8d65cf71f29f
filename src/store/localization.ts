// Stored localization results (ALGORITHMS.md §8): one row per fact, language and method, and the
// summaries the CLI and the API show.
import type { Pool } from "pg";
import type { LocalizationMeasureRecord, LocalizationRecord, MeasureScope, RunScope } from "../analysis/analysis-store.ts";
import { DEFAULT_RUN_SETTING } from "../attribution/run-setting.ts";

/**
 * Replaces the results of these facts in the language (unique per checkpoint, run setting, fact,
 * language). A non-finite value refuses the whole batch (nothing stored) instead of being stored as 0.
 */
export async function saveLocalizationResults(pool: Pool, q: RunScope & { language: string }, results: readonly LocalizationRecord[]): Promise<void> {
  for (const r of results) {
    for (const x of [r.suppressRelated, r.suppressUnrelated, r.enhanceRelated, r.enhanceUnrelated]) {
      if (!Number.isFinite(x)) throw new RangeError(`localization result of ${r.factId} (${q.language}) is not finite: ${x}`);
    }
  }
  await pool.query(
    `INSERT INTO localization_result (checkpoint_id, method, steps, target_mode, language_code, fact_id, relation_id, unrelated_fact_id, n_neurons,
       suppress_related, suppress_unrelated, enhance_related, enhance_unrelated)
     SELECT $1, $2, $12, $13, $3, * FROM unnest($4::text[], $5::text[], $6::text[], $7::int[], $8::float8[], $9::float8[], $10::float8[], $11::float8[])
     ON CONFLICT (checkpoint_id, method, steps, target_mode, fact_id, language_code) DO UPDATE SET
       relation_id = EXCLUDED.relation_id, unrelated_fact_id = EXCLUDED.unrelated_fact_id, n_neurons = EXCLUDED.n_neurons,
       suppress_related = EXCLUDED.suppress_related, suppress_unrelated = EXCLUDED.suppress_unrelated,
       enhance_related = EXCLUDED.enhance_related, enhance_unrelated = EXCLUDED.enhance_unrelated, created_at = now()`,
    [
      q.checkpointId, q.setting.method, q.language,
      results.map((r) => r.factId), results.map((r) => r.relationId), results.map((r) => r.unrelatedFactId), results.map((r) => r.nNeurons),
      results.map((r) => r.suppressRelated), results.map((r) => r.suppressUnrelated),
      results.map((r) => r.enhanceRelated), results.map((r) => r.enhanceUnrelated),
      q.setting.steps, q.setting.targetMode,
    ],
  );
}

export interface LocalizationSummaryRow {
  checkpointId: number;
  method: string;
  language: string;
  relation: string | null;
  facts: number;
  suppressRelated: number;
  suppressUnrelated: number;
  enhanceRelated: number;
  enhanceUnrelated: number;
}

/**
 * Means over facts (then the overall row when `byRelation` is false), with the reference
 * outlier filter: a suppression Δ > 20 or an enhancement Δ >= 250 is left out of its mean (§5.4).
 * Results of runs with the given steps and target mode only (default: the default run setting's).
 */
export async function summarizeLocalization(
  pool: Pool,
  q: { checkpointId: number; method?: string | null; language?: string | null; relation?: string | null; byRelation: boolean; steps?: number; targetMode?: string },
): Promise<LocalizationSummaryRow[]> {
  const groupRel = q.byRelation ? "relation_id" : "NULL::text";
  const { rows } = await pool.query<{ method: string; language_code: string; relation: string | null; facts: number; sr: number | null; su: number | null; er: number | null; eu: number | null }>(
    `SELECT method, language_code, ${groupRel} AS relation, count(*)::int AS facts,
            avg(suppress_related) FILTER (WHERE suppress_related <= 20) AS sr,
            avg(suppress_unrelated) FILTER (WHERE suppress_unrelated <= 20) AS su,
            avg(enhance_related) FILTER (WHERE enhance_related < 250) AS er,
            avg(enhance_unrelated) FILTER (WHERE enhance_unrelated < 250) AS eu
     FROM localization_result
     WHERE checkpoint_id = $1 AND ($2::text IS NULL OR method = $2) AND ($3::text IS NULL OR language_code = $3)
       AND ($4::text IS NULL OR relation_id = $4) AND steps = $5 AND target_mode = $6
     GROUP BY method, language_code, ${groupRel} ORDER BY method, language_code, relation`,
    [q.checkpointId, q.method ?? null, q.language ?? null, q.relation ?? null, q.steps ?? DEFAULT_RUN_SETTING.steps, q.targetMode ?? DEFAULT_RUN_SETTING.targetMode],
  );
  return rows.map((r) => ({
    checkpointId: q.checkpointId,
    method: r.method,
    language: r.language_code,
    relation: r.relation,
    facts: r.facts,
    suppressRelated: r.sr ?? 0,
    suppressUnrelated: r.su ?? 0,
    enhanceRelated: r.er ?? 0,
    enhanceUnrelated: r.eu ?? 0,
  }));
}

const MEASURE_COLUMNS = [
  ["neuron_set", "text", (r: LocalizationMeasureRecord) => r.neuronSet],
  ["draw", "int", (r: LocalizationMeasureRecord) => r.draw],
  ["fact_id", "text", (r: LocalizationMeasureRecord) => r.factId],
  ["relation_id", "text", (r: LocalizationMeasureRecord) => r.relationId],
  ["target", "text", (r: LocalizationMeasureRecord) => r.target],
  ["seed", "int", (r: LocalizationMeasureRecord) => r.seed],
  ["target_fact_id", "text", (r: LocalizationMeasureRecord) => r.targetFactId],
  ["n_neurons", "int", (r: LocalizationMeasureRecord) => r.nNeurons],
  ["p_base", "float8", (r: LocalizationMeasureRecord) => r.pBase],
  ["suppress_rel", "float8", (r: LocalizationMeasureRecord) => r.suppressRel],
  ["suppress_logp", "float8", (r: LocalizationMeasureRecord) => r.suppressLogp],
  ["suppress_flip", "bool", (r: LocalizationMeasureRecord) => r.suppressFlip],
  ["enhance_rel", "float8", (r: LocalizationMeasureRecord) => r.enhanceRel],
  ["enhance_logp", "float8", (r: LocalizationMeasureRecord) => r.enhanceLogp],
  ["enhance_flip", "bool", (r: LocalizationMeasureRecord) => r.enhanceFlip],
] as const;

/** Replaces the §13.2 measures of the checkpoint, run setting (method, steps, target mode), language and template set in one transaction. */
export async function saveLocalizationMeasures(pool: Pool, q: MeasureScope, rows: readonly LocalizationMeasureRecord[]): Promise<void> {
  for (const r of rows) {
    for (const x of [r.pBase, r.suppressRel, r.suppressLogp, r.enhanceRel, r.enhanceLogp]) {
      if (!Number.isFinite(x)) throw new RangeError(`localization measure of ${r.factId} (${r.neuronSet} on ${r.targetFactId}) is not finite: ${x}`);
    }
  }
  const client = await pool.connect();
  try {
    await client.query("BEGIN");
    const templateSet = q.templateSet ?? "trained";
    await client.query("DELETE FROM localization_measure WHERE checkpoint_id = $1 AND method = $2 AND language_code = $3 AND template_set = $4 AND steps = $5 AND target_mode = $6", [
      q.checkpointId, q.setting.method, q.language, templateSet, q.setting.steps, q.setting.targetMode,
    ]);
    const names = MEASURE_COLUMNS.map(([n]) => n).join(", ");
    const arrays = MEASURE_COLUMNS.map(([, type], i) => `$${i + 7}::${type}[]`).join(", ");
    for (let start = 0; start < rows.length; start += 20000) {
      const part = rows.slice(start, start + 20000);
      await client.query(
        `INSERT INTO localization_measure (checkpoint_id, method, language_code, template_set, steps, target_mode, ${names}) SELECT $1, $2, $3, $4, $5, $6, * FROM unnest(${arrays})`,
        [q.checkpointId, q.setting.method, q.language, templateSet, q.setting.steps, q.setting.targetMode, ...MEASURE_COLUMNS.map(([, , get]) => part.map((r) => (get as (r: LocalizationMeasureRecord) => unknown)(r)))],
      );
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/**
 * Stored §13.2 measures of a checkpoint and template set (default trained; optionally some methods /
 * languages), of runs with the given steps and target mode (default: the default run setting's), in a stable order.
 */
export async function localizationMeasures(
  pool: Pool,
  q: { checkpointId: number; methods?: readonly string[]; languages?: readonly string[]; templateSet?: string; steps?: number; targetMode?: string },
): Promise<(LocalizationMeasureRecord & { method: string; language: string })[]> {
  const { rows } = await pool.query(
    `SELECT method, language_code, neuron_set, draw, fact_id, relation_id, target, seed, target_fact_id, n_neurons, p_base,
            suppress_rel, suppress_logp, suppress_flip, enhance_rel, enhance_logp, enhance_flip
     FROM localization_measure
     WHERE checkpoint_id = $1 AND ($2::text[] IS NULL OR method = ANY($2)) AND ($3::text[] IS NULL OR language_code = ANY($3))
       AND template_set = $4 AND steps = $5 AND target_mode = $6
     ORDER BY method, language_code, neuron_set, target, fact_id, seed, draw`,
    [q.checkpointId, q.methods ?? null, q.languages ?? null, q.templateSet ?? "trained", q.steps ?? DEFAULT_RUN_SETTING.steps, q.targetMode ?? DEFAULT_RUN_SETTING.targetMode],
  );
  return rows.map((r) => ({
    method: r.method,
    language: r.language_code,
    neuronSet: r.neuron_set,
    draw: r.draw,
    factId: r.fact_id,
    relationId: r.relation_id,
    target: r.target,
    seed: r.seed,
    targetFactId: r.target_fact_id,
    nNeurons: r.n_neurons,
    pBase: r.p_base,
    suppressRel: r.suppress_rel,
    suppressLogp: r.suppress_logp,
    suppressFlip: r.suppress_flip,
    enhanceRel: r.enhance_rel,
    enhanceLogp: r.enhance_logp,
    enhanceFlip: r.enhance_flip,
  }));
}
