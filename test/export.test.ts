// `kn export` end to end: real runs of the demo masked model in the test database, exported by the
// CLI, the Parquet files read back with hyparquet and compared with the database row by row.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { asyncBufferFromFile, parquetReadObjects } from "hyparquet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attributionModel } from "../src/attribution/model-port.ts";
import { DEFAULT_RUN_SETTING } from "../src/attribution/run-setting.ts";
import { paperSelection } from "../src/attribution/selection.ts";
import { registerFolder } from "../src/cli/checkpoints.ts";
import { computeRun } from "../src/indexer/attribute-job.ts";
import { loadModel } from "../src/model/index.ts";
import { withTransaction } from "../src/store/client.ts";
import { importMlama } from "../src/store/import-mlama.ts";
import { factContexts } from "../src/store/index-jobs.ts";
import { type RunRecord, saveRuns } from "../src/store/runs.ts";
import { openTestStore, truncateAll } from "./helpers/store.ts";

const ROOT = join(import.meta.dirname, "..");
const MODEL = "demo-mbert";
const store = openTestStore();
const out = mkdtempSync(join(tmpdir(), "kn-export-"));
const read = async (table: string) => parquetReadObjects({ file: await asyncBufferFromFile(join(out, `${table}.parquet`)) });

beforeAll(async () => {
  await truncateAll(store.pool);
  await importMlama(store.pool, join(ROOT, "seeds/mlama"), { languages: ["en", "zh"], relations: ["P36", "P17"] });
  const checkpoint = await registerFolder(store.prisma, MODEL, join(ROOT, "models", MODEL));
  const lm = await loadModel(join(ROOT, "models", MODEL));
  // the 5th and 6th P36 facts (the 5th has degenerate sets in zh), and one P17 fact outside the selection
  const { rows } = await store.pool.query<{ id: string }>(`SELECT id FROM fact WHERE relation_id = 'P36' ORDER BY key OFFSET 4 LIMIT 2`);
  const p17 = await store.pool.query<{ id: string }>(`SELECT id FROM fact WHERE relation_id = 'P17' ORDER BY key LIMIT 1`);
  const pairs = [...rows.flatMap((r) => ["en", "zh"].map((language) => ({ factId: r.id, language }))), { factId: p17.rows[0].id, language: "en" }];
  const contexts = await factContexts(store.pool, pairs);
  const runs: RunRecord[] = [];
  for (const p of pairs) {
    const job = { checkpointId: checkpoint.id, factId: p.factId, language: p.language, ...DEFAULT_RUN_SETTING, topK: 100, replace: false, dkn: true };
    runs.push(await computeRun(attributionModel(lm), job, contexts.get(`${p.factId}|${p.language}`)!, paperSelection(p.language), { nLayers: lm.nLayers, ffnWidth: lm.ffnWidth }));
  }
  await withTransaction(store.pool, (db) => saveRuns(db, runs));
  lm.dispose();
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "export", "--model", MODEL, "--relations", "P36", "--out", out], {
    cwd: ROOT, env: { ...process.env, DATABASE_URL: store.url }, encoding: "utf8", timeout: 300_000,
  });
  expect(r.status, r.stderr).toBe(0);
}, 600_000);
afterAll(() => store.close());

describe("kn export", () => {
  it("runs: one row per run of the selection, every column as stored", async () => {
    const rows = await read("runs");
    const db = await store.pool.query(
      `SELECT f.id AS fact_id, l.code AS language, r.prompt, r.gold_prob, r.predicted_text, r.tau, r.n_knowledge, r.created_at
       FROM attribution_run r JOIN fact f ON f.key = r.fact_key JOIN language l ON l.key = r.language_key WHERE f.relation_id = 'P36' ORDER BY r.fact_key, r.language_key`,
    );
    expect(rows.length).toBe(4);
    expect(rows.map((r) => ({ fact_id: r.fact_id, language: r.language, prompt: r.prompt, gold_prob: r.gold_prob, predicted_text: r.predicted_text, tau: r.tau, n_knowledge: r.n_knowledge, created_at: r.created_at })))
      .toEqual(db.rows.map((r) => ({ ...r, created_at: new Date(r.created_at) })));
    expect(rows.every((r) => r.model === MODEL && r.method === "amig-compat" && r.steps === 20 && r.relation === "P36" && r.n_layers === 4 && r.ffn_width === 256)).toBe(true);
    // the CSV holds the same rows under the same header
    const csv = readFileSync(join(out, "runs.csv"), "utf8").trimEnd().split("\n");
    expect(csv[0]).toBe(Object.keys(rows[0]).join(","));
  });

  it("knowledge neurons, language-independent neurons and degenerate neurons equal the database's", async () => {
    const kn = await read("knowledge_neurons");
    const db = await store.pool.query<{ fact_id: string; language: string; layer: number; unit: number; score: number; rank: number }>(
      `SELECT f.id AS fact_id, l.code AS language, k.layer, k.unit, k.score, k.rank FROM knowledge_neuron k JOIN fact f ON f.key = k.fact_key JOIN language l ON l.key = k.language_key
       WHERE f.relation_id = 'P36' ORDER BY k.fact_key, k.language_key, k.rank`,
    );
    // scores are float32 (real) in both: the database's text form is the shortest float32 repr
    expect(kn.map((r) => ({ fact_id: r.fact_id, language: r.language, layer: r.layer, unit: r.unit, score: r.score, rank: r.rank }))).toEqual(db.rows.map((r) => ({ ...r, score: Math.fround(r.score) })));

    // LIKN: per fact, the neurons selected in both en and zh
    const byFact = new Map<string, Map<string, Set<string>>>();
    for (const r of db.rows) {
      const langs = byFact.get(r.fact_id) ?? new Map<string, Set<string>>();
      langs.set(r.language, (langs.get(r.language) ?? new Set()).add(`${r.layer}:${r.unit}`));
      byFact.set(r.fact_id, langs);
    }
    const expected = [...byFact].flatMap(([fact, langs]) => [...(langs.get("en") ?? [])].filter((n) => langs.get("zh")?.has(n)).map((n) => `${fact}|${n}`));
    const likn = await read("language_independent_neurons");
    expect(likn.map((r) => `${r.fact_id}|${r.layer}:${r.unit}`).sort()).toEqual(expected.sort());
    expect(likn.every((r) => r.languages === "en,zh")).toBe(true);

    const dkn = await read("degenerate_neurons");
    const members = await store.pool.query(
      `SELECT f.id AS fact_id, l.code AS language, m.layer, m.unit, m.alone_prob, s.base_prob, s.joint_prob FROM degenerate_member m
       JOIN degenerate_set s ON s.id = m.set_id JOIN attribution_run r ON r.id = s.run_id JOIN fact f ON f.key = r.fact_key JOIN language l ON l.key = r.language_key
       WHERE f.relation_id = 'P36' ORDER BY r.fact_key, r.language_key, s.id, m.layer, m.unit`,
    );
    expect(members.rows.length).toBeGreaterThan(0);
    expect(dkn.map((r) => ({ fact_id: r.fact_id, language: r.language, layer: r.layer, unit: r.unit, alone_prob: r.alone_prob, base_prob: r.base_prob, joint_prob: r.joint_prob }))).toEqual(members.rows);
  });
});
