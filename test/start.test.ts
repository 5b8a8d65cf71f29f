// `npm start` end to end: no DATABASE_URL, so an embedded PostgreSQL is started under
// KN_DATA_DIR, migrated, seeded and served; Ctrl-C stops everything cleanly.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { gql } from "./helpers/graphql.ts";

const ROOT = join(import.meta.dirname, "..");

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

function startApp(env: NodeJS.ProcessEnv): { child: ChildProcess; ready: Promise<string>; output: () => string } {
  const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "start"], { cwd: ROOT, env });
  let out = "";
  const ready = new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = out.match(/GraphQL ready at (\S+)/);
      if (m) resolve(m[1]);
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    child.on("exit", (code) => reject(new Error(`start exited with ${code}:\n${out}`)));
  });
  return { child, ready, output: () => out };
}

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));

describe("npm start with the embedded database", () => {
  const dataDir = mkdtempSync(join(tmpdir(), "kn-start-"));
  chmodSync(dataDir, 0o755); // the embedded server runs as user postgres when we are root
  const children: ChildProcess[] = [];
  afterAll(() => children.forEach((c) => c.exitCode === null && c.kill("SIGKILL")));

  it("serves the seeds on an embedded PostgreSQL, indexes a default selection of both demo models in the background (first neurons within 3 minutes), restarts idempotently, and stops cleanly on SIGINT", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, KN_DATA_DIR: dataDir, PORT: String(await freePort()) };
    delete env.DATABASE_URL;
    const counts: number[] = [];
    const jobIds: string[][] = [];
    for (let run = 0; run < 2; run++) {
      const spawned = Date.now();
      const app = startApp(env);
      children.push(app.child);
      const url = await app.ready;
      expect(app.output()).toMatch(/embedded PostgreSQL running/);
      expect(app.output()).toMatch(/open http:\/\/localhost:\d+\/ in a browser/);
      const r = await gql<{ relations: { id: string }[]; languages: { code: string }[]; facts: { totalCount: number } }>(
        url,
        "{ relations { id } languages { code } facts(first: 1) { totalCount } }",
      );
      expect(r.data!.relations.length).toBeGreaterThanOrEqual(12);
      expect(r.data!.languages.length).toBeGreaterThanOrEqual(6);
      counts.push(r.data!.facts.totalCount);
      if (run === 0) {
        const times = await firstResults(url, spawned);
        process.stderr.write(`first start (load average ${loadavg()[0].toFixed(1)}): ${JSON.stringify(times)}\n`);
        for (const model of ["demo-mbert", "demo-mgpt"]) {
          expect(times[model].neurons, `${model}: knowledge neurons`).toBeLessThanOrEqual(180);
          expect(times[model].overlap, `${model}: a fact indexed in two languages`).toBeLessThanOrEqual(180);
        }
        expect(Math.min(times["demo-mbert"].degenerate, times["demo-mgpt"].degenerate), "degenerate sets").toBeLessThanOrEqual(180);
      }
      // one default job per demo model, visible with its progress; a restart queues none anew
      const jobs = await gql<{ indexJobs: { id: string; model: string; relations: string[]; languages: string[]; status: string; total: number }[] }>(
        url,
        "{ indexJobs { id model relations languages status total } }",
      );
      expect(jobs.data!.indexJobs.map((j) => [j.model, j.relations, j.languages]).sort()).toEqual([
        ["demo-mbert", ["P17", "P36", "P19"], []],
        ["demo-mgpt", ["P17", "P36", "P19"], []],
      ]);
      jobIds.push(jobs.data!.indexJobs.map((j) => j.id).sort());
      const exit = exited(app.child);
      app.child.kill("SIGINT");
      expect(await exit).toBe(0);
      // the embedded server went down with the app: the port is free again
      await expect(fetch(url)).rejects.toThrow();
    }
    expect(counts[0]).toBeGreaterThan(500);
    expect(counts[1]).toBe(counts[0]);
    expect(jobIds[1]).toEqual(jobIds[0]);
  }, 900_000);
});

type Coverage = { model: string; relation: string; language: string; indexed: number; knowledgeNeurons: number; degenerateSets: number };

/**
 * Seconds from the start until each demo model has knowledge neurons, a fact indexed in two
 * languages (an overlap cell with facts), and degenerate sets; polls the API for at most 5 minutes.
 */
async function firstResults(url: string, spawned: number): Promise<Record<string, { neurons: number; overlap: number; degenerate: number }>> {
  const seen: Record<string, { neurons: number; overlap: number; degenerate: number }> = {};
  const elapsed = () => Math.round((Date.now() - spawned) / 1000);
  const done = () => ["demo-mbert", "demo-mgpt"].every((m) => seen[m] && Object.values(seen[m]).every((t) => t < Infinity));
  for (let i = 0; i < 150 && !done(); i++) {
    const r = await gql<{ indexingCoverage: Coverage[]; mbert: { cells: { row: string; column: string; facts: number }[] } | null; mgpt: { cells: { row: string; column: string; facts: number }[] } | null }>(
      url,
      `{ indexingCoverage { model relation language indexed knowledgeNeurons degenerateSets }
         mbert: languageOverlap(model: "demo-mbert", relation: "P17") { cells { row column facts } }
         mgpt: languageOverlap(model: "demo-mgpt", relation: "P17") { cells { row column facts } } }`,
    );
    for (const model of ["demo-mbert", "demo-mgpt"]) {
      const t = (seen[model] ??= { neurons: Infinity, overlap: Infinity, degenerate: Infinity });
      const mine = r.data!.indexingCoverage.filter((c) => c.model === model);
      if (t.neurons === Infinity && mine.some((c) => c.knowledgeNeurons > 0)) t.neurons = elapsed();
      if (t.degenerate === Infinity && mine.some((c) => c.degenerateSets > 0)) t.degenerate = elapsed();
      const cells = (model === "demo-mbert" ? r.data!.mbert : r.data!.mgpt)?.cells ?? [];
      if (t.overlap === Infinity && cells.some((c) => c.row !== c.column && c.facts > 0)) t.overlap = elapsed();
    }
    await new Promise((res) => setTimeout(res, 2000));
  }
  return seen;
}
