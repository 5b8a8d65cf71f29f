// npm run bench:store — the store at the real workload's scale. Fills a separate database
// (kn_bench_store on the server of --database-url) with synthetic but realistically shaped runs
// (tools/bench/store-data.ts: a BERT-base-sized and an mGPT-sized checkpoint, 53 languages, by
// default 100 million top-K score entries (1 million runs of K = 100) with their runs, knowledge
// neurons and degenerate sets) THROUGH saveRuns, the indexer's own bulk writer, and reports the
// ingest rates (runs, score entries, knowledge-neuron rows, neuron rows = score entries +
// knowledge-neuron rows, and the table rows PostgreSQL wrote, per second; CPU seconds per million
// neuron rows) and the disk used;
// saves EXPLAIN (ANALYZE, BUFFERS) of the store's SQL for each key query; then load-tests the
// GraphQL API over real HTTP with autocannon, 1 and 2 API processes, at several concurrency levels,
// and prints p50/p95/p99 latency and throughput per key query, with two controls measured in the same
// run (HTTP alone, a bare Node server; the empty operation through the API): what any request costs
// on this machine before a key query's own work. Not part of CI.
//
//   npm run bench:store -- [--score-rows 100000000] [--writers 4] [--batch 250]
//                          [--concurrency 1,4,16,32] [--replicas 1,2] [--plans generic,custom] [--duration 10] [--queries LIKN,overlap] [--port 4100]
//                          [--resume] [--skip-fill] [--skip-load] [--keep] [--explain docs/bench-store-explain.md] [--profile 300]
//                          [--database kn_bench_store] [--database-url postgresql://postgres@127.0.0.1:5432/postgres]
// --resume stores what an interrupted fill left out (same rows: the data are a function of their
// indices); --skip-fill load-tests the database as it is; --skip-load stops after the fill and the
// sizes (no EXPLAIN, no load test); --keep leaves the database in place;
// --queries keeps the key queries whose name contains one of these (comma-separated, any case; the
// controls are always measured);
// --port is the first port the API replicas listen on (one more per --replicas and --plans entry);
// --plans runs the load test once per entry, in order, with the API's named statements planned once
// per connection ("generic", as the API runs) or by PostgreSQL's default plan cache ("custom"):
// "generic,custom,generic,custom" measures the two alternately in one run;
// --profile N sends each key query N times to an API in this process under the CPU profiler and
// prints where its time goes (tools/bench/store-profile.ts) instead of the load test.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import { DEFAULT_RUN_SETTING } from "../../src/attribution/run-setting.ts";
import { PROJECT_ROOT } from "../../src/config.ts";
import { createPool } from "../../src/store/client.ts";
import { degenerateSetsOfRun } from "../../src/store/degenerate.ts";
import { factLanguageIndependentNeurons, relationLanguageIndependentNeurons, relationLanguageOverlap } from "../../src/store/likn.ts";
import { applyMigrations } from "../../src/store/migrate.ts";
import { factsOfNeuron, findRun, findRunsWithKnowledgeNeurons, topScoresOfRuns } from "../../src/store/neurons.ts";
import { seededRandom } from "../../src/analysis/random.ts";
import { BENCH_CHECKPOINTS, type BenchFact, LANGUAGES, MEAN_LANGUAGES, RELATIONS, TOP_K, plan } from "./store-data.ts";
import { benchDatabase } from "./database.ts";
import { backendPids, cpuMeter, loadAverage } from "./cpu.ts";
import { explainStatement, profileKeyQueries } from "./store-profile.ts";
import { markdownTable } from "./table.ts";

