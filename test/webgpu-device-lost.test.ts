// A GPU device lost in the middle of work (forced with device.destroy(), as a driver reset or a
// removed GPU would): model calls fail with DeviceLostError instead of returning numbers, and an
// index job's worker marks the affected items failed with the reason, keeps every stored run, and
// a re-run of the job completes it.
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { registerDemoModels } from "../src/cli/checkpoints.ts";
import { createIndexJob } from "../src/indexer/jobs.ts";
import { startQueue } from "../src/indexer/queue.ts";
import { runWorker } from "../src/indexer/worker.ts";
import { type LanguageModel, loadModel } from "../src/model/index.ts";
import { DeviceLostError, releaseWebgpu, webgpuDevice } from "../src/model/webgpu.ts";
import { importMlama } from "../src/store/import-mlama.ts";
import { openTestStore, truncateAll } from "./helpers/store.ts";
import { describeWebgpu } from "./helpers/webgpu.ts";
import { DEFAULT_RUN_SETTING } from "../src/attribution/run-setting.ts";

const ROOT = join(import.meta.dirname, "..");
const store = openTestStore();
const count = async (sql: string) => Number((await store.pool.query(sql)).rows[0].n);

afterAll(async () => {
  releaseWebgpu();
  await store.close();
});

/** `lm` whose device is destroyed when prepare() is called for the `at`-th time. */
function destroyingAt(lm: LanguageModel, at: number): LanguageModel {
  let calls = 0;
  return new Proxy(lm, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (prop !== "prepare") return typeof value === "function" ? value.bind(target) : value;
      return (...args: Parameters<LanguageModel["prepare"]>) => {
        if (++calls === at) webgpuDevice()!.device.destroy();
        return target.prepare(...args);
      };
    },
  });
}

describeWebgpu("a lost GPU device", () => {
  beforeAll(async () => {
    await truncateAll(store.pool);
    await store.pool.query("DROP SCHEMA IF EXISTS pgboss CASCADE");
    await importMlama(store.pool, join(ROOT, "seeds/mlama"), { languages: ["en"], relations: ["P36"] });
    // six facts: enough for a batch that is cut in the middle
    await store.pool.query("DELETE FROM fact_label WHERE fact_id NOT IN (SELECT fact_id FROM fact_label ORDER BY fact_id LIMIT 6)");
  });

  it("makes model calls fail with DeviceLostError, not numbers", async () => {
    const lm = await loadModel("demo-mgpt", { backend: "webgpu" });
    const ids = lm.tokenizer.encode("The capital of France is");
    expect((await lm.probabilities(ids)).length).toBe(lm.vocabSize);
    webgpuDevice()!.device.destroy();
    const err = await lm.probabilities(ids).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceLostError);
    expect((err as DeviceLostError).message).toMatch(/^the GPU device was lost: destroyed/);
    lm.dispose();
    releaseWebgpu(); // the next loadModel opens a fresh device
  });

  it("fails the index job's affected items with the reason and loses nothing stored; a re-run completes the job", async () => {
    const [, mgpt] = await registerDemoModels(store.prisma);
    const boss = await startQueue(store.url);
    try {
      const request = { checkpointId: mgpt.id, setting: DEFAULT_RUN_SETTING, languages: ["en"], relations: ["P36"], topK: 100, force: false, dkn: false };
      const job = (await createIndexJob(store.pool, boss, request))!;
      expect(job.queued).toBe(6);
      // batches of 4: the device goes at the third prompt pass, inside the first batch
      const lost = await runWorker({
        pool: store.pool, boss, batchSize: 4, exitWhenIdle: true,
        loadModel: async (dir) => destroyingAt(await loadModel(dir, { backend: "webgpu" }), 3),
      }).catch((e: unknown) => e);
      expect(lost).toBeInstanceOf(DeviceLostError);
      const items = (await store.pool.query<{ status: string; error: string | null; run_id: string | null }>(
        "SELECT status, error, run_id FROM index_job_item WHERE job_id = $1 ORDER BY finished_at NULLS LAST, fact_id", [job.id.toString()],
      )).rows;
      const by = (status: string) => items.filter((i) => i.status === status);
      // the batch's four facts are attributed together (one batched computation), so the loss
      // inside it fails all four: none of them is stored, half-written or not
      const done = by("DONE").length;
      expect(done).toBe(0);
      expect(by("DONE").every((i) => i.run_id !== null)).toBe(true);
      expect(by("FAILED")).toHaveLength(4 - done);
      for (const f of by("FAILED")) expect(f.error).toMatch(/^the GPU device was lost: destroyed/);
      expect(by("PENDING")).toHaveLength(2); // still queued for any other worker
      const storedBefore = (await store.pool.query<{ id: string }>("SELECT id FROM attribution_run ORDER BY id")).rows.map((r) => r.id);
      expect(storedBefore).toHaveLength(done);
      // every stored run is whole: its top-K scores are all there
      expect(await count("SELECT COALESCE(sum(cardinality(scores)), 0) AS n FROM neuron_score")).toBe(100 * done);

      // another worker (wasm) takes the queued rest; re-running the job redoes the failed items
      releaseWebgpu();
      const work = () => runWorker({ pool: store.pool, boss, batchSize: 4, exitWhenIdle: true, loadModel: (dir) => loadModel(dir, { backend: "wasm" }) });
      await work();
      const again = (await createIndexJob(store.pool, boss, request))!;
      expect([again.skipped, again.queued]).toEqual([done + 2, 4 - done]);
      await work();
      expect(await count("SELECT count(*) AS n FROM attribution_run")).toBe(6);
      const storedAfter = (await store.pool.query<{ id: string }>("SELECT id FROM attribution_run ORDER BY id")).rows.map((r) => r.id);
      expect(storedAfter.slice(0, done)).toEqual(storedBefore);
      expect(await count(`SELECT count(*) AS n FROM index_job_item WHERE job_id = ${again.id} AND status <> 'DONE' AND status <> 'SKIPPED'`)).toBe(0);
    } finally {
      await boss.stop({ graceful: false, wait: true }).catch(() => undefined);
    }
  });
});
