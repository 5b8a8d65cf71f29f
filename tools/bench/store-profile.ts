// `npm run bench:store -- --skip-fill --profile 300`: where the time of one key query goes. The API
// runs in this process under V8's CPU profiler; each key query is sent `requests` times, one after
// another, over real HTTP; the profile's samples are summed per phase (inclusive: a sample counts
// for every phase on its stack) and per library (self time). The SQL each request sends through
// the pool is recorded once and EXPLAIN (ANALYZE)'d repeatedly for PostgreSQL's planning and
// execution time (the median of 15; a named statement with its generic plan, kept after the first).
import { Session } from "node:inspector/promises";
import type pg from "pg";
import { InlineModelHost } from "../../src/api/model-host.ts";
import { startApiServer } from "../../src/api/server.ts";
import { createPrisma, withPoolClient } from "../../src/store/client.ts";

export interface ProfiledQuery {
  name: string;
  body(r: () => number): string;
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
  children?: number[];
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Phases: a sample counts for a phase when a frame on its stack matches (inclusive time). */
const PHASES: [string, (f: CpuProfileNode["callFrame"]) => boolean][] = [
  ["HTTP in/out (node)", (f) => /node:_http_(server|incoming|outgoing)|node:net/.test(f.url) && !/undici/.test(f.url)],
  ["parse", (f) => f.functionName === "parse" && f.url.includes("graphql/language/parser")],
  ["validate", (f) => f.functionName === "validate" && f.url.includes("graphql/validation/validate")],
  ["limits (depth, cost, strings)", (f) => f.url.includes("src/api/limits.ts") && f.functionName === "didResolveOperation"],
  ["compute budgets", (f) => f.url.includes("src/api/compute-budget.ts") && f.functionName === "didResolveOperation"],
  ["execute (resolvers)", (f) => f.url.includes("graphql/execution/execute") && /^execute(Operation)?$/.test(f.functionName)],
  ["pg driver", (f) => /node_modules\/(pg|pg-protocol|pg-pool|pg-types)\//.test(f.url)],
  ["Prisma", (f) => f.url.includes("@prisma/")],
  ["JSON", (f) => /^(stringify|parse)$/.test(f.functionName) && f.url === ""],
  ["garbage collection", (f) => f.functionName === "(garbage collector)"],
];

/** The load generator's own frames (fetch/undici) are left out of the API's time. */
const isClient = (f: CpuProfileNode["callFrame"]) => f.url.includes("undici") || f.url.includes("store-profile.ts");
const isIdle = (f: CpuProfileNode["callFrame"]) => f.functionName === "(idle)" || f.functionName === "(program)";

function library(url: string): string {
  const m = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.includes("/src/")) return url.slice(url.indexOf("/src/") + 1).replace(/\/[^/]+$/, "/");
  if (url.startsWith("node:")) return "node";
  return url ? url : "(V8 builtins)";
}

interface Breakdown {
  apiMs: number;
  phases: Map<string, number>;
  libraries: Map<string, number>;
  /** Self time by function (with its library and first three callers). */
  functions: Map<string, number>;
}

function breakdown(profile: CpuProfile, requests: number): Breakdown {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const phases = new Map<string, number>();
  const libraries = new Map<string, number>();
  const functions = new Map<string, number>();
  let api = 0;
  profile.samples.forEach((id, i) => {
    const dt = (profile.timeDeltas[i] ?? 0) / 1000; // µs -> ms
    const node = byId.get(id)!;
    if (isIdle(node.callFrame)) return;
    const stack: CpuProfileNode["callFrame"][] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!.callFrame);
    if (stack.some(isClient)) return;
    api += dt;
    for (const [name, match] of PHASES) if (stack.some(match)) phases.set(name, (phases.get(name) ?? 0) + dt);
    const lib = node.callFrame.functionName === "(garbage collector)" ? "(garbage collector)" : library(node.callFrame.url);
    libraries.set(lib, (libraries.get(lib) ?? 0) + dt);
    const fn = `${node.callFrame.functionName || "(anonymous)"} [${lib}] < ${stack.slice(1, 4).map((f) => f.functionName || "(anonymous)").join(" < ")}`;
    functions.set(fn, (functions.get(fn) ?? 0) + dt);
  });
  const per = (m: Map<string, number>) => new Map([...m].map(([k, v]) => [k, v / requests]));
  return { apiMs: api / requests, phases: per(phases), libraries: per(libraries), functions: per(functions) };
}

/**
 * A pool whose statements are noted while `recording` holds. A `query` assigned to it (the API's
 * Server-Timing instrumentation, which wraps the query it finds) is kept on the stand-in, in front
 * of the recording one, not on the pool underneath (whose query the recording one calls).
 */
interface Statement {
  sql: string;
  params: unknown[];
  /** A named statement: the API's connections run it with its generic plan (createPool). */
  generic: boolean;
}

