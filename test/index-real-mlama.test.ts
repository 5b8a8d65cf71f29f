// Indexing facts shaped like real mLAMA, end to end on the test database with the demo models:
// a template whose object slot is not final (masked model indexes it, causal model fails the
// item with the policy's reason, reported grouped by `kn index`), a subject containing "$&"
// that reaches the stored prompt intact, and a NaN in the attribution that fails the item with
// its reason instead of being stored as 0.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createIndexJob } from "../src/indexer/jobs.ts";
import { startQueue } from "../src/indexer/queue.ts";
import { runWorker } from "../src/indexer/worker.ts";
import { type LanguageModel, loadModel } from "../src/model/index.ts";
import { registerDemoModels } from "../src/cli/checkpoints.ts";
import { importMlama } from "../src/store/import-mlama.ts";
import { openTestStore, truncateAll } from "./helpers/store.ts";

const ROOT = join(import.meta.dirname, "..");
const store = openTestStore();
const env = { ...process.env, DATABASE_URL: store.url };
const cli = (args: string[]) => spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), ...args], { cwd: ROOT, env, encoding: "utf8", timeout: 300_000 });
const GERMAN_P19 = "[X] wurde in [Y] geboren .";
const TRICKY = "Jean $& Paul $1 $$";
/** Stored runs with their fact uuid (f.id) and language code (l.code). */
const RUNS = "attribution_run r JOIN fact f ON f.key = r.fact_key JOIN language l ON l.key = r.language_key";
let dir: string;

beforeAll(async () => {
  await truncateAll(store.pool);
  await store.pool.query("DROP SCHEMA IF EXISTS pgboss CASCADE");
  dir = mkdtempSync(join(tmpdir(), "kn-index-real-"));
  const write = (file: string, rows: object[]) => {
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file), rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  };
  const fact = (uuid: string, sub: string, obj: string) => ({ uuid, sub_uri: "Q1", obj_uri: "Q2", sub_label: sub, obj_label: obj });
  write("de/templates.jsonl", [{ relation: "P19", template: GERMAN_P19 }]);
  write("de/P19.jsonl", [fact("p19-1", "Goethe", "Frankfurt"), fact("p19-2", "Schiller", "Marbach")]);
  write("en/templates.jsonl", [{ relation: "P19", template: "[X] was born in [Y] ." }]);
  write("en/P19.jsonl", [fact("p19-1", TRICKY, "Paris")]);
  await importMlama(store.pool, dir);
  await registerDemoModels(store.prisma);
});
afterAll(async () => store.close());

const items = async (job: bigint) =>
  (await store.pool.query<{ fact_id: string; language_code: string; status: string; error: string | null }>(
    `SELECT fact_id, language_code, status::text, error FROM index_job_item WHERE job_id = $1 ORDER BY language_code, fact_id`,
    [job.toString()],
  )).rows;

async function index(model: string, languages: string[], loader: (path: string) => Promise<LanguageModel> = (p) => loadModel(p)) {
  const { rows } = await store.pool.query<{ id: number }>(`SELECT id FROM checkpoint WHERE name = $1`, [model]);
  const boss = await startQueue(store.url);
  try {
    const job = await createIndexJob(store.pool, boss, {
      checkpointId: rows[0].id, setting: { method: "amig-compat", steps: 4, targetMode: "clean" }, languages, relations: ["P19"], topK: 10, force: true, dkn: false,
    });
    await runWorker({ pool: store.pool, boss, exitWhenIdle: true, loadModel: loader });
    return job!.id;
  } finally {
    await boss.stop({ graceful: false, wait: true });
  }
}

describe("indexing real-mLAMA shapes", () => {
  it("a template with a non-final object slot: the masked model uses it, the causal model fails each item with the policy", async () => {
    const masked = await items(await index("demo-mbert", ["de"]));
    expect(masked.map((i) => i.status)).toEqual(["DONE", "DONE"]);
    const { rows } = await store.pool.query(`SELECT prompt FROM ${RUNS} WHERE f.id = 'p19-1' AND l.code = 'de'`);
    expect(rows[0].prompt).toMatch(/^Goethe wurde in (\[MASK\] ?)+ geboren \.$/);

    const causal = await items(await index("demo-mgpt", ["de"]));
    expect(causal.map((i) => i.status)).toEqual(["FAILED", "FAILED"]);
    for (const i of causal) expect(i.error).toBe("no template of P19 in de ends with the object slot [Y] (1 skipped): causal models skip templates whose object slot is not final");
  });

  it("kn index reports the failures grouped by reason and exits 3", () => {
    const r = cli(["index", "--model", "demo-mgpt", "--languages", "de", "--relations", "P19", "--steps", "4", "--no-dkn", "--force", "--quiet"]);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain("failed 2 (de, e.g. p19-1): no template of P19 in de ends with the object slot [Y]");
  });

  it("a subject containing $& reaches the stored prompt literally", async () => {
    const done = await items(await index("demo-mgpt", ["en"]));
    expect(done.map((i) => i.status)).toEqual(["DONE"]);
    const { rows } = await store.pool.query(
      `SELECT r.prompt FROM ${RUNS} JOIN checkpoint c ON c.id = r.checkpoint_id WHERE c.name = 'demo-mgpt' AND f.id = 'p19-1' AND l.code = 'en'`,
    );
    expect(rows[0].prompt).toBe(`${TRICKY} was born in`);
  });

  it("a NaN in the attribution fails the item with its reason and stores nothing", async () => {
    await store.pool.query(`DELETE FROM attribution_run`);
    // The real model, except that one gradient of layer 1 comes back NaN.
    const poisoned = async (path: string): Promise<LanguageModel> => {
      const lm = await loadModel(path);
      const wrapper = Object.create(lm) as LanguageModel;
      wrapper.patchedGradients = async (requests) => {
        const out = await lm.patchedGradients(requests);
        const k = requests.findIndex((r) => r.layer === 1);
        if (k >= 0) out[k].grads[0][7] = Number.NaN;
        return out;
      };
      return wrapper;
    };
    const failed = await items(await index("demo-mbert", ["en"], poisoned));
    expect(failed).toEqual([
      { fact_id: "p19-1", language_code: "en", status: "FAILED", error: "attribution score NaN at layer 1, unit 7 (template 1 of 1): the run is not stored" },
    ]);
    expect(Number((await store.pool.query(`SELECT count(*) AS n FROM attribution_run`)).rows[0].n)).toBe(0);
  });
});
