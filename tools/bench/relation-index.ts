// npm run bench:relation-index — on a database bench:store filled (--keep): for every (checkpoint,
// relation) of the default setting, the time to load the relation's packed index
// (src/store/relation-answers.ts: the version read, two index-only scans packed into bytea, the
// unpacking), its size, and the time to answer LIKN over a language set and the overlap matrix from
// it (after a warm-up; each the median of 3 loads, 21 answers). Prints a markdown table.
//   npm run bench:relation-index -- [--database kn_bench_store] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
import os from "node:os";
import { parseArgs } from "node:util";
import { DEFAULT_RUN_SETTING } from "../../src/attribution/run-setting.ts";
import { createPool } from "../../src/store/client.ts";
import { languageIndependentNeuronsOf, languageOverlapOf } from "../../src/store/likn.ts";
import { RelationIndexCache } from "../../src/store/relation-answers.ts";
import { benchDatabase } from "./database.ts";
import { LANGUAGES } from "./store-data.ts";
import { markdownTable } from "./table.ts";

const { values: args } = parseArgs({
  options: {
    database: { type: "string", default: "kn_bench_store" },
    "database-url": { type: "string", default: process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres" },
  },
});
const pool = createPool(benchDatabase(args["database-url"]!, args.database!).url, { max: 2, applicationName: "kn-bench-relation-index" });
const checkpoints = (await pool.query<{ id: number; name: string }>(`SELECT id, name FROM checkpoint ORDER BY id`)).rows;
const relations = (await pool.query<{ id: string }>(`SELECT id FROM relation ORDER BY id`)).rows.map((r) => r.id);
const load: number[] = [];
const bytes: number[] = [];
const likn: number[] = [];
const overlap: number[] = [];
const neurons: number[] = [];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** The median of `times` runs (this machine is shared: one run may wait for a core). */
const timed = async (times: number, fn: () => unknown) => {
  const ms: number[] = [];
  for (let i = 0; i < times; i++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return median(ms);
};
// warm-up (connections, prepared statements, the JIT), not counted
const warm = await new RelationIndexCache(pool).get({ checkpointId: checkpoints[0].id, setting: DEFAULT_RUN_SETTING, relationId: relations[0] });
for (let i = 0; i < 20; i++) languageIndependentNeuronsOf(warm, ["en", "de", "fr"], 1), languageOverlapOf(warm, LANGUAGES.slice(0, 8));
for (const c of checkpoints) {
  for (const relationId of relations) {
    const scope = { checkpointId: c.id, setting: DEFAULT_RUN_SETTING, relationId };
    // a cold process each time: nothing kept
    load.push(await timed(3, () => new RelationIndexCache(pool).get(scope)));
    const index = await new RelationIndexCache(pool).get(scope);
    bytes.push(index.bytes);
    neurons.push(index.neurons.length);
    likn.push(await timed(21, () => languageIndependentNeuronsOf(index, ["en", "de", "fr"], 1)));
    overlap.push(await timed(21, () => languageOverlapOf(index, LANGUAGES.slice(0, 8))));
  }
}
const stats = (xs: number[], digits = 2) => {
  const s = [...xs].sort((a, b) => a - b);
  const at = (p: number) => s[Math.min(s.length - 1, Math.floor(p * s.length))];
  return [at(0.5), at(0.99), s[s.length - 1]].map((x) => x.toFixed(digits));
};
console.log(
  markdownTable(
    ["per (checkpoint, relation)", "p50", "p99", "max"],
    [
      ["load of the index (ms)", ...stats(load)],
      ["its knowledge neurons", ...stats(neurons, 0)],
      ["its size (KiB)", ...stats(bytes.map((b) => b / 1024), 0)],
      ["LIKN over en, de, fr from it (ms)", ...stats(likn, 3)],
      ["overlap matrix of 8 languages from it (ms)", ...stats(overlap, 3)],
    ],
    1,
  ),
);
console.log(`\n${load.length} indexes, ${(bytes.reduce((a, b) => a + b, 0) / 2 ** 20).toFixed(1)} MiB in all; ${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(1)).join(" / ")}.`);
await pool.end();
