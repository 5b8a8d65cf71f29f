// Degenerate neuron sets as stored with their run (ALGORITHMS.md §6).
import type { Pool } from "pg";
import type { RunScope } from "../analysis/analysis-store.ts";
import type { Neuron } from "../attribution/model-port.ts";
import type { RunRef } from "./neurons.ts";
import { settingIdSql, settingParams } from "./settings.ts";

export interface DegenerateSetRow {
  baseProb: number;
  jointProb: number;
  members: { layer: number; unit: number; aloneProb: number }[];
}

/** The sets of one run, in the order they were found (pairs in rank order, then grown sets). */
export async function degenerateSetsOfRun(pool: Pool, run: RunRef): Promise<DegenerateSetRow[]> {
  return (await degenerateSetsOfRuns(pool, [run])).get(run.id) ?? [];
}

/** The sets of many runs in one statement, per run id (runs without sets absent), each run's in the order found. */
export async function degenerateSetsOfRuns(pool: Pool, runs: readonly RunRef[]): Promise<Map<bigint, DegenerateSetRow[]>> {
  const { rows } = await pool.query<{ run_id: string; base_prob: number; joint_prob: number; members: { layer: number; unit: number; alone_prob: number }[] }>(
    `SELECT s.run_id, s.base_prob, s.joint_prob,
            json_agg(json_build_object('layer', m.layer, 'unit', m.unit, 'alone_prob', m.alone_prob) ORDER BY m.layer, m.unit) AS members
     FROM degenerate_set s JOIN degenerate_member m ON m.set_id = s.id AND m.checkpoint_id = s.checkpoint_id
     WHERE s.run_id = ANY($1::bigint[]) AND s.checkpoint_id = ANY($2::int[]) GROUP BY s.id, s.checkpoint_id ORDER BY s.run_id, s.id`,
    [runs.map((r) => r.id.toString()), [...new Set(runs.map((r) => r.checkpointId))]],
  );
  const out = new Map<bigint, DegenerateSetRow[]>();
  for (const r of rows) {
    const id = BigInt(r.run_id);
    const set = { baseProb: r.base_prob, jointProb: r.joint_prob, members: r.members.map((m) => ({ layer: m.layer, unit: m.unit, aloneProb: m.alone_prob })) };
    const list = out.get(id);
    if (list) list.push(set);
    else out.set(id, [set]);
  }
  return out;
}

/** Per fact of a relation: the neurons of its degenerate sets in one language (fact-checking, §7.1). */
export async function degenerateNeuronsByFact(pool: Pool, q: RunScope & { relationId: string; language: string }): Promise<Map<string, Neuron[][]>> {
  const { rows } = await pool.query<{ fact_id: string; set_id: string; layer: number; unit: number }>(
    `SELECT f.id AS fact_id, s.id AS set_id, m.layer, m.unit
     FROM attribution_run r
     JOIN degenerate_set s ON s.run_id = r.id AND s.checkpoint_id = r.checkpoint_id
     JOIN degenerate_member m ON m.set_id = s.id AND m.checkpoint_id = s.checkpoint_id
     JOIN fact f ON f.key = r.fact_key
     WHERE r.checkpoint_id = $1 AND r.setting_id = ${settingIdSql(2)}
       AND r.relation_key = (SELECT key FROM relation WHERE id = $5) AND r.language_key = (SELECT key FROM language WHERE code = $6)
     ORDER BY f.id, s.id, m.layer, m.unit`,
    [q.checkpointId, ...settingParams(q.setting), q.relationId, q.language],
  );
  const out = new Map<string, Map<string, Neuron[]>>();
  for (const r of rows) {
    const sets = out.get(r.fact_id) ?? new Map<string, Neuron[]>();
    const set = sets.get(r.set_id) ?? [];
    set.push([r.layer, r.unit]);
    sets.set(r.set_id, set);
    out.set(r.fact_id, sets);
  }
  return new Map([...out].map(([fact, sets]) => [fact, [...sets.values()]]));
}

/** Degenerate sets (of any fact and language, runs of one setting) that contain (layer, unit), by set id. */
export async function degenerateSetsOfNeuron(
  pool: Pool,
  q: RunScope & { layer: number; unit: number; first: number },
): Promise<(DegenerateSetRow & { factId: string; language: string })[]> {
  const { rows } = await pool.query<{ fact_id: string; language: string; base_prob: number; joint_prob: number; members: { layer: number; unit: number; alone_prob: number }[] }>(
    `SELECT f.id AS fact_id, l.code AS language, s.base_prob, s.joint_prob,
            (SELECT json_agg(json_build_object('layer', m.layer, 'unit', m.unit, 'alone_prob', m.alone_prob) ORDER BY m.layer, m.unit)
             FROM degenerate_member m WHERE m.set_id = s.id AND m.checkpoint_id = s.checkpoint_id) AS members
     FROM degenerate_member dm
     JOIN degenerate_set s ON s.id = dm.set_id AND s.checkpoint_id = dm.checkpoint_id
     JOIN attribution_run r ON r.id = s.run_id AND r.checkpoint_id = s.checkpoint_id
     JOIN fact f ON f.key = r.fact_key JOIN language l ON l.key = r.language_key
     WHERE dm.checkpoint_id = $1 AND dm.layer = $5 AND dm.unit = $6 AND r.setting_id = ${settingIdSql(2)}
     ORDER BY s.id LIMIT $7`,
    [q.checkpointId, ...settingParams(q.setting), q.layer, q.unit, q.first],
  );
  return rows.map((r) => ({
    factId: r.fact_id,
    language: r.language,
    baseProb: r.base_prob,
    jointProb: r.joint_prob,
    members: r.members.map((m) => ({ layer: m.layer, unit: m.unit, aloneProb: m.alone_prob })),
  }));
}