const { values: args } = parseArgs({
  options: {
    "score-rows": { type: "string", default: "100000000" },
    writers: { type: "string", default: "4" },
    batch: { type: "string", default: "250" },
    concurrency: { type: "string", default: "1,4,16,32" },
    replicas: { type: "string", default: "1,2" },
    plans: { type: "string", default: "generic" },
    duration: { type: "string", default: "10" },
    queries: { type: "string" },
    port: { type: "string", default: "4100" },
    resume: { type: "boolean", default: false },
    "skip-fill": { type: "boolean", default: false },
    "skip-load": { type: "boolean", default: false },
    profile: { type: "string" },
    keep: { type: "boolean", default: false },
    explain: { type: "string", default: path.join(PROJECT_ROOT, "docs", "bench-store-explain.md") },
    database: { type: "string", default: "kn_bench_store" },
    "database-url": { type: "string", default: process.env.BENCH_DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres" },
  },
});
const db = benchDatabase(args["database-url"]!, args.database!);
const benchUrl = db.url;
const scoreEntries = Number(args["score-rows"]); // top-K score entries (K = TOP_K per run)
const runsPerCheckpoint = Math.ceil(scoreEntries / TOP_K / BENCH_CHECKPOINTS.length);
const log = (line: string) => process.stderr.write(`bench:store: ${line}\n`);

// ---------------------------------------------------------------------------------------------
// Fill

async function copyRows(pool: pg.Pool, table: string, columns: string[], rows: Iterable<string[]>): Promise<void> {
  const client = await pool.connect();
  try {
    const stream = client.query(copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN`));
    const lines = (function* () {
      for (const r of rows) yield `${r.map((v) => v.replace(/[\\\t\n]/g, " ")).join("\t")}\n`;
    })();
    await pipeline(Readable.from(lines), stream);
  } finally {
    client.release();
  }
}

/** Languages, relations, templates, facts and labels (what `kn import mlama` would have stored). */
async function fillCatalog(pool: pg.Pool, facts: BenchFact[]): Promise<void> {
  await copyRows(pool, "language", ["code", "name"], LANGUAGES.map((l) => [l, `language ${l}`]));
  await copyRows(pool, "relation", ["id", "label"], RELATIONS.map((r) => [r, `relation ${r}`]));
  await copyRows(pool, "template", ["relation_id", "language_code", "text"], (function* () {
    for (const r of RELATIONS) for (const l of LANGUAGES) yield [r, l, `[X] ${r} [Y] .`];
  })());
  await copyRows(pool, "fact", ["id", "relation_id", "subject_uri", "object_uri"], facts.map((f) => [f.uuid, f.relation, `Q${f.index}`, `Q${f.index + 1_000_000}`]));
  await copyRows(pool, "fact_label", ["fact_id", "language_code", "subject", "object"], (function* () {
    for (const f of facts) for (const l of f.languages) yield [f.uuid, LANGUAGES[l], `subject ${f.index}`, `object ${f.index}`];
  })());
}

interface FillResult {
  runs: number;
  /** Top-K scores stored (K per run), whatever the rows that hold them. */
  scoreEntries: number;
  knowledgeRows: number;
  degenerateSets: number;
  /** Table rows PostgreSQL inserted or updated meanwhile (pg_stat_user_tables), every table. */
  tuples: number;
  /** Bytes of write-ahead log written meanwhile (the whole server's: other databases' writes count too). */
  walBytes: number;
  seconds: number;
  /** CPU seconds of the writing processes (generateCpu of it in generating the runs) and of their PostgreSQL backends. */
  clientCpu: number;
  generateCpu: number;
  serverCpu: number;
}

/** Every run, batch by batch, through saveRuns, by `writers` processes at once (as indexer workers would). */
async function fillRuns(pool: pg.Pool, checkpoints: number): Promise<FillResult> {
  const total = runsPerCheckpoint * checkpoints;
  const done = { runs: 0, scoreEntries: 0, knowledgeRows: 0, degenerateSets: 0 };
  const tuplesBefore = await tuplesWritten(pool);
  const walBefore = await walPosition(pool);
  const started = performance.now();
  const serverCpu = cpuMeter(() => backendPids(pool));
  await serverCpu.start();
  let lastLog = started;
  let clientCpu = 0;
  let generateCpu = 0;
  const writers = Number(args.writers);
  const writer = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", path.join(PROJECT_ROOT, "tools/bench/store-writer.ts"), benchUrl, String(runsPerCheckpoint), args.batch!, String(i), String(writers)],
        { cwd: PROJECT_ROOT, stdio: ["ignore", "pipe", "inherit"] },
      );
      createInterface({ input: child.stdout! }).on("line", (line) => {
        const m = JSON.parse(line) as Partial<typeof done> & { cpu?: number; generateCpu?: number };
        if (m.cpu !== undefined) {
          clientCpu += m.cpu;
          generateCpu += m.generateCpu ?? 0;
          return;
        }
        done.runs += m.runs!;
        done.scoreEntries += m.scoreEntries!;
        done.knowledgeRows += m.knowledgeRows!;
        done.degenerateSets += m.degenerateSets!;
        const now = performance.now();
        if (now - lastLog > 10_000) {
          lastLog = now;
          const rate = (done.scoreEntries + done.knowledgeRows) / ((now - started) / 1000);
          const eta = ((total - done.runs) / done.runs) * ((now - started) / 1000);
          log(`${done.runs} / ${total} runs, ${(rate / 1000).toFixed(1)} k neuron rows/s, ETA ${Math.round(eta / 60)} min (load ${loadAverage()})`);
        }
      });
      child.once("exit", (code) => (code === 0 ? resolve() : reject(new Error(`writer ${i} exited with ${code}`))));
    });
  const sampling = setInterval(() => void serverCpu.sample().catch(() => undefined), 1000);
  await Promise.all(Array.from({ length: writers }, (_, i) => writer(i))).finally(() => clearInterval(sampling));
  const seconds = (performance.now() - started) / 1000;
  return {
    ...done, seconds, clientCpu, generateCpu, serverCpu: await serverCpu.stop(),
    tuples: (await tuplesWritten(pool)) - tuplesBefore, walBytes: (await walPosition(pool)) - walBefore,
  };
}

async function walPosition(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ n: string }>(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::text AS n`);
  return Number(rows[0].n);
}

/**
 * Rows inserted or updated in every table of the database so far, as PostgreSQL counts them, once
 * the writers' connections are gone (a backend reports its counts when it exits).
 */
async function tuplesWritten(pool: pg.Pool): Promise<number> {
  while (Number((await pool.query<{ n: string }>(`SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'kn-bench-store-writer'`)).rows[0].n)) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const { rows } = await pool.query<{ n: string }>(`SELECT COALESCE(sum(n_tup_ins + n_tup_upd), 0)::text AS n FROM pg_stat_user_tables`);
  return Number(rows[0].n);
}

// ---------------------------------------------------------------------------------------------
// Sizes

interface TableSize {
  table: string;
  rows: number;
  heap: number;
  indexes: number;
}

async function tableSizes(pool: pg.Pool): Promise<TableSize[]> {
  const { rows } = await pool.query<{ table: string; rows: string; heap: string; indexes: string }>(
    `SELECT p.relname AS table,
            sum(GREATEST(c.reltuples, 0))::bigint::text AS rows,
            sum(pg_table_size(c.oid))::bigint::text AS heap,
            sum(pg_indexes_size(c.oid))::bigint::text AS indexes
     FROM pg_class p JOIN pg_inherits i ON i.inhparent = p.oid JOIN pg_class c ON c.oid = i.inhrelid
     WHERE p.relkind = 'p' GROUP BY p.relname ORDER BY p.relname`,
  );
  return rows.map((r) => ({ table: r.table, rows: Number(r.rows), heap: Number(r.heap), indexes: Number(r.indexes) }));
}

// ---------------------------------------------------------------------------------------------
// Samples of arguments for the key queries (drawn from what is stored)

interface Samples {
  checkpoints: { id: number; name: string }[];
  runs: { model: string; checkpointId: number; fact: string; language: string }[];
  relations: string[];
  languageSets: string[][];
  neurons: { model: string; checkpointId: number; layer: number; unit: number; facts: number; deepCursor: string; deepKey: number }[];
}

async function drawSamples(pool: pg.Pool, storedRuns: number): Promise<Samples> {
  // a block sample of ~1 % at scale; all of a small database (a fill for trying the script out)
  const percent = Math.min(100, Math.max(1, 1e6 / Math.max(1, storedRuns)));
  const checkpoints = (await pool.query<{ id: number; name: string }>(`SELECT id, name FROM checkpoint ORDER BY id`)).rows;
  const name = new Map(checkpoints.map((c) => [c.id, c.name]));
  const runs = (
    await pool.query<{ checkpoint_id: number; fact: string; language: string }>(
      `SELECT r.checkpoint_id, f.id AS fact, l.code AS language FROM attribution_run r TABLESAMPLE SYSTEM (${percent}) REPEATABLE (42)
       JOIN fact f ON f.key = r.fact_key JOIN language l ON l.key = r.language_key LIMIT 5000`,
    )
  ).rows.map((r) => ({ model: name.get(r.checkpoint_id)!, checkpointId: r.checkpoint_id, fact: r.fact, language: r.language }));
  // well-covered languages: the sets users compare (en with one to three others)
  const top = LANGUAGES.slice(0, 12);
  const r = seededRandom("language sets");
  const languageSets = Array.from({ length: 200 }, () => ["en", ...top.slice(1).filter(() => r() < 0.2).slice(0, 3)]).map((s) => (s.length > 1 ? s : ["en", "de"]));
  // neurons that many facts use (what the explorer's neuron page shows), with a cursor half-way
  const neurons: Samples["neurons"] = [];
  // the bench stores one setting; naming it lets the counts below use the (setting, layer, unit) index
  const [{ id: settingId }] = (await pool.query<{ id: number }>(`SELECT id FROM run_setting`)).rows;
  for (const c of checkpoints) {
    // candidates: the neurons most frequent in the sample; then their real fact counts
    const { rows } = await pool.query<{ layer: number; unit: number; facts: number; deep_key: number }>(
      `SELECT n.layer, n.unit, c.facts,
              (SELECT DISTINCT fact_key FROM knowledge_neuron k WHERE k.checkpoint_id = $1 AND k.setting_id = $2 AND k.layer = n.layer AND k.unit = n.unit
               ORDER BY fact_key OFFSET c.facts / 2 LIMIT 1) AS deep_key
       FROM (SELECT layer, unit FROM knowledge_neuron TABLESAMPLE SYSTEM (${percent}) REPEATABLE (42)
             WHERE checkpoint_id = $1 GROUP BY layer, unit ORDER BY count(*) DESC, layer, unit LIMIT 100) n,
       LATERAL (SELECT count(DISTINCT fact_key)::int AS facts FROM knowledge_neuron k
                WHERE k.checkpoint_id = $1 AND k.setting_id = $2 AND k.layer = n.layer AND k.unit = n.unit) c`,
      [c.id, settingId],
    );
    for (const n of rows) {
      neurons.push({ model: c.name, checkpointId: c.id, layer: n.layer, unit: n.unit, facts: n.facts, deepKey: n.deep_key, deepCursor: Buffer.from(`neuron-fact:${n.deep_key}`).toString("base64url") });
    }
  }
  return { checkpoints, runs, relations: [...RELATIONS], languageSets, neurons };
}

// ---------------------------------------------------------------------------------------------
// The key queries, as GraphQL requests and as the store's SQL

interface KeyQuery {
  name: string;
  /** A GraphQL request body with arguments drawn from the samples. */
  body(r: () => number): string;
}

const pick = <T>(xs: readonly T[], r: () => number) => xs[Math.floor(r() * xs.length)];
/** The overlap matrix is asked for the 8 best-covered languages. */
const OVERLAP_LANGUAGES = LANGUAGES.slice(0, 8);

/**
 * The controls, measured in the same run as the key queries: what a request costs before any key
 * query's own work. HTTP alone is a bare Node server answering the bytes the API answers to the empty
 * operation (store-api.ts "bare"); the empty operation goes through the whole API (HTTP checks,
 * Apollo's pipeline, the plugins, Server-Timing) without a resolver or a statement.
 */
const EMPTY_OPERATION = JSON.stringify({ query: "{ __typename }" });
const CONTROL_BARE: KeyQuery = { name: "control: HTTP alone (bare Node server)", body: () => EMPTY_OPERATION };
const CONTROL_EMPTY: KeyQuery = { name: "control: empty operation ({ __typename })", body: () => EMPTY_OPERATION };

function keyQueries(s: Samples): KeyQuery[] {
  const body = (query: string, variables: Record<string, unknown>) => JSON.stringify({ query, variables });
  return [
    {
      name: "LIKN of a relation over a language set",
      body: (r) =>
        body(`query($m: String!, $r: ID!, $l: [String!]!) { languageIndependentNeurons(model: $m, relation: $r, languages: $l) { layer unit facts } }`, {
          m: pick(s.checkpoints, r).name,
          r: pick(s.relations, r),
          l: pick(s.languageSets, r),
        }),
    },
    {
      name: "knowledge neurons of a fact",
      body: (r) => {
        const run = pick(s.runs, r);
        return body(`query($m: String!, $f: ID!, $l: String!) { knowledgeNeurons(model: $m, fact: $f, language: $l) { tau goldProbability neurons { layer unit score } } }`, {
          m: run.model,
          f: run.fact,
          l: run.language,
        });
      },
    },
    {
      name: "facts of a neuron, first page",
      body: (r) => {
        const n = pick(s.neurons, r);
        return body(`query($m: String!, $l: Int!, $u: Int!) { neuron(model: $m, layer: $l, unit: $u) { facts(first: 20, orderBy: FACT) { totalCount edges { node { id } languages score } pageInfo { endCursor } } } }`, {
          m: n.model,
          l: n.layer,
          u: n.unit,
        });
      },
    },
    {
      name: "facts of a neuron, deep page",
      body: (r) => {
        const n = pick(s.neurons, r);
        return body(`query($m: String!, $l: Int!, $u: Int!, $a: String) { neuron(model: $m, layer: $l, unit: $u) { facts(first: 20, after: $a, orderBy: FACT) { totalCount edges { node { id } languages score } pageInfo { endCursor } } } }`, {
          m: n.model,
          l: n.layer,
          u: n.unit,
          a: n.deepCursor,
        });
      },
    },
    {
      name: "language-overlap matrix of a relation",
      body: (r) =>
        body(`query($m: String!, $r: ID!, $l: [String!]) { languageOverlap(model: $m, relation: $r, languages: $l) { languages cells { row column facts meanShared meanJaccard } } }`, {
          m: pick(s.checkpoints, r).name,
          r: pick(s.relations, r),
          l: OVERLAP_LANGUAGES,
        }),
    },
    {
      name: "attribution of a fact",
      body: (r) => {
        const run = pick(s.runs, r);
        return body(`query($m: String!, $f: ID!, $l: String!) { attribution(model: $m, fact: $f, language: $l) { maxScore layers width topNeurons { layer unit score } knowledgeNeurons { layer unit score } } }`, {
          m: run.model,
          f: run.fact,
          l: run.language,
        });
      },
    },
  ];
}

/**
 * A pg.Pool stand-in that EXPLAINs (ANALYZE, BUFFERS) each statement instead of returning rows; its
 * connect() gives a client that does the same. The "Planning Time" of a generic plan is its planning
 * on the first execution, which a connection's later executions skip. Writes and transaction
 * control are neither run nor explained: an EXPLAIN ANALYZE would run them.
 */
function explainingPool(pool: pg.Pool, plans: string[]): pg.Pool {
  const explain = (onClient: boolean) => async (statement: string | pg.QueryConfig, values?: unknown[]) => {
    const [sql, params = []] = typeof statement === "string" ? [statement, values] : [statement.text, statement.values];
    if (/^\s*(INSERT|UPDATE|DELETE|BEGIN|COMMIT|ROLLBACK)\b/i.test(sql)) return { rows: [], rowCount: 0 };
    // a named statement sent through the pool runs with its generic plan (createPool's GENERIC_PLANS):
    // that plan, executed with these values (on a checked-out client it is planned as PostgreSQL chooses)
    const generic = !onClient && typeof statement !== "string" && statement.name !== undefined;
    const [rows] = await explainStatement<{ "QUERY PLAN": string }>(pool, { sql, params, generic }, "ANALYZE, BUFFERS");
    plans.push(
      `\`\`\`sql\n${sql.replace(/\n\s+/g, "\n  ").trim()}\n\`\`\`\n\nparameters: \`${JSON.stringify(params)}\`${generic ? " (named statement: its generic plan)" : ""}\n\n\`\`\`\n${rows.map((r) => r["QUERY PLAN"]).join("\n")}\n\`\`\`\n`,
    );
    return { rows: [], rowCount: 0 };
  };
  const client = { query: explain(true), on: () => client, off: () => client, release: () => undefined };
  return { query: explain(false), connect: async () => client } as unknown as pg.Pool;
}

async function explainAll(pool: pg.Pool, s: Samples, fill: string): Promise<void> {
  const setting = DEFAULT_RUN_SETTING;
  const run = s.runs[0];
  const neuron = s.neurons.find((n) => n.checkpointId === s.checkpoints[1].id) ?? s.neurons[0];
  const stored = await findRun(pool, { checkpointId: run.checkpointId, setting, factId: run.fact, language: run.language });
  const sections: [string, (p: pg.Pool) => Promise<unknown>][] = [
    [`LIKN of a relation over a language set (${s.relations[0]}, en+de+fr, ${s.checkpoints[1].name}): the relation's version, then (in a process without the relation's index at that version) the index's load`, (p) => relationLanguageIndependentNeurons(p, { checkpointId: s.checkpoints[1].id, setting, relationId: s.relations[0], languages: ["en", "de", "fr"], minFacts: 1 })],
    [`LIKN of a fact over a language set (the fact of the next queries, en+de)`, (p) => factLanguageIndependentNeurons(p, { checkpointId: run.checkpointId, setting, factId: run.fact, languages: ["en", "de"] })],
    [`knowledge neurons of a fact (and an attribution's run): the run with its knowledge neurons, one statement`, (p) => findRunsWithKnowledgeNeurons(p, { checkpointId: run.checkpointId, setting, factIds: [run.fact], language: run.language })],
    [`attribution of a fact: its top-${TOP_K} scores`, (p) => topScoresOfRuns(p, [stored!])],
    [`degenerate sets of a fact`, (p) => degenerateSetsOfRun(p, stored!)],
    [`facts of a neuron, first page ((${neuron.layer}, ${neuron.unit}) of ${neuron.model}: ${neuron.facts} facts)`, (p) => factsOfNeuron(p, { checkpointId: neuron.checkpointId, setting, layer: neuron.layer, unit: neuron.unit, first: 20 })],
    [`facts of a neuron, deep page (after fact key ${neuron.deepKey}, half-way)`, (p) => factsOfNeuron(p, { checkpointId: neuron.checkpointId, setting, layer: neuron.layer, unit: neuron.unit, afterFactKey: neuron.deepKey, first: 20 })],
    [`language-overlap matrix of a relation (${s.relations[0]}, 8 languages): as LIKN of a relation (the same index)`, (p) => relationLanguageOverlap(p, { checkpointId: s.checkpoints[1].id, setting, relationId: s.relations[0], languages: LANGUAGES.slice(0, 8) })],
  ];
  const out: string[] = [
    `# EXPLAIN (ANALYZE, BUFFERS) of the store's key queries`,
    ``,
    `Written by \`npm run bench:store\` (${new Date().toISOString().slice(0, 10)}) on the filled benchmark database: ${fill}.`,
    `Each block is the SQL a store function sends, with the parameters it sent, and PostgreSQL's plan.`,
    ``,
  ];
  for (const [title, fn] of sections) {
    const plans: string[] = [];
    await fn(explainingPool(pool, plans)).catch((error: Error) => plans.push(`EXPLAIN failed: ${error.message}\n`));
    out.push(`## ${title}`, "", ...plans);
  }
  writeFileSync(args.explain!, `${out.join("\n")}\n`);
  log(`EXPLAIN output written to ${path.relative(PROJECT_ROOT, args.explain!)}`);
}

// ---------------------------------------------------------------------------------------------
// Load test

/** Starts the API processes; resolves with the process ids of the replicas. */
async function startApi(replicas: number, port: number, plans: string): Promise<{ child: ChildProcess; pids: number[] }> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(PROJECT_ROOT, "tools/bench/store-api.ts"), benchUrl, String(port), String(replicas), plans], {
    cwd: PROJECT_ROOT,
    stdio: ["ignore", "pipe", "inherit"],
  });
  const pids = await new Promise<number[]>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => line.startsWith("ready ") && resolve(line.slice(6).split(",").map(Number)));
    child.once("exit", (code) => reject(new Error(`API replicas exited with ${code}`)));
  });
  return { child, pids };
}

