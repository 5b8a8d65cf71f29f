// `kn export`: a checkpoint's runs, knowledge neurons, language-independent neurons and degenerate
// neurons (a selection by relation and language, one run setting) as CSV and Parquet, streamed:
// CSV through COPY (...) TO STDOUT, Parquet through a server-side cursor fetched BATCH_ROWS rows at
// a time, each batch one Parquet row group. Memory stays bounded by one batch however large the
// store. The columns of each table are EXPORT_TABLES below (documented in README "Exports").
import { createWriteStream } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { Pool, PoolClient } from "pg";
import { to as copyTo } from "pg-copy-streams";
import { ParquetWriter, fileWriter } from "hyparquet-writer";
import type { RunSetting } from "../attribution/run-setting.ts";
import { settingParams } from "./settings.ts";

/** Rows fetched from the cursor per Parquet row group. */
export const BATCH_ROWS = 50_000;

type ColumnType = "STRING" | "INT32" | "DOUBLE" | "FLOAT" | "TIMESTAMP";

interface Column {
  name: string;
  type: ColumnType;
  /** SQL expression over the table's FROM (aliases: r run, k knowledge_neuron, ...). */
  sql: string;
}

export interface ExportSelection {
  checkpointId: number;
  setting: RunSetting;
  /** Empty: every relation / every language with runs. */
  relations: readonly string[];
  languages: readonly string[];
}

/** $1 checkpoint, $2..$4 setting, $5 relations, $6 languages (empty array: all). */
const RUN_SCOPE = `r.checkpoint_id = $1
  AND r.setting_id = (SELECT id FROM run_setting WHERE method = $2::attribution_method AND steps = $3 AND target_mode = $4::target_mode)
  AND (cardinality($5::text[]) = 0 OR rel.id = ANY($5::text[])) AND (cardinality($6::text[]) = 0 OR l.code = ANY($6::text[]))`;
const RUN_FROM = `attribution_run r JOIN checkpoint c ON c.id = r.checkpoint_id JOIN run_setting s ON s.id = r.setting_id
  JOIN fact f ON f.key = r.fact_key JOIN relation rel ON rel.key = r.relation_key JOIN language l ON l.key = r.language_key`;
const SETTING_COLUMNS: Column[] = [
  { name: "model", type: "STRING", sql: "c.name" },
  { name: "method", type: "STRING", sql: "s.method::text" },
  { name: "steps", type: "INT32", sql: "s.steps" },
  { name: "target_mode", type: "STRING", sql: "s.target_mode::text" },
];

/** The fact, relation and language of a run. */
const RUN_KEY_COLUMNS: Column[] = [
  { name: "fact_id", type: "STRING", sql: "f.id" },
  { name: "relation", type: "STRING", sql: "rel.id" },
  { name: "language", type: "STRING", sql: "l.code" },
];

interface ExportTable {
  name: string;
  description: string;
  columns: Column[];
  /** FROM ... WHERE ... ORDER BY (the columns' aliases are in scope). */
  body: string;
}