function recordingPool(pool: pg.Pool): { pool: pg.Pool; record<T>(work: () => Promise<T>): Promise<Statement[]> } {
  let notes: Statement[] | null = null;
  const original = (pool.query as (...a: unknown[]) => unknown).bind(pool);
  const query = (...args: unknown[]) => {
    const first = args[0] as string | pg.QueryConfig;
    if (notes) notes.push(typeof first === "string" ? { sql: first, params: (args[1] as unknown[]) ?? [], generic: false } : { sql: first.text, params: first.values ?? [], generic: first.name !== undefined });
    return original(...args);
  };
  let outer: unknown = null;
  const wrapped = new Proxy(pool, {
    get: (target, key) => (key === "query" ? (outer ?? query) : Reflect.get(target, key, target)),
    set: (target, key, value) => (key === "query" ? ((outer = value), true) : Reflect.set(target, key, value, target)),
  });
  return {
    pool: wrapped,
    async record(work) {
      notes = [];
      try {
        await work();
        return notes;
      } finally {
        notes = null;
      }
    },
  };
}

/** A one-dimensional array as PostgreSQL's array input reads it: {"a","b"}, NULL for null. */
const arrayLiteral = (values: readonly unknown[]) => `{${values.map((v) => (v === null ? "NULL" : `"${String(v).replace(/[\\"]/g, "\\$&")}"`)).join(",")}}`;

/**
 * EXPLAIN `options` of a statement, `rounds` times on one connection: a generic one as the API's
 * connections run it, prepared once with its generic plan and EXPLAINed as EXECUTE with the values
 * as literals (EXPLAIN EXECUTE takes no bind parameters), so its planning time is that of the
 * first execution and then of a kept plan; any other with its values bound, planned each time.
 */
export async function explainStatement<R extends pg.QueryResultRow>(pool: pg.Pool, s: Statement, options: string, rounds = 1): Promise<R[][]> {
  return withPoolClient(pool, async (client) => {
    const out: R[][] = [];
    if (!s.generic) {
      for (let i = 0; i < rounds; i++) out.push((await client.query<R>(`EXPLAIN (${options}) ${s.sql}`, s.params)).rows);
      return out;
    }
    await client.query(`SET plan_cache_mode = force_generic_plan`);
    await client.query(`PREPARE explained AS ${s.sql}`);
    try {
      const args = s.params.map((v) => (v === null ? "NULL" : client.escapeLiteral(Array.isArray(v) ? arrayLiteral(v) : String(v)))).join(", ");
      for (let i = 0; i < rounds; i++) out.push((await client.query<R>(`EXPLAIN (${options}) EXECUTE explained${args ? `(${args})` : ""}`)).rows);
      return out;
    } finally {
      await client.query(`DEALLOCATE explained`);
      await client.query(`RESET plan_cache_mode`);
    }
  });
}

async function explainTimes(pool: pg.Pool, statement: Statement, rounds: number): Promise<{ planning: number; execution: number }> {
  const planning: number[] = [];
  const execution: number[] = [];
  for (const rows of await explainStatement<{ "QUERY PLAN": [{ "Planning Time": number; "Execution Time": number }] }>(pool, statement, "ANALYZE, FORMAT JSON", rounds)) {
    planning.push(rows[0]["QUERY PLAN"][0]["Planning Time"]);
    execution.push(rows[0]["QUERY PLAN"][0]["Execution Time"]);
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { planning: median(planning), execution: median(execution) };
}

export interface ProfileRow {
  query: string;
  apiMs: number;
  phases: Map<string, number>;
  topLibraries: [string, number][];
  topFunctions: [string, number][];
  statements: number;
  pgPlanningMs: number;
  pgExecutionMs: number;
}

export async function profileKeyQueries(benchUrl: string, pool: pg.Pool, queries: readonly ProfiledQuery[], requests: number, random: () => number): Promise<ProfileRow[]> {
  const recorder = recordingPool(pool);
  const prisma = createPrisma(benchUrl, { max: 4 });
  const server = await startApiServer(
    { prisma, pool: recorder.pool, version: "profile", apiKeys: [], queue: () => Promise.reject(new Error("no queue")), modelHost: new InlineModelHost(pool) },
    { port: 0, host: "127.0.0.1" },
  );
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.setSamplingInterval", { interval: 100 });
  const send = async (body: string) => {
    const res = await fetch(server.url, { method: "POST", headers: { "content-type": "application/json" }, body });
    const text = await res.text();
    if (res.status !== 200 || text.includes('"errors"')) throw new Error(`profile: ${res.status} ${text.slice(0, 300)}`);
  };
  const out: ProfileRow[] = [];
  try {
    for (const q of queries) {
      for (let i = 0; i < 30; i++) await send(q.body(random)); // warm-up: JIT, plan caches, connections
      const statements = await recorder.record(() => send(q.body(random)));
      await session.post("Profiler.start");
      for (let i = 0; i < requests; i++) await send(q.body(random));
      const { profile } = (await session.post("Profiler.stop")) as unknown as { profile: CpuProfile };
      const b = breakdown(profile, requests);
      let planning = 0;
      let execution = 0;
      for (const s of statements) {
        const t = await explainTimes(pool, s, 15);
        planning += t.planning;
        execution += t.execution;
      }
      out.push({
        query: q.name,
        apiMs: b.apiMs,
        phases: b.phases,
        topLibraries: [...b.libraries].sort((x, y) => y[1] - x[1]).slice(0, 6),
        topFunctions: [...b.functions].sort((x, y) => y[1] - x[1]).slice(0, 12),
        statements: statements.length,
        pgPlanningMs: planning,
        pgExecutionMs: execution,
      });
    }
  } finally {
    session.disconnect();
    await server.stop();
    await prisma.$disconnect();
  }
  return out;
}
