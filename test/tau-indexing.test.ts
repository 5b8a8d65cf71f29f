// τ per language stored with each run: `kn index --calibrate-tau` (§13.6) on the seed facts with
// demo-mbert, checked against the stored runs themselves, plus --tau and --fixed-k.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { attributionModel } from "../src/attribution/model-port.ts";
import type { RunSetting } from "../src/attribution/run-setting.ts";
import { seededOrder } from "../src/indexer/calibrate-tau.ts";
import { createIndexJob } from "../src/indexer/jobs.ts";
import { startQueue } from "../src/indexer/queue.ts";
import { runWorker } from "../src/indexer/worker.ts";
import { loadModel } from "../src/model/index.ts";
import { registerDemoModels } from "../src/cli/checkpoints.ts";
import { resolveSelections, type TauFlags } from "../src/cli/tau-options.ts";
import { importMlama } from "../src/store/import-mlama.ts";
import { openTestStore, truncateAll } from "./helpers/store.ts";

const ROOT = join(import.meta.dirname, "..");
const store = openTestStore();
const env = { ...process.env, DATABASE_URL: store.url };
const cli = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args], { cwd: ROOT, env, encoding: "utf8", timeout: 300_000 });
const SETTING: RunSetting = { method: "amig-compat", steps: 4, targetMode: "clean" };
let checkpointId: number;

beforeAll(async () => {
  await truncateAll(store.pool);
  await store.pool.query("DROP SCHEMA IF EXISTS pgboss CASCADE");
  await importMlama(store.pool, join(ROOT, "seeds/mlama"), { languages: ["en", "zh"], relations: ["P36"] });
  await registerDemoModels(store.prisma);
  checkpointId = (await store.pool.query(`SELECT id FROM checkpoint WHERE name = 'demo-mbert'`)).rows[0].id;
});
afterAll(async () => store.close());

async function indexWith(flags: Partial<TauFlags>) {
  const lm = await loadModel("demo-mbert");
  const selections = await resolveSelections(
    { calibrationFacts: "12", seed: "7", ...flags },
    { pool: store.pool, languages: ["en", "zh"], relations: ["P36"], setting: SETTING, model: async () => attributionModel(lm) },
  );
  const boss = await startQueue(store.url);
  try {
    await createIndexJob(store.pool, boss, {
      checkpointId, setting: SETTING, languages: ["en", "zh"], relations: ["P36"], topK: 10, force: true, dkn: false,
      selections: selections.byLanguage, defaultSelection: selections.fallback,
    });
    await runWorker({ pool: store.pool, boss, exitWhenIdle: true, loadModel: async () => lm });
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
  return selections;
}

const runs = async (language: string) =>
  (await store.pool.query<{ fact_id: string; tau: number; tau_rule: Record<string, unknown>; n_knowledge: number; max_score: number }>(
    `SELECT f.id AS fact_id, r.tau, r.tau_rule, r.n_knowledge, r.max_score FROM attribution_run r
     JOIN fact f ON f.key = r.fact_key JOIN language l ON l.key = r.language_key
     WHERE r.checkpoint_id = $1 AND l.code = $2 ORDER BY f.id`,
    [checkpointId, language],
  )).rows;

describe("τ stored with each run", () => {
  it("--calibrate-tau: zh's τ makes its mean |KN| on the sample match en's, as the stored runs confirm", async () => {
    const { calibrations } = await indexWith({ calibrateTau: true });
    expect(calibrations.map((c) => c.language)).toEqual(["zh"]);
    const zh = await runs("zh");
    const en = await runs("en");
    expect(zh.length).toBeGreaterThan(40);
    const rule = zh[0].tau_rule as { rule: string; reference: string; referenceTau: number; referenceMeanKn: number; meanKn: number; facts: number; seed: string };
    expect(rule).toMatchObject({ rule: "calibrated", reference: "en", referenceTau: 0.3, facts: 12, seed: "7" });
    for (const r of zh) expect(r).toMatchObject({ tau: calibrations[0].selection.tau, tau_rule: rule });
    for (const r of en) expect(r).toMatchObject({ tau: 0.3, tau_rule: { rule: "paper" } });

    // The sample is the first 12 facts in the seed's order (every P36 fact has en and zh labels):
    // the stored runs of those facts reproduce both means.
    const sample = new Set(seededOrder(en.map((r) => r.fact_id), "7").slice(0, 12));
    const meanKn = (rows: { fact_id: string; n_knowledge: number }[]) => rows.filter((r) => sample.has(r.fact_id)).reduce((s, r) => s + r.n_knowledge, 0) / 12;
    expect(meanKn(en)).toBeCloseTo(rule.referenceMeanKn, 10);
    expect(meanKn(zh)).toBeCloseTo(rule.meanKn, 10);
  });

  it("--fixed-k keeps k neurons and stores the rule with the last kept neuron's share of the maximum", async () => {
    await indexWith({ fixedK: "3" });
    for (const language of ["en", "zh"]) {
      for (const r of await runs(language)) {
        expect(r.tau_rule).toEqual({ rule: "top-k", k: 3 });
        expect(r.n_knowledge).toBeLessThanOrEqual(3);
        const { rows } = await store.pool.query(
          `SELECT k.score FROM knowledge_neuron k JOIN fact f ON f.key = k.fact_key JOIN language l ON l.key = k.language_key
           WHERE k.checkpoint_id = $1 AND f.id = $2 AND l.code = $3 ORDER BY k.rank DESC LIMIT 1`,
          [checkpointId, r.fact_id, language],
        );
        if (r.n_knowledge) expect(r.tau).toBeCloseTo(rows[0].score / r.max_score, 5);
      }
    }
  });

  it("--tau per language is stored as given", async () => {
    await indexWith({ tau: "en=0.5,zh=0.15" });
    for (const r of await runs("en")) expect(r).toMatchObject({ tau: 0.5, tau_rule: { rule: "given" } });
    for (const r of await runs("zh")) expect(r).toMatchObject({ tau: 0.15, tau_rule: { rule: "given" } });
  });

  it("the CLI refuses contradictory or malformed selection flags", () => {
    const both = cli(["index", "--model", "demo-mbert", "--fixed-k", "3", "--tau", "0.2", "--quiet"]);
    expect(both.status).toBe(2);
    expect(both.stderr).toMatch(/--fixed-k .* cannot be combined with --tau/);
    const bad = cli(["calibrate-tau", "--model", "demo-mbert", "--tau", "en=2"]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--tau for en must be a number between 0 and 1/);
  });
});