export const EXPORT_TABLES: readonly ExportTable[] = [
  {
    name: "runs",
    description: "one row per attribution run (fact x language)",
    columns: [
      ...SETTING_COLUMNS,
      ...RUN_KEY_COLUMNS,
      { name: "subject_uri", type: "STRING", sql: "f.subject_uri" },
      { name: "object_uri", type: "STRING", sql: "f.object_uri" },
      { name: "prompt", type: "STRING", sql: "r.prompt" },
      { name: "gold_prob", type: "DOUBLE", sql: "r.gold_prob" },
      { name: "predicted_text", type: "STRING", sql: "r.predicted_text" },
      { name: "predicted_prob", type: "DOUBLE", sql: "r.predicted_prob" },
      { name: "tau", type: "DOUBLE", sql: "r.tau" },
      { name: "tau_rule", type: "STRING", sql: "r.tau_rule->>'rule'" },
      { name: "max_score", type: "DOUBLE", sql: "r.max_score" },
      { name: "n_knowledge", type: "INT32", sql: "r.n_knowledge" },
      { name: "n_layers", type: "INT32", sql: "r.n_layers" },
      { name: "ffn_width", type: "INT32", sql: "r.ffn_width" },
      { name: "created_at", type: "TIMESTAMP", sql: "r.created_at" },
    ],
    body: `FROM ${RUN_FROM} WHERE ${RUN_SCOPE} ORDER BY r.fact_key, r.language_key`,
  },
  {
    name: "knowledge_neurons",
    description: "one row per knowledge neuron of a run, ranked by score",
    columns: [
      ...SETTING_COLUMNS,
      ...RUN_KEY_COLUMNS,
      { name: "layer", type: "INT32", sql: "k.layer" },
      { name: "unit", type: "INT32", sql: "k.unit" },
      { name: "score", type: "FLOAT", sql: "k.score" },
      { name: "rank", type: "INT32", sql: "k.rank" },
    ],
    body: `FROM ${RUN_FROM} JOIN knowledge_neuron k ON k.run_id = r.id AND k.checkpoint_id = r.checkpoint_id
      WHERE ${RUN_SCOPE} ORDER BY r.fact_key, r.language_key, k.rank`,
  },
  {
    name: "language_independent_neurons",
    description: "per fact, the neurons that are knowledge neurons in every selected language (every language the fact has runs in when none is selected)",
    columns: [
      ...SETTING_COLUMNS,
      { name: "fact_id", type: "STRING", sql: "f.id" },
      { name: "relation", type: "STRING", sql: "rel.id" },
      { name: "layer", type: "INT32", sql: "x.layer" },
      { name: "unit", type: "INT32", sql: "x.unit" },
      { name: "languages", type: "STRING", sql: "x.languages" },
      { name: "min_score", type: "FLOAT", sql: "x.min_score" },
    ],
    body: `FROM (
        SELECT r.checkpoint_id, r.setting_id, r.fact_key, r.relation_key, k.layer, k.unit,
               string_agg(l.code, ',' ORDER BY l.code) AS languages, min(k.score) AS min_score, count(*) AS n,
               max(nl.n) AS needed
        FROM ${RUN_FROM} JOIN knowledge_neuron k ON k.run_id = r.id AND k.checkpoint_id = r.checkpoint_id
        JOIN LATERAL (SELECT CASE WHEN cardinality($6::text[]) > 0 THEN cardinality($6::text[])
                                  ELSE (SELECT count(*) FROM attribution_run r2 WHERE r2.checkpoint_id = r.checkpoint_id
                                          AND r2.setting_id = r.setting_id AND r2.fact_key = r.fact_key) END AS n) nl ON true
        WHERE ${RUN_SCOPE}
        GROUP BY r.checkpoint_id, r.setting_id, r.fact_key, r.relation_key, k.layer, k.unit) x
      JOIN checkpoint c ON c.id = x.checkpoint_id JOIN run_setting s ON s.id = x.setting_id
      JOIN fact f ON f.key = x.fact_key JOIN relation rel ON rel.key = x.relation_key
      WHERE x.n = x.needed AND x.n > 1
      ORDER BY x.fact_key, x.layer, x.unit`,
  },
  {
    name: "degenerate_neurons",
    description: "one row per member of a degenerate neuron set, with the probabilities that justify the set",
    columns: [
      ...SETTING_COLUMNS,
      ...RUN_KEY_COLUMNS,
      { name: "set_id", type: "STRING", sql: "ds.id::text" },
      { name: "layer", type: "INT32", sql: "m.layer" },
      { name: "unit", type: "INT32", sql: "m.unit" },
      { name: "alone_prob", type: "DOUBLE", sql: "m.alone_prob" },
      { name: "base_prob", type: "DOUBLE", sql: "ds.base_prob" },
      { name: "joint_prob", type: "DOUBLE", sql: "ds.joint_prob" },
    ],
    body: `FROM ${RUN_FROM} JOIN degenerate_set ds ON ds.run_id = r.id AND ds.checkpoint_id = r.checkpoint_id
      JOIN degenerate_member m ON m.set_id = ds.id AND m.checkpoint_id = ds.checkpoint_id
      WHERE ${RUN_SCOPE} ORDER BY r.fact_key, r.language_key, ds.id, m.layer, m.unit`,
  },
];

