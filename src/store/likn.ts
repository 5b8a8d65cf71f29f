// Language-independent knowledge neurons straight from knowledge_neuron (ALGORITHMS.md §5.1):
// a neuron is language-independent for a fact when it is a knowledge neuron of the fact in every
// requested language. Served by the (checkpoint, relation, method, layer, unit) and
// (checkpoint, fact, language) indexes; `storeLanguageIndependentNeurons` materializes the
// per-fact sets for export and offline analysis.
import type { Pool } from "pg";

export interface LiknQuery {
  checkpointId: number;
  method: string;
  languages: readonly string[];
}

export const languagesKey = (languages: readonly string[]) => [...new Set(languages)].sort().join(",");

/** The fact's language-independent neurons, ranked by their best rank in any language. */
export async function factLanguageIndependentNeurons(pool: Pool, q: LiknQuery & { factId: string }): Promise<[number, number][]> {
  const languages = [...new Set(q.languages)];
  const { rows } = await pool.query<{ layer: number; unit: number }>(
    `SELECT layer, unit FROM knowledge_neuron
     WHERE checkpoint_id = $1 AND fact_id = $2 AND method = $3 AND language_code = ANY($4::text[])
     GROUP BY layer, unit HAVING count(DISTINCT language_code) = $5
     ORDER BY min(rank), layer, unit`,
    [q.checkpointId, q.factId, q.method, languages, languages.length],
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
  const { rows } = await pool.query<RelationNeuronRow>(
    `SELECT layer, unit, count(*)::int AS facts FROM (
       SELECT fact_id, layer, unit FROM knowledge_neuron
       WHERE checkpoint_id = $1 AND relation_id = $2 AND method = $3 AND language_code = ANY($4::text[])
       GROUP BY fact_id, layer, unit HAVING count(DISTINCT language_code) = $5
     ) shared
     GROUP BY layer, unit HAVING count(*) >= $6
     ORDER BY facts DESC, layer, unit`,
    [q.checkpointId, q.relationId, q.method, languages, languages.length, q.minFacts],
  );
  return rows;
}

/** Materializes the per-fact sets of a checkpoint for a language set (replacing earlier ones). */
export async function storeLanguageIndependentNeurons(pool: Pool, q: LiknQuery): Promise<number> {
  const languages = [...new Set(q.languages)];
  const key = languagesKey(languages);
  await pool.query(`DELETE FROM language_independent_neuron WHERE checkpoint_id = $1 AND method = $2 AND languages_key = $3`, [q.checkpointId, q.method, key]);
  const res = await pool.query(
    `INSERT INTO language_independent_neuron (checkpoint_id, method, fact_id, relation_id, languages_key, layer, unit)
     SELECT $1, $2, fact_id, min(relation_id), $3, layer, unit FROM knowledge_neuron
     WHERE checkpoint_id = $1 AND method = $2 AND language_code = ANY($4::text[])
     GROUP BY fact_id, layer, unit HAVING count(DISTINCT language_code) = $5`,
    [q.checkpointId, q.method, key, languages, languages.length],
  );
  return res.rowCount ?? 0;
}
