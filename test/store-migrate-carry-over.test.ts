// The migration *_store_for_scale carries a database of the previous schema over without losing a
// row: a database built by the earlier migrations is filled with real runs (seed P17 facts
// attributed on both demo models, two settings, degenerate sets, an index job), migrated, and every
// row's content is compared, in text keys, with what was there, through SQL, the store's queries
// and the GraphQL API. A run that cannot be carried over fails the migration and changes nothing.
import { rmSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseApiKeys } from "../src/api/auth.ts";
import { InlineModelHost } from "../src/api/model-host.ts";
import { type RunningServer, startApiServer } from "../src/api/server.ts";
import { attributionModel } from "../src/attribution/model-port.ts";
import { DEFAULT_RUN_SETTING, type RunSetting } from "../src/attribution/run-setting.ts";
import { paperSelection } from "../src/attribution/selection.ts";
import { computeRun } from "../src/indexer/attribute-job.ts";
import { startQueue } from "../src/indexer/queue.ts";
import { loadModel } from "../src/model/index.ts";
import { createPool, createPrisma } from "../src/store/client.ts";
import { importMlama } from "../src/store/import-mlama.ts";
import { factContexts } from "../src/store/index-jobs.ts";
import { relationLanguageIndependentNeurons } from "../src/store/likn.ts";
import { applyMigrations, migrationStatus } from "../src/store/migrate.ts";
import { findRun, knowledgeNeuronsOfRuns, topScoresOfRuns } from "../src/store/neurons.ts";
import type { RunRecord } from "../src/store/runs.ts";
import { gql } from "./helpers/graphql.ts";
import { createScratchDatabase, type ScratchDatabase, withClient } from "./helpers/db.ts";
import { migrationNamed, migrationsBefore, migrationsFrom } from "./helpers/migrations.ts";
import { type StoreSnapshot, saveRunsV1, snapshotV1, snapshotV2 } from "./helpers/store-v1.ts";

const ROOT = path.join(import.meta.dirname, "..");
const MIGRATION = migrationNamed("_store_for_scale");
const FACTS = 10;

/** Real runs of the first FACTS P17 facts in en and zh, computed by the indexer's own code. */
async function computeRuns(pool: pg.Pool, model: string, checkpointId: number, setting: RunSetting, languages: string[], dkn: boolean): Promise<RunRecord[]> {
  const { rows } = await pool.query<{ id: string }>(`SELECT id FROM fact WHERE relation_id = 'P17' ORDER BY id LIMIT $1`, [FACTS]);
  const pairs = rows.flatMap((r) => languages.map((language) => ({ factId: r.id, language })));
  const contexts = await factContexts(pool, pairs);
  const lm = await loadModel(path.join(ROOT, "models", model));
  try {
    const m = attributionModel(lm);
    const runs: RunRecord[] = [];
    for (const p of pairs) {
      const job = { checkpointId, factId: p.factId, language: p.language, ...setting, topK: 100, replace: false, dkn };
      runs.push(await computeRun(m, job, contexts.get(`${p.factId}|${p.language}`)!, paperSelection(p.language), { nLayers: lm.nLayers, ffnWidth: lm.ffnWidth }));
    }
    return runs;
  } finally {
    lm.dispose();
  }
}

