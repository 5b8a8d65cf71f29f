// Run settings (table run_setting): the small integer every run and neuron row stores instead of
// method, steps and target mode.
import type { Pool, PoolClient } from "pg";
import type { RunSetting } from "../attribution/run-setting.ts";
import { named } from "./client.ts";

/** SQL for the id of the setting whose method, steps and target mode are parameters $n, $n+1, $n+2
 * (NULL when no run was ever stored with it, so that a query over it finds nothing). */
export const settingIdSql = (n: number) =>
  `(SELECT id FROM run_setting WHERE method = $${n}::attribution_method AND steps = $${n + 1} AND target_mode = $${n + 2}::target_mode)`;

export const settingParams = (s: RunSetting): [string, number, string] => [s.method, s.steps, s.targetMode];

export const settingKey = (s: RunSetting) => `${s.method}|${s.steps}|${s.targetMode}`;

/** A run_setting row's columns as a query returns them. */
export interface SettingDbRow {
  method: RunSetting["method"];
  steps: number;
  target_mode: RunSetting["targetMode"];
}

export const settingOfRow = (r: SettingDbRow): RunSetting => ({ method: r.method, steps: r.steps, targetMode: r.target_mode });

/**
 * The ids of these settings, created when new; keyed by settingKey. Known settings cost one SELECT:
 * an INSERT … ON CONFLICT DO NOTHING draws a value of the smallint id sequence for every row it
 * proposes, conflict or not, so inserting on every batch would exhaust it after 32 767 batches.
 */
export async function ensureSettings(db: Pool | PoolClient, settings: readonly RunSetting[]): Promise<Map<string, number>> {
  const unique = [...new Map(settings.map((s) => [settingKey(s), s])).values()];
  if (!unique.length) return new Map();
  const arrays = [unique.map((s) => s.method), unique.map((s) => s.steps), unique.map((s) => s.targetMode)];
  const known = async () => {
    const { rows } = await db.query<SettingDbRow & { id: number }>(
      named(
        `SELECT s.id, s.method, s.steps, s.target_mode FROM run_setting s
         JOIN unnest($1::attribution_method[], $2::int[], $3::target_mode[]) AS k(method, steps, target_mode)
           ON (s.method, s.steps, s.target_mode) = (k.method, k.steps, k.target_mode)`,
        arrays,
      ),
    );
    return new Map(rows.map((r) => [settingKey(settingOfRow(r)), r.id]));
  };
  const ids = await known();
  if (ids.size === unique.length) return ids;
  await db.query(
    `INSERT INTO run_setting (method, steps, target_mode)
     SELECT * FROM unnest($1::attribution_method[], $2::int[], $3::target_mode[]) ON CONFLICT DO NOTHING`,
    arrays,
  );
  // a new statement, a new snapshot: it sees a setting another transaction inserted meanwhile
  return known();
}