const selectSql = (t: ExportTable) => `SELECT ${t.columns.map((c) => `${c.sql} AS ${c.name}`).join(", ")} ${t.body}`;
const params = (sel: ExportSelection) => [sel.checkpointId, ...settingParams(sel.setting), [...sel.relations], [...sel.languages]];

/** SQL literal of a parameter, for COPY (which takes no bind parameters). */
function literal(value: unknown): string {
  if (Array.isArray(value)) return `ARRAY[${value.map(literal).join(",")}]::text[]`;
  if (typeof value === "number") return String(value);
  return `'${String(value).replace(/'/g, "''")}'`;
}

const inline = (sql: string, values: unknown[]) => sql.replace(/\$(\d+)/g, (_, i: string) => literal(values[Number(i) - 1]));

async function exportCsv(client: PoolClient, t: ExportTable, sel: ExportSelection, file: string): Promise<void> {
  const copy = client.query(copyTo(`COPY (${inline(selectSql(t), params(sel))}) TO STDOUT WITH (FORMAT csv, HEADER true)`));
  await pipeline(copy, createWriteStream(file));
}

type ColumnValues = (string | number | Date | null)[];

async function exportParquet(client: PoolClient, t: ExportTable, sel: ExportSelection, file: string): Promise<number> {
  const schema = [
    { name: "root", num_children: t.columns.length },
    ...t.columns.map((c) =>
      c.type === "STRING" ? { name: c.name, type: "BYTE_ARRAY" as const, converted_type: "UTF8" as const, repetition_type: "OPTIONAL" as const }
      : c.type === "TIMESTAMP" ? { name: c.name, type: "INT64" as const, converted_type: "TIMESTAMP_MILLIS" as const, repetition_type: "OPTIONAL" as const }
      : { name: c.name, type: c.type, repetition_type: "OPTIONAL" as const },
    ),
  ];
  const writer = new ParquetWriter({ writer: fileWriter(file), schema, createdBy: "knowledge-neuron-db kn export" });
  let rows = 0;
  await client.query("BEGIN");
  try {
    await client.query({ text: `DECLARE kn_export NO SCROLL CURSOR FOR ${selectSql(t)}`, values: params(sel) });
    for (;;) {
      const batch = await client.query({ text: `FETCH ${BATCH_ROWS} FROM kn_export`, rowMode: "array" });
      if (!batch.rows.length) break;
      const columnData = t.columns.map((c, i) => ({
        name: c.name,
        data: batch.rows.map((r: unknown[]) => r[i]) as ColumnValues,
      }));
      await writer.write({ columnData, rowGroupSize: BATCH_ROWS });
      rows += batch.rows.length;
    }
    await client.query("COMMIT");
  } catch (err) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw err;
  }
  writer.finish();
  return rows;
}

export interface ExportedFile {
  table: string;
  rows: number;
  files: string[];
}

/** Writes <dir>/<table>.csv and/or <dir>/<table>.parquet for every table. */
export async function exportTables(pool: Pool, sel: ExportSelection, dir: string, formats: readonly ("csv" | "parquet")[]): Promise<ExportedFile[]> {
  const client = await pool.connect();
  try {
    const out: ExportedFile[] = [];
    for (const t of EXPORT_TABLES) {
      const files: string[] = [];
      let rows = 0;
      if (formats.includes("parquet")) {
        const file = join(dir, `${t.name}.parquet`);
        rows = await exportParquet(client, t, sel, file);
        files.push(file);
      }
      if (formats.includes("csv")) {
        const file = join(dir, `${t.name}.csv`);
        await exportCsv(client, t, sel, file);
        files.push(file);
      }
      out.push({ table: t.name, rows, files });
    }
    return out;
  } finally {
    client.release();
  }
}