describe("migrating a database of the previous schema", () => {
  let db: ScratchDatabase;
  let v1Dir: string;
  let before: StoreSnapshot;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await createScratchDatabase("carry_over");
    v1Dir = migrationsBefore(MIGRATION.name);
    expect(await applyMigrations(db.url, { migrationsDir: v1Dir })).not.toContain(MIGRATION.name);
    pool = createPool(db.url, { max: 2 });
    await importMlama(pool, path.join(ROOT, "seeds/mlama"), { languages: ["en", "zh"], relations: ["P17"] });
    const checkpoint = async (name: string, arch: string, type: string, layers: number, ffn: number) =>
      (
        await pool.query<{ id: number }>(
          `INSERT INTO checkpoint (name, architecture, model_type, n_layers, hidden, ffn_width, vocab_size, path, content_hash)
           VALUES ($1, $2::architecture, $3, $4, 64, $5, 1000, $6, 'v1') RETURNING id`,
          [name, arch, type, layers, ffn, path.join(ROOT, "models", name)],
        )
      ).rows[0].id;
    const mbert = await checkpoint("demo-mbert", "MASKED", "bert", 4, 256);
    const mgpt = await checkpoint("demo-mgpt", "CAUSAL", "gpt2", 4, 512);
    const runs = [
      ...(await computeRuns(pool, "demo-mbert", mbert, DEFAULT_RUN_SETTING, ["en", "zh"], true)),
      ...(await computeRuns(pool, "demo-mbert", mbert, { ...DEFAULT_RUN_SETTING, steps: 7 }, ["en"], false)),
      ...(await computeRuns(pool, "demo-mgpt", mgpt, DEFAULT_RUN_SETTING, ["en", "zh"], true)),
    ];
    await withClient(async (c) => {
      await c.query("BEGIN");
      await saveRunsV1(c, runs);
      // an index job over the mbert runs, its items pointing at them
      const job = await c.query<{ id: string }>(
        `INSERT INTO index_job (checkpoint_id, method, steps, target_mode, languages, relations, status, total) VALUES ($1, 'amig-compat', 20, 'clean', '{en,zh}', '{P17}', 'DONE', 0) RETURNING id`,
        [mbert],
      );
      await c.query(
        `INSERT INTO index_job_item (job_id, fact_id, language_code, status, run_id, finished_at)
         SELECT $1, fact_id, language_code, 'DONE', id, now() FROM attribution_run WHERE checkpoint_id = $2 AND steps = 20`,
        [job.rows[0].id, mbert],
      );
      await c.query("COMMIT");
      before = await snapshotV1(c);
    }, db.url);
    expect(before.runs).toHaveLength(3 * 2 * FACTS - FACTS);
    expect(before.degenerateSets.length).toBeGreaterThan(0);
  }, 600_000);

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
    if (v1Dir) rmSync(v1Dir, { recursive: true, force: true });
  });

  it("refuses, changing nothing, when a run cannot be carried over", async () => {
    // the previous schema had no foreign key from a run to its fact: a run of a vanished fact
    const orphan = await pool.query<{ id: string }>(
      `INSERT INTO attribution_run (checkpoint_id, fact_id, language_code, relation_id, method, steps, target_mode, prompt, gold_token_ids,
         gold_probs, gold_prob, predicted_ids, predicted_text, predicted_prob, tau, max_score, top_k, n_knowledge, n_layers, ffn_width, timings)
       SELECT checkpoint_id, 'no-such-fact', language_code, relation_id, method, steps, target_mode, prompt, gold_token_ids, gold_probs,
         gold_prob, predicted_ids, predicted_text, predicted_prob, tau, max_score, top_k, n_knowledge, n_layers, ffn_width, timings
       FROM attribution_run ORDER BY id LIMIT 1 RETURNING id`,
    );
    await expect(applyMigrations(db.url)).rejects.toThrow(/attribution_run.*could not be carried over/);
    expect((await migrationStatus(db.url)).failed).toEqual([MIGRATION.name]);
    // nothing moved: the old tables and every row are where they were
    await pool.query(`DELETE FROM attribution_run WHERE id = $1`, [orphan.rows[0].id]);
    expect(await withClient(snapshotV1, db.url)).toEqual(before);
    // a failed migration must be marked rolled back before it is retried (prisma migrate resolve)
    await pool.query(`UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = $1 AND finished_at IS NULL`, [MIGRATION.name]);
  });

  it("keeps every run, score, knowledge neuron, degenerate set and job item, ids included", async () => {
    expect(await applyMigrations(db.url)).toEqual(migrationsFrom(MIGRATION.name));
    const after = await withClient(snapshotV2, db.url);
    expect(after).toEqual(before);
    // the partitions of both checkpoints hold the rows
    const { rows } = await pool.query<{ relname: string }>(
      `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = 'attribution_run'::regclass ORDER BY c.relname`,
    );
    expect(rows.map((r) => r.relname)).toEqual(["attribution_run_c1", "attribution_run_c2"]);
  });

  it("answers the same through the store's queries and the GraphQL API", async () => {
    const prisma = createPrisma(db.url);
    let server: RunningServer | undefined;
    try {
      server = await startApiServer(
        { prisma, pool, version: "test", apiKeys: parseApiKeys(""), queue: () => startQueue(db.url), modelHost: new InlineModelHost(pool) },
        { port: 0, host: "127.0.0.1" },
      );
      const ids = new Map((await pool.query<{ id: number; name: string }>(`SELECT id, name FROM checkpoint`)).rows.map((r) => [r.name, r.id]));
      for (const run of before.runs) {
        const setting = { method: run.method, steps: run.steps, targetMode: run.target_mode } as RunSetting;
        const stored = await findRun(pool, { checkpointId: ids.get(run.model as string)!, setting, factId: run.fact_id as string, language: run.language_code as string });
        expect(stored?.id.toString()).toBe(run.id);
        const kns = before.knowledgeNeurons.filter((k) => k.run_id === run.id).map((k) => ({ layer: k.layer, unit: k.unit, score: k.score, rank: k.rank }));
        const scores = before.scores.filter((s) => s.run_id === run.id).map((s) => ({ layer: s.layer, unit: s.unit, score: s.score, rank: s.rank }));
        expect((await knowledgeNeuronsOfRuns(pool, [stored!])).get(stored!.id) ?? []).toEqual(kns);
        expect((await topScoresOfRuns(pool, [stored!])).get(stored!.id)).toEqual(scores);

        const r = await gql<{
          knowledgeNeurons: { steps: number; tau: number; prompt: string; goldProbability: number; neurons: { layer: number; unit: number; score: number }[] };
          attribution: { topNeurons: { layer: number; unit: number; score: number }[]; maxScore: number };
          degenerateSets: { baseProbability: number; jointProbability: number; neurons: { layer: number; unit: number; aloneProbability: number }[] }[];
        }>(
          server.url,
          `query($m: String!, $f: ID!, $l: String!, $s: Int!, $method: Method!) {
             knowledgeNeurons(model: $m, fact: $f, language: $l, method: $method, steps: $s) { steps tau prompt goldProbability neurons { layer unit score } }
             attribution(model: $m, fact: $f, language: $l, method: $method, steps: $s) { maxScore topNeurons { layer unit score } }
             degenerateSets(model: $m, fact: $f, language: $l, method: $method, steps: $s) { baseProbability jointProbability neurons { layer unit aloneProbability } }
           }`,
          { m: run.model, f: run.fact_id, l: run.language_code, s: run.steps, method: String(run.method).toUpperCase().replace("-", "_") },
        );
        expect(r.errors).toBeUndefined();
        expect(r.data!.knowledgeNeurons).toEqual({
          steps: run.steps,
          tau: run.tau,
          prompt: run.prompt,
          goldProbability: run.gold_prob,
          neurons: kns.map((k) => ({ layer: k.layer, unit: k.unit, score: k.score })),
        });
        expect(r.data!.attribution).toEqual({ maxScore: run.max_score, topNeurons: scores.map((s) => ({ layer: s.layer, unit: s.unit, score: s.score })) });
        const sets = before.degenerateSets.filter((s) => s.run_id === run.id);
        expect(r.data!.degenerateSets).toEqual(
          sets.map((s) => ({
            baseProbability: s.base_prob,
            jointProbability: s.joint_prob,
            neurons: before.degenerateMembers.filter((m) => m.set_id === s.id).map((m) => ({ layer: m.layer, unit: m.unit, aloneProbability: m.alone_prob })),
          })),
        );
      }

      // relation-level language-independent neurons: the en∩zh intersection per fact, counted, from
      // the old rows of 20-step runs only (the old query mixed in the 7-step runs: their rows carried no steps)
      for (const model of ["demo-mbert", "demo-mgpt"]) {
        const runs20 = new Set(before.runs.filter((r) => r.model === model && r.steps === 20).map((r) => r.id));
        const kn = (lang: string, fact: string) =>
          before.knowledgeNeurons.filter((k) => runs20.has(k.run_id) && k.fact_id === fact && k.language_code === lang).map((k) => `${k.layer}:${k.unit}`);
        const expected = new Map<string, number>();
        for (const fact of new Set(before.runs.map((r) => r.fact_id as string))) {
          const zh = new Set(kn("zh", fact));
          for (const n of kn("en", fact).filter((x) => zh.has(x))) expected.set(n, (expected.get(n) ?? 0) + 1);
        }
        const rows = await relationLanguageIndependentNeurons(pool, { checkpointId: ids.get(model)!, setting: DEFAULT_RUN_SETTING, relationId: "P17", languages: ["en", "zh"], minFacts: 1 });
        expect(new Map(rows.map((x) => [`${x.layer}:${x.unit}`, x.facts]))).toEqual(expected);
      }
    } finally {
      await server?.stop();
      await prisma.$disconnect();
    }
  });
});