interface LoadResult {
  query: string;
  plans: string;
  replicas: number;
  clients: number;
  requests: number;
  rps: number;
  p50: number;
  p95: number;
  p99: number;
  errors: number;
  /** CPU milliseconds per request of the API processes, of PostgreSQL, of the load generator. */
  apiCpu: number;
  dbCpu: number;
  clientCpu: number;
  /** One-minute load average at the end of the run. */
  load: string;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

async function load(url: string, apiPids: number[], q: KeyQuery, clients: number, seconds: number): Promise<Omit<LoadResult, "query" | "plans" | "replicas" | "clients">> {
  const r = seededRandom(`${q.name}|${clients}`);
  const apiCpu = cpuMeter(() => apiPids);
  const dbCpu = cpuMeter(() => backendPids(pool));
  await Promise.all([apiCpu.start(), dbCpu.start()]);
  const clientCpu = process.cpuUsage();
  const latencies: number[] = [];
  let errors = 0;
  let finish!: (r: autocannon.Result) => void;
  let fail!: (e: unknown) => void;
  const done = new Promise<autocannon.Result>((resolve, reject) => ((finish = resolve), (fail = reject)));
  const instance = autocannon({
    url,
    connections: clients,
    duration: seconds,
    headers: { "content-type": "application/json" },
    requests: [
      {
        method: "POST",
        setupRequest: (req) => ({ ...req, body: q.body(r) }),
        onResponse: (status, body) => {
          if (status !== 200 || body.includes('"errors"')) errors++;
        },
      },
    ],
  }, (err, result) => (err ? fail(err) : finish(result)));
  instance.on("response", (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  const result = await done;
  const [api, database] = await Promise.all([apiCpu.stop(), dbCpu.stop()]);
  const client = process.cpuUsage(clientCpu);
  const perRequest = (cpuSeconds: number) => (cpuSeconds * 1000) / Math.max(1, latencies.length);
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    rps: latencies.length / (result.duration || seconds),
    p50: percentile(latencies, 50),
    p95: percentile(latencies, 95),
    p99: percentile(latencies, 99),
    errors: errors + result.non2xx + result.errors,
    apiCpu: perRequest(api),
    dbCpu: perRequest(database),
    clientCpu: perRequest((client.user + client.system) / 1e6),
    load: loadAverage(),
  };
}

// ---------------------------------------------------------------------------------------------

const started = Date.now();
log(`${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, load average ${os.loadavg()[0].toFixed(1)} at start`);
if (!args["skip-fill"] && !args.resume) await db.recreate();
await applyMigrations(benchUrl);
const pool = createPool(benchUrl, { max: 4, applicationName: "kn-bench-store" });
const { facts, pairs } = plan(runsPerCheckpoint);
let fillLine = "";
if (!args["skip-fill"]) {
  if (!args.resume) {
    log(`catalog: ${LANGUAGES.length} languages, ${RELATIONS.length} relations, ${facts.length} facts (${MEAN_LANGUAGES.toFixed(1)} languages per fact on average)`);
    await fillCatalog(pool, facts);
    for (const c of BENCH_CHECKPOINTS) {
      await pool.query(
        `INSERT INTO checkpoint (name, architecture, model_type, n_layers, hidden, ffn_width, vocab_size, path, content_hash)
         VALUES ($1, $2::architecture, $3, $4, $5, $6, 250000, '/bench', 'bench')`,
        [c.name, c.architecture, c.modelType, c.nLayers, c.hidden, c.ffnWidth],
      );
    }
  }
  const checkpointIds = (await pool.query<{ id: number }>(`SELECT id FROM checkpoint ORDER BY id`)).rows.map((r) => r.id);
  log(`filling ${pairs.length * checkpointIds.length} runs (${((pairs.length * checkpointIds.length * TOP_K) / 1e6).toFixed(1)} M top-K score entries) with ${args.writers} writer processes, ${args.batch} runs per transaction`);
  const fill = await fillRuns(pool, checkpointIds.length);
  // "neuron rows": score entries + knowledge-neuron rows, whatever the table rows that hold them
  const neuronRows = fill.scoreEntries + fill.knowledgeRows;
  const perMillion = (cpu: number) => ((cpu / neuronRows) * 1e6).toFixed(1);
  const perSecond = (n: number) => Math.round(n / fill.seconds);
  fillLine =
    `${fill.runs} runs, ${fill.scoreEntries} top-K score entries, ${fill.knowledgeRows} knowledge-neuron rows, ${fill.degenerateSets} degenerate sets in ${(fill.seconds / 60).toFixed(1)} min: ` +
    `${perSecond(neuronRows)} neuron rows/s (score entries + knowledge-neuron rows; ${perSecond(fill.runs)} runs/s, ${perSecond(fill.scoreEntries)} score entries/s, ` +
    `${perSecond(fill.knowledgeRows)} knowledge-neuron rows/s, ${perSecond(fill.tuples)} table rows written/s), ${args.writers} writer processes, ${args.batch} runs per transaction, load average ${loadAverage()} at the end; ` +
    `CPU per million neuron rows: ${perMillion(fill.clientCpu - fill.generateCpu)} s in the writers' saveRuns (and ${perMillion(fill.generateCpu)} s generating the synthetic runs), ${perMillion(fill.serverCpu)} s in PostgreSQL; ` +
    `WAL per million neuron rows: ${((fill.walBytes / neuronRows) * 1e6 / 2 ** 20).toFixed(0)} MiB (the server's, other databases included); ` +
    `${((fill.clientCpu + fill.serverCpu) / fill.seconds).toFixed(2)} of the ${os.cpus().length} cores on average`;
  log(fillLine);
  log("VACUUM (ANALYZE)");
  await pool.query(`VACUUM (ANALYZE) attribution_run, neuron_score, knowledge_neuron, degenerate_set, degenerate_member, relation_version, fact, language, relation, run_setting`);
}
const sizes = await tableSizes(pool);
const runs = sizes.find((t) => t.table === "attribution_run")!.rows;
const dbSize = Number((await pool.query<{ n: string }>(`SELECT pg_database_size(current_database())::text AS n`)).rows[0].n);
const gb = (b: number) => (b / 2 ** 30).toFixed(2);
const sizeTable = markdownTable(
  ["table", "rows", "heap GiB", "indexes GiB", "GiB per million runs"],
  [
    ...sizes.map((t) => [t.table, t.rows.toLocaleString("en"), gb(t.heap), gb(t.indexes), gb(((t.heap + t.indexes) / runs) * 1e6)]),
    ["whole database", "", "", "", `${gb((dbSize / runs) * 1e6)} (${gb(dbSize)} GiB in all)`],
  ],
  1,
);
console.log(`\n${fillLine ? `Fill: ${fillLine}.\n\n` : ""}${sizeTable}\n`);
if (args["skip-load"]) {
  await pool.end();
  if (!args.keep) await db.drop();
  process.exit(0);
}

const samples = await drawSamples(pool, runs);
await explainAll(pool, samples, fillLine || `${runs} runs (filled by an earlier run)`);

const wanted = args.queries?.toLowerCase().split(",");
// the controls are measured whatever --queries keeps: the key queries' figures are read against them
const queries = [CONTROL_EMPTY, ...keyQueries(samples).filter((q) => !wanted || wanted.some((w) => q.name.toLowerCase().includes(w)))];
if (args.profile) {
  // where the time of each key query goes (tools/bench/store-profile.ts), instead of the load test
  const rows = await profileKeyQueries(benchUrl, pool, queries, Number(args.profile), seededRandom("profile"));
  const phases = [...new Set(rows.flatMap((r) => [...r.phases.keys()]))];
  console.log(
    markdownTable(
      ["key query", "API CPU ms/req", ...phases, "SQL statements (pool)", "PG planning ms", "PG execution ms"],
      rows.map((r) => [r.query, r.apiMs.toFixed(2), ...phases.map((p) => (r.phases.get(p) ?? 0).toFixed(2)), String(r.statements), r.pgPlanningMs.toFixed(2), r.pgExecutionMs.toFixed(2)]),
      1,
    ),
  );
  for (const r of rows) {
    console.log(`\n${r.query}: self time by library (ms/req) ${r.topLibraries.map(([l, ms]) => `${l} ${ms.toFixed(2)}`).join(", ")}; by function:`);
    for (const [f, ms] of r.topFunctions) console.log(`  ${ms.toFixed(3)}  ${f}`);
  }
  console.log(`\n${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(1)).join(" / ")}.`);
  await pool.end();
  process.exit(0);
}
const results: LoadResult[] = [];
let port = Number(args.port) - 1;
/** Load-tests these queries on `replicas` fresh processes of `server` (an API with these plans, or the bare control). */
async function loadTest(server: "generic" | "custom" | "bare", replicas: number, tested: KeyQuery[]): Promise<void> {
  const api = await startApi(replicas, ++port, server);
  try {
    const url = `http://127.0.0.1:${port}/graphql`;
    for (const q of tested) {
      await load(url, api.pids, q, 1, 2); // warm-up: connections, plan caches, the JIT
      for (const clients of args.concurrency!.split(",").map(Number)) {
        const r = await load(url, api.pids, q, clients, Number(args.duration));
        const plans = server === "bare" ? "–" : server;
        results.push({ query: q.name, plans, replicas, clients, ...r });
        log(`${q.name}, ${plans} plans, ${replicas} replica(s), ${clients} clients: ${r.rps.toFixed(0)} req/s, p99 ${r.p99.toFixed(1)} ms`);
      }
    }
  } finally {
    api.child.kill("SIGTERM");
  }
}
const planList = args.plans!.split(",");
for (const plans of planList) if (plans !== "generic" && plans !== "custom") throw new Error(`--plans: "${plans}" is neither generic nor custom`);
for (const replicas of args.replicas!.split(",").map(Number)) await loadTest("bare", replicas, [CONTROL_BARE]);
for (const plans of planList as ("generic" | "custom")[]) {
  for (const replicas of args.replicas!.split(",").map(Number)) await loadTest(plans, replicas, queries);
}

const ms = (x: number) => x.toFixed(1);
console.log(
  markdownTable(
    ["key query", "plans", "API processes", "clients", "req/s", "p50 ms", "p95 ms", "p99 ms", "errors", "CPU ms/req API", "PostgreSQL", "autocannon", "load avg"],
    results.map((x) => [x.query, x.plans, String(x.replicas), String(x.clients), x.rps.toFixed(0), ms(x.p50), ms(x.p95), ms(x.p99), String(x.errors), ms(x.apiCpu), ms(x.dbCpu), ms(x.clientCpu), x.load]),
    1,
  ),
);
console.log(`\n${os.cpus().length} cores, load average ${os.loadavg().map((x) => x.toFixed(1)).join(" / ")} at the end; ${((Date.now() - started) / 60000).toFixed(0)} min in all.`);
await pool.end();
if (!args.keep) await db.drop();
