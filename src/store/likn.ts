// Language-independent knowledge neurons straight from knowledge_neuron (ALGORITHMS.md §5.1):
// a neuron is language-independent for a fact when it is a knowledge neuron of the fact in every
// requested language, in runs of one setting (method, steps, target mode).
import type { Pool } from "pg";
import type { RunScope } from "../analysis/analysis-store.ts";

export interface LiknQuery extends RunScope {
  languages: readonly string[];
}

const SAME_SETTING = `r.checkpoint_id = $1 AND r.method = $2 AND r.steps = $3 AND r.target_mode = $4`;
const settingParams = (q: RunScope) => [q.checkpointId, q.setting.method, q.setting.steps, q.setting.targetMode];

/** The fact's language-independent neurons, ranked by their best rank in any language. */
export async function factLanguageIndependentNeurons(pool: Pool, q: LiknQuery & { factId: string }): Promise<[number, number][]> {
  const languages = [...new Set(q.languages)];
  const { rows } = await pool.query<{ layer: number; unit: number }>(
    `SELECT k.layer, k.unit FROM knowledge_neuron k JOIN attribution_run r ON r.id = k.run_id
     WHERE ${SAME_SETTING} AND r.fact_id = $5 AND r.language_code = ANY($6::text[])
     GROUP BY k.layer, k.unit HAVING count(*) = $7
     ORDER BY min(k.rank), k.layer, k.unit`,
    [...settingParams(q), q.factId, languages, languages.length],
  );
  return rows.map((r) => [r.layer, r.unit]);
}

export interface RelationNeuronRow {
  layer: number;
  unit: number;
  facts: number;
}

/** Per relation: each language-independent neuron and the number of facts that share it. */
export async function relationLanguageIndependentNeurons(pool: Pool, q: LiknQuery & { relationId: string; minFacts: number }): Promise<RelationNeuronRow[]> {
  const languages = [...new Set(q.languages)];
  // One run per (fact, language, setting) and each neuron once per run: count(*) counts languages.
  const { rows } = await pool.query<RelationNeuronRow>(
    `SELECT layer, unit, count(*)::int AS facts FROM (
       SELECT r.fact_id, k.layer, k.unit FROM knowledge_neuron k JOIN attribution_run r ON r.id = k.run_id
       WHERE ${SAME_SETTING} AND r.relation_id = $5 AND r.language_code = ANY($6::text[])
       GROUP BY r.fact_id, k.layer, k.unit HAVING count(*) = $7
     ) shared
     GROUP BY layer, unit HAVING count(*) >= $8
     ORDER BY facts DESC, layer, unit`,
    [...settingParams(q), q.relationId, languages, languages.length, q.minFacts],
  );
  return rows;
}
