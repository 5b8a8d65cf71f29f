// The facts of a checkpoint that have a run of one setting, with what an experiment needs to
// re-run their prompt (template, labels) and the run's ranked knowledge neurons.
import type { Pool } from "pg";
import type { IndexedFact, RunScope } from "../analysis/analysis-store.ts";

export async function indexedFacts(pool: Pool, q: RunScope & { languages: readonly string[] }): Promise<IndexedFact[]> {
  const { rows } = await pool.query<{ fact_id: string; relation_id: string; language_code: string; template: string; subject: string; object: string; neurons: [number, number][] | null }>(
    `SELECT r.fact_id, r.relation_id, r.language_code, t.text AS template, fl.subject, fl.object,
            (SELECT array_agg(ARRAY[k.layer, k.unit] ORDER BY k.rank) FROM knowledge_neuron k WHERE k.run_id = r.id) AS neurons
     FROM attribution_run r
     JOIN fact_label fl ON fl.fact_id = r.fact_id AND fl.language_code = r.language_code
     JOIN LATERAL (SELECT text FROM template WHERE relation_id = r.relation_id AND language_code = r.language_code ORDER BY id LIMIT 1) t ON true
     WHERE r.checkpoint_id = $1 AND r.method = $2 AND r.steps = $3 AND r.target_mode = $4 AND r.language_code = ANY($5::text[])
     ORDER BY r.fact_id, r.language_code`,
    [q.checkpointId, q.setting.method, q.setting.steps, q.setting.targetMode, [...q.languages]],
  );
  return rows.map((r) => ({
    factId: r.fact_id,
    relationId: r.relation_id,
    language: r.language_code,
    template: r.template,
    subject: r.subject,
    object: r.object,
    neurons: (r.neurons ?? []).map(([l, u]) => [l, u] as const),
  }));
}
