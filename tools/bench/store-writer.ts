// One writing process of `npm run bench:store` (like one indexer worker): stores its share of the
// benchmark's runs, batch by batch, each batch in one transaction through saveRuns. Batches are dealt
// round-robin over the writers, so N processes together store every run once.
//   node --import tsx tools/bench/store-writer.ts <database url> <runs per checkpoint> <batch> <writer> <writers>
// Prints one JSON line per stored batch ({runs, scoreEntries, knowledgeRows, degenerateSets}: top-K
// score entries, knowledge-neuron rows, degenerate sets) and a last
// line {cpu, generateCpu}: this process's CPU seconds in all and in generating the runs.
import { DEFAULT_RUN_SETTING } from "../../src/attribution/run-setting.ts";
import { createPool, withTransaction } from "../../src/store/client.ts";
import { saveRuns } from "../../src/store/runs.ts";
import { BENCH_CHECKPOINTS, benchRun, plan } from "./store-data.ts";

const [url, runsPerCheckpoint, batchSize, writer, writers] = [process.argv[2], ...process.argv.slice(3, 7).map(Number)];
const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

const pool = createPool(url, { max: 1, applicationName: "kn-bench-store-writer" });
const checkpointIds = (await pool.query<{ id: number }>(`SELECT id FROM checkpoint ORDER BY id`)).rows.map((r) => r.id);
if (checkpointIds.length !== BENCH_CHECKPOINTS.length) throw new Error(`expected ${BENCH_CHECKPOINTS.length} checkpoints, found ${checkpointIds.length}`);
const { pairs } = plan(runsPerCheckpoint);
const batchesPerCheckpoint = Math.ceil(pairs.length / batchSize);
let generateCpu = 0;
for (let b = writer; b < batchesPerCheckpoint * checkpointIds.length; b += writers) {
  const ci = Math.floor(b / batchesPerCheckpoint);
  const from = (b % batchesPerCheckpoint) * batchSize;
  const t = process.cpuUsage();
  const batch = pairs.slice(from, from + batchSize).map(([f, l]) => benchRun(checkpointIds[ci], ci, f, l, DEFAULT_RUN_SETTING));
  generateCpu += cpuSeconds(process.cpuUsage(t));
  await withTransaction(pool, (db) => saveRuns(db, batch));
  const count = (pick: (r: (typeof batch)[number]) => unknown[]) => batch.reduce((n, r) => n + pick(r).length, 0);
  process.stdout.write(
    `${JSON.stringify({ runs: batch.length, scoreEntries: count((r) => r.topNeurons), knowledgeRows: count((r) => r.knowledgeNeurons), degenerateSets: count((r) => r.degenerateSets) })}\n`,
  );
}
await pool.end();
process.stdout.write(`${JSON.stringify({ cpu: cpuSeconds(process.cpuUsage()), generateCpu })}\n`);
