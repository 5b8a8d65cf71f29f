// Stored localization results (ALGORITHMS.md §8): one row per fact, language and method, and the
// summaries the CLI and the API show.
import type { Pool } from "pg";
import type { LocalizationRecord, RunScope } from "../analysis/analysis-store.ts";

const finite = (x: number) => (Number.isFinite(x) ? x : 0);

/** Replaces the results of these facts in the language (unique per checkpoint, method, fact, language). */
export async function saveLocalizationResults(pool: Pool, q: RunScope & { language: string }, results: readonly LocalizationRecord[]): Promise<void> {
  await pool.query(
    `INSERT INTO localization_result (checkpoint_id, method, language_code, fact_id, relation_id, unrelated_fact_id, n_neurons,
       suppress_related, suppress_unrelated, enhance_related, enhance_unrelated)
     SELECT $1, $2, $3, * FROM unnest($4::text[], $5::text[], $6::text[], $7::int[], $8::float8[], $9::float8[], $10::float8[], $11::float8[])
     ON CONFLICT (checkpoint_id, method, fact_id, language_code) DO UPDATE SET
       relation_id = EXCLUDED.relation_id, unrelated_fact_id = EXCLUDED.unrelated_fact_id, n_neurons = EXCLUDED.n_neurons,
       suppress_related = EXCLUDED.suppress_related, suppress_unrelated = EXCLUDED.suppress_unrelated,
       enhance_related = EXCLUDED.enhance_related, enhance_unrelated = EXCLUDED.enhance_unrelated, created_at = now()`,
    [
      q.checkpointId, q.setting.method, q.language,
      results.map((r) => r.factId), results.map((r) => r.relationId), results.map((r) => r.unrelatedFactId), results.map((r) => r.nNeurons),
      results.map((r) => finite(r.suppressRelated)), results.map((r) => finite(r.suppressUnrelated)),
      results.map((r) => finite(r.enhanceRelated)), results.map((r) => finite(r.enhanceUnrelated)),
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
 */
export async function summarizeLocalization(
  pool: Pool,
  q: { checkpointId: number; method?: string | null; language?: string | null; relation?: string | null; byRelation: boolean },
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
       AND ($4::text IS NULL OR relation_id = $4)
     GROUP BY method, language_code, ${groupRel} ORDER BY method, language_code, relation`,
    [q.checkpointId, q.method ?? null, q.language ?? null, q.relation ?? null],
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
