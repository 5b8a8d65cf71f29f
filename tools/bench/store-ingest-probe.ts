// Where a saveRuns batch's time goes, statement by statement: stores `rounds` batches of the bench's
// synthetic runs (with replace, so it works on a filled bench database; the DELETE is listed on its
// own) in transactions that are rolled back, and prints the mean milliseconds per batch of each
// statement. Wall time on one connection: on a shared machine, compare rows of the same run only.
//   npx tsx tools/bench/store-ingest-probe.ts <database url> [batch 250] [rounds 6]
import type { PoolClient } from "pg";
import { DEFAULT_RUN_SETTING } from "../../src/attribution/run-setting.ts";
import { createPool } from "../../src/store/client.ts";
import { saveRuns } from "../../src/store/runs.ts";
import { LANGUAGES, benchRun, fact } from "./store-data.ts";

const [url, batchSize, rounds] = [process.argv[2], Number(process.argv[3] ?? 250), Number(process.argv[4] ?? 6)];
const pool = createPool(url, { max: 1 });
const checkpointId = (await pool.query<{ id: number }>(`SELECT id FROM checkpoint ORDER BY id LIMIT 1`)).rows[0].id;
// (fact, language) pairs of the first checkpoint that are stored already (their facts exist)
const pairs = (await pool.query<{ subject_uri: string; language: string }>(
  `SELECT f.subject_uri, l.code AS language FROM attribution_run r JOIN fact f ON f.key = r.fact_key JOIN language l ON l.key = r.language_key
   WHERE r.checkpoint_id = $1 ORDER BY r.id LIMIT $2`,
  [checkpointId, batchSize * rounds],
)).rows;
const client = await pool.connect();
const send = client.query.bind(client) as (...args: unknown[]) => unknown;
const times = new Map<string, number>();
const note = (key: string, ms: number) => times.set(key, (times.get(key) ?? 0) + ms);
// every statement saveRuns sends, timed until its answer (COPY: until the stream finishes)
const timed = new Proxy(client, {
  get(target, key) {
    if (key !== "query") return Reflect.get(target, key, target);
    return (...args: unknown[]) => {
      const first = args[0] as string | { text?: string } | undefined;
      const text = (typeof first === "string" ? first : (first?.text ?? "COPY")).replace(/\s+/g, " ").slice(0, 70);
      const t = performance.now();
      const result = send(...args) as { then?: unknown; on?: (event: string, f: () => void) => void };
      if (typeof result.then === "function") return (result as Promise<unknown>).then((x) => (note(text, performance.now() - t), x));
      result.on?.("finish", () => note(`${text} (COPY)`, performance.now() - t));
      return result;
    };
  },
}) as PoolClient;
// benchRun needs the fact's index: the bench stores it as the subject "Q<index>"
for (let round = 0; round < rounds; round++) {
  const batch = pairs.slice(round * batchSize, (round + 1) * batchSize).map((p) => {
    const f = fact(Number(p.subject_uri.slice(1)));
    return benchRun(checkpointId, 0, f, LANGUAGES.indexOf(p.language), DEFAULT_RUN_SETTING);
  });
  await send("BEGIN");
  const t = performance.now();
  await saveRuns(timed, batch, { replace: true });
  note("saveRuns in all", performance.now() - t);
  await send("ROLLBACK");
}
for (const [k, v] of [...times].sort((a, b) => b[1] - a[1])) console.log(`${(v / rounds).toFixed(1).padStart(8)} ms/batch  ${k}`);
client.release();
await pool.end();
