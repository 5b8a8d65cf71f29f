// npm run bench:index — `kn index` throughput with one worker process and with two, on the demo
// models, each in a fresh database (same facts, same settings), run as a user runs it: the real CLI
// against a PostgreSQL server. Prints wall time of the whole command, the job's own rate (runs per
// second between its first claim and its last stored run, from index_job_item) and the speed-up,
// and checks that both runs stored exactly the same rows.
//
//   npm run bench:index -- [--models demo-mgpt,demo-mbert] [--relations P17,P36 | all] [--languages ...]
//                          [--workers 1,2] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
import { spawnSync } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { benchDatabase } from "./database.ts";
import { PROJECT_ROOT } from "../../src/config.ts";
import { markdownTable } from "./table.ts";

const { values: args } = parseArgs({
  options: {
    models: { type: "string", default: "demo-mgpt,demo-mbert" },
    relations: { type: "string", default: "P17,P36" },
    languages: { type: "string" },
    workers: { type: "string", default: "1,2" },
    "database-url": { type: "string", default: process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres" },
  },
});
const db = benchDatabase(args["database-url"]!, "kn_bench_index");
const benchUrl = db.url;

function kn(argv: string[]): { stdout: string; seconds: number } {
  const started = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ["--import", "tsx", path.join(PROJECT_ROOT, "src/cli/main.ts"), ...argv], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, DATABASE_URL: benchUrl },
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (r.status !== 0) throw new Error(`kn ${argv.join(" ")} failed (${r.status}): ${r.stderr}`);
  return { stdout: r.stdout, seconds };
}

async function freshDatabase(): Promise<void> {
  await db.recreate();
  kn(["db:migrate"]);
  kn(["import", "mlama", path.join(PROJECT_ROOT, "seeds", "mlama")]);
}

/** What a run stored, to check that one worker and two store the same thing. */
async function storedCounts(): Promise<string> {
  return db.admin(async (c) => {
    const { rows } = await c.query(`SELECT
      (SELECT count(*) FROM attribution_run) AS runs,
      (SELECT count(*) FROM knowledge_neuron) AS kns,
      (SELECT COALESCE(sum(cardinality(scores)), 0) FROM neuron_score) AS scores,
      (SELECT count(*) FROM degenerate_set) AS dkn,
      (SELECT count(*) FROM (SELECT 1 FROM attribution_run GROUP BY checkpoint_id, setting_id, fact_key, language_key HAVING count(*) > 1) d) AS dup`);
    const r = rows[0];
    if (Number(r.dup) > 0) throw new Error(`${r.dup} runs stored twice`);
    return `${r.runs} runs, ${r.kns} KNs, ${r.scores} scores, ${r.dkn} DKN sets`;
  }, benchUrl);
}

interface Row {
  model: string;
  workers: number;
  runs: number;
  wall: number;
  rate: number;
  stored: string;
}

const workerCounts = args.workers!.split(",").map(Number);
const rows: Row[] = [];
console.log(`${os.cpus().length} cores, load average ${os.loadavg()[0].toFixed(1)} at start; relations ${args.relations}, languages ${args.languages ?? "all"}.`);
for (const model of args.models!.split(",")) {
  for (const workers of workerCounts) {
    await freshDatabase();
    const selection = [...(args.relations === "all" ? [] : ["--relations", args.relations!]), ...(args.languages ? ["--languages", args.languages] : [])];
    const { stdout, seconds } = kn(["index", "--model", model, ...selection, "--workers", String(workers), "--quiet"]);
    const m = /: (\d+) done, (\d+) failed, ([\d.]+) runs\/s/.exec(stdout);
    if (!m || Number(m[2]) > 0) throw new Error(`unexpected kn index output: ${stdout}`);
    rows.push({ model, workers, runs: Number(m[1]), wall: seconds, rate: Number(m[3]), stored: await storedCounts() });
    process.stderr.write(`  ${model}, ${workers} worker(s): ${seconds.toFixed(1)} s\n`);
  }
}
await db.drop();

const cells = rows.map((r) => {
  const one = rows.find((o) => o.model === r.model && o.workers === 1);
  return [r.model, String(r.workers), String(r.runs), r.wall.toFixed(1), r.rate.toFixed(2), one ? `${(r.rate / one.rate).toFixed(2)}×` : "", r.stored];
});
console.log(markdownTable(["model", "workers", "runs", "wall s (whole command)", "runs/s (job)", "speed-up", "stored"], cells, 1));
for (const model of new Set(rows.map((r) => r.model))) {
  const stored = new Set(rows.filter((r) => r.model === model).map((r) => r.stored));
  if (stored.size > 1) throw new Error(`${model}: the worker counts stored different rows: ${[...stored].join(" / ")}`);
}
