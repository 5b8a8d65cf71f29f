// The facts of a checkpoint that have a run of one setting, with what an experiment needs to
// re-run their prompt (template, labels) and the run's ranked knowledge neurons.
import type { Pool } from "pg";
import type { IndexedFact, RunScope } from "../analysis/analysis-store.ts";
import { settingIdSql, settingParams } from "./settings.ts";

export async function indexedFacts(pool: Pool, q: RunScope & { languages: readonly string[] }): Promise<IndexedFact[]> {
  const { rows } = await pool.query<{ fact_id: string; relation_id: string; language_code: string; template: string; subject: string; object: string; neurons: [number, number][] | null }>(
    `SELECT f.id AS fact_id, f.relation_id, l.code AS language_code, t.text AS template, fl.subject, fl.object,
            (SELECT array_agg(ARRAY[k.layer, k.unit] ORDER BY k.rank) FROM knowledge_neuron k
             WHERE k.run_id = r.id AND k.checkpoint_id = r.checkpoint_id) AS neurons
     FROM attribution_run r
     JOIN fact f ON f.key = r.fact_key
     JOIN language l ON l.key = r.language_key
     JOIN fact_label fl ON fl.fact_id = f.id AND fl.language_code = l.code
     JOIN LATERAL (SELECT text FROM template WHERE relation_id = f.relation_id AND language_code = l.code ORDER BY id LIMIT 1) t ON true
     WHERE r.checkpoint_id = $1 AND r.setting_id = ${settingIdSql(2)}
       AND r.language_key = ANY(ARRAY(SELECT key FROM language WHERE code = ANY($5::text[])))
     ORDER BY f.id, l.code`,
    [q.checkpointId, ...settingParams(q.setting), [...q.languages]],
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
