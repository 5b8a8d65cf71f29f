// Relation- and model-wide statistics over the stored runs for the explorer: the per-layer
// distribution of knowledge neurons and indexing coverage (the language x language overlap is
// likn.ts's relationLanguageOverlap).
// Each is one statement over the run and knowledge_neuron indexes (checkpoint, setting, relation,
// language, fact, ...), never a query per fact.
import type { Pool } from "pg";
import type { RunScope } from "../analysis/analysis-store.ts";
import { settingIdSql, settingParams } from "./settings.ts";

export interface LayerDistributionRow {
  language: string;
  runs: number;
  /** Knowledge neurons per layer, index = layer. */
  perLayer: number[];
}

/** Knowledge neurons per layer and language over the runs of one relation (or all: relationId null). */
export async function layerDistribution(
  pool: Pool,
  q: RunScope & { relationId: string | null; languages: readonly string[]; nLayers: number },
): Promise<LayerDistributionRow[]> {
  const params = [q.checkpointId, ...settingParams(q.setting), q.relationId, q.languages];
  const scope = (t: string) => `${t}.checkpoint_id = $1 AND ${t}.setting_id = ${settingIdSql(2)}
    AND ($5::text IS NULL OR ${t}.relation_key = (SELECT key FROM relation WHERE id = $5))`;
  const [runs, neurons] = await Promise.all([
    pool.query<{ code: string; n: number }>(
      `SELECT l.code, count(r.id)::int AS n FROM language l LEFT JOIN attribution_run r ON r.language_key = l.key AND ${scope("r")}
       WHERE l.code = ANY($6::text[]) GROUP BY l.code`,
      params,
    ),
    pool.query<{ code: string; layer: number; n: number }>(
      `SELECT l.code, k.layer, count(*)::int AS n FROM language l JOIN knowledge_neuron k ON k.language_key = l.key AND ${scope("k")}
       WHERE l.code = ANY($6::text[]) GROUP BY l.code, k.layer`,
      params,
    ),
  ]);
  const counts = new Map(q.languages.map((code) => [code, new Array<number>(q.nLayers).fill(0)]));
  for (const r of neurons.rows) {
    const perLayer = counts.get(r.code);
    if (perLayer && r.layer < q.nLayers) perLayer[r.layer] = r.n;
  }
  const runsOf = new Map(runs.rows.map((r) => [r.code, r.n]));
  return q.languages.map((language) => ({ language, runs: runsOf.get(language) ?? 0, perLayer: counts.get(language)! }));
}

export interface CoverageRow {
  checkpointId: number;
  relationId: string;
  language: string;
  facts: number;
  indexed: number;
  knowledgeNeurons: number;
}

/**
 * Per checkpoint x relation x language with labelled facts: how many facts there are, how many
 * have a run of the setting, and their knowledge neurons. By checkpoint, relation, language.
 * Two aggregates joined on a few hundred rows: the labelled facts per relation and language
 * (index-only over fact_label (language_code, fact_id) and fact (relation_id, id)), and the runs
 * per checkpoint, relation and language (index-only over attribution_run (checkpoint_id,
 * setting_id, relation_key, language_key, fact_key, n_knowledge)); no statement per run.
 */
export async function indexingCoverage(pool: Pool, q: { checkpointIds: readonly number[]; setting: RunScope["setting"] }): Promise<CoverageRow[]> {
  const { rows } = await pool.query<{ checkpoint_id: number; relation_id: string; language_code: string; facts: number; indexed: number; kn: number }>(
    `WITH labelled AS (
       SELECT f.relation_id, fl.language_code, count(*)::int AS facts
       FROM fact_label fl JOIN fact f ON f.id = fl.fact_id GROUP BY 1, 2),
     indexed AS (
       SELECT r.checkpoint_id, r.relation_key, r.language_key, count(*)::int AS indexed, sum(r.n_knowledge)::int AS kn
       FROM attribution_run r WHERE r.checkpoint_id = ANY($1::int[]) AND r.setting_id = ${settingIdSql(2)}
       GROUP BY 1, 2, 3)
     SELECT c.id AS checkpoint_id, lb.relation_id, lb.language_code, lb.facts, COALESCE(i.indexed, 0) AS indexed, COALESCE(i.kn, 0) AS kn
     FROM unnest($1::int[]) AS c(id) CROSS JOIN labelled lb
     JOIN relation rel ON rel.id = lb.relation_id JOIN language l ON l.code = lb.language_code
     LEFT JOIN indexed i ON i.checkpoint_id = c.id AND i.relation_key = rel.key AND i.language_key = l.key
     ORDER BY c.id, lb.relation_id, lb.language_code`,
    [q.checkpointIds, ...settingParams(q.setting)],
  );
  return rows.map((r) => ({ checkpointId: r.checkpoint_id, relationId: r.relation_id, language: r.language_code, facts: r.facts, indexed: r.indexed, knowledgeNeurons: r.kn }));
}

/**
 * Degenerate neuron sets per checkpoint, relation and language over the runs of the setting, keyed
 * "<checkpointId>|<relationId>|<language>" (absent: none). One grouped join of degenerate_set with
 * its runs, asked only when a query selects IndexingCoverage.degenerateSets.
 */
export async function degenerateSetCounts(pool: Pool, q: { checkpointIds: readonly number[]; setting: RunScope["setting"] }): Promise<Map<string, number>> {
  const { rows } = await pool.query<{ checkpoint_id: number; relation_id: string; language_code: string; n: number }>(
    `SELECT r.checkpoint_id, rel.id AS relation_id, l.code AS language_code, count(*)::int AS n
     FROM degenerate_set s
     JOIN attribution_run r ON r.id = s.run_id AND r.checkpoint_id = s.checkpoint_id
     JOIN relation rel ON rel.key = r.relation_key JOIN language l ON l.key = r.language_key
     WHERE s.checkpoint_id = ANY($1::int[]) AND r.setting_id = ${settingIdSql(2)}
     GROUP BY 1, 2, 3`,
    [q.checkpointIds, ...settingParams(q.setting)],
  );
  return new Map(rows.map((r) => [`${r.checkpoint_id}|${r.relation_id}|${r.language_code}`, r.n]));
}
