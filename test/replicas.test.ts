// Many API replicas on one database. Edit changes are announced with NOTIFY in the transaction
// that writes them and heard by every replica's listener, which reconnects (and asks for a full
// resync) when its connection is lost. Then `kn serve` processes on one database: an edit applied
// through one replica is answered by another, a revert likewise, a replica cut off from the
// database catches up when it is back, a replica started later applies the active edits, and two
// replicas applying overlapping edits at once cannot both succeed. Last, `kn serve --processes 2`:
// two API processes on one port, each answering, one that dies replaced, all stopped at SIGTERM.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import http from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerDemoModels } from "../src/cli/checkpoints.ts";
import { type EditChange, type EditListener, announceEditExpression, listenForEditChanges } from "../src/store/edit-events.ts";
import { markReverted, reserveEditId, saveEdit } from "../src/store/edits.ts";
import { type GraphQLResponse, codes, gql } from "./helpers/graphql.ts";
import { openTestStore, truncateAll } from "./helpers/store.ts";
import { startTcpProxy } from "./helpers/tcp-proxy.ts";

const ROOT = join(import.meta.dirname, "..");
const store = openTestStore();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, ms = 15_000): Promise<void> {
  for (const t0 = Date.now(); !check(); await sleep(20)) if (Date.now() - t0 > ms) throw new Error(`${what}: not within ${ms} ms`);
}

afterAll(async () => store.close());

describe("edit notifications", () => {
  const changes: EditChange[] = [];
  const logged: string[] = [];
  let resyncs = 0;
  let listener: EditListener;
  let checkpointId: number;

  beforeAll(async () => {
    await truncateAll(store.pool);
    checkpointId = (await registerDemoModels(store.prisma))[0].id;
    listener = listenForEditChanges(store.url, { onChange: (c) => changes.push(c), onResync: () => resyncs++, log: (l) => logged.push(l) }, { heartbeatMs: 500 });
    await listener.ready;
  });
  afterAll(async () => listener?.close());

  it("are heard once the writing transaction commits, never when it rolls back", async () => {
    expect(resyncs).toBe(1); // the first LISTEN asks for a resync too: changes before it were not heard
    const client = await store.pool.connect();
    try {
      await client.query("BEGIN");
      await client.query(`SELECT ${announceEditExpression("$1", "'7'", "'ACTIVE'")}`, [checkpointId]);
      await client.query("ROLLBACK");
      await client.query("BEGIN");
      await client.query(`SELECT ${announceEditExpression("$1", "'8'", "'ACTIVE'")}`, [checkpointId]);
      await sleep(300);
      expect(changes).toEqual([]); // not before COMMIT
      await client.query("COMMIT");
    } finally {
      client.release();
    }
    await until("the committed change", () => changes.length > 0);
    expect(changes).toEqual([{ checkpointId, editId: "8", status: "ACTIVE" }]);
  });

  it("are sent by saveEdit and markReverted", async () => {
    changes.length = 0;
    const id = await reserveEditId(store.pool);
    await saveEdit(store.pool, { id, checkpointId, kind: "SUPPRESS", target: "EXPLICIT", factId: null, languageCode: null, neurons: [[0, 1]], params: { factor: 0 }, savedWeights: null, appliedBy: "test" }, []);
    await until("the applied edit", () => changes.length === 1);
    expect(await markReverted(store.pool, id, "test")).not.toBeNull();
    await until("the reverted edit", () => changes.length === 2);
    expect(await markReverted(store.pool, id, "test")).toBeNull(); // not active any more: nothing announced
    await sleep(300);
    expect(changes).toEqual([
      { checkpointId, editId: id.toString(), status: "ACTIVE" },
      { checkpointId, editId: id.toString(), status: "REVERTED" },
    ]);
  });

  it("reconnect after the listening connection is killed, resync, and hear later changes", async () => {
    changes.length = 0;
    const before = resyncs;
    const { rows } = await store.pool.query("SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = 'kn-edit-listener' AND datname = current_database()");
    expect(rows).toHaveLength(1);
    await until("the resync after reconnecting", () => resyncs === before + 1);
    expect(listener.connected()).toBe(true);
    expect(logged.some((l) => /edit notifications: connection lost/.test(l))).toBe(true);
    await store.pool.query(`SELECT ${announceEditExpression("$1", "'9'", "'REVERTED'")}`, [checkpointId]);
    await until("a change after the reconnection", () => changes.length === 1);
    expect(changes).toEqual([{ checkpointId, editId: "9", status: "REVERTED" }]);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

interface Replica {
  url: string;
  child: ChildProcess;
  output(): string;
}

const SECRET = "replica-write-key";
const WRITE = { authorization: `Bearer ${SECRET}` };
const METERED = "replica-metered-key";
const KEY_BUDGET = 40;
const MODEL = "demo-mgpt";
const TEXT = "The capital of France is";
// 24 value vectors of layer 2, and 24 of layer 3 for the activation edit
const ERASED = Array.from({ length: 24 }, (_, i) => ({ layer: 2, unit: 10 * i }));
const SUPPRESSED = Array.from({ length: 24 }, (_, i) => ({ layer: 3, unit: 10 * i + 3 }));

describe("kn serve replicas on one database", () => {
  const replicas: Replica[] = [];
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;

  async function startReplica(databaseUrl: string): Promise<Replica> {
    const port = await freePort();
    const child = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "serve", "--port", String(port), "--workers", "0"], {
      cwd: ROOT,
      env: {
        ...process.env,
        DATABASE_URL: databaseUrl,
        KN_API_KEYS: `ops:${SECRET}:write,meter:${METERED}:read`,
        KN_DB_CONNECT_TIMEOUT_MS: "1000",
        // keys: 40 compute units a minute, shared by the replicas; anonymous predictions (the polling below): unlimited
        KN_RATE_LIMIT: String(KEY_BUDGET),
        KN_RATE_LIMIT_ANONYMOUS: "0",
      },
    });
    let out = "";
    child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    const replica = { url: `http://127.0.0.1:${port}/graphql`, child, output: () => out };
    replicas.push(replica);
    await until(`replica on port ${port} ready`, () => /GraphQL ready at/.test(out) || child.exitCode !== null, 120_000);
    expect(child.exitCode, out).toBeNull();
    return replica;
  }

  interface Prediction {
    top: { id: number; probability: number }[];
    activeEdits: string[];
  }
  const predict = async (r: Replica): Promise<Prediction> => {
    const answer = await gql<{ predict: Prediction }>(r.url, `query($t: String!) { predict(model: "${MODEL}", text: $t, top: 5) { top { id probability } activeEdits } }`, { t: TEXT });
    expect(answer.errors, JSON.stringify(answer.errors)).toBeUndefined();
    return answer.data!.predict;
  };
  /** Polls a replica until its model has exactly these active edits; returns that prediction. */
  const predictWith = async (r: Replica, edits: string[]): Promise<Prediction> => {
    let last: Prediction | undefined;
    for (const t0 = Date.now(); Date.now() - t0 < 20_000; await sleep(100)) {
      last = await predict(r);
      if (JSON.stringify(last.activeEdits) === JSON.stringify(edits)) return last;
    }
    throw new Error(`replica never had edits [${edits}] (last: [${last?.activeEdits}])\n${r.output()}`);
  };
  const apply = (r: Replica, kind: string, neurons: { layer: number; unit: number }[]) =>
    gql<{ applyEdit: { id: string } }>(r.url, `mutation($n: [NeuronInput!]) { applyEdit(input: { model: "${MODEL}", kind: ${kind}, target: EXPLICIT, neurons: $n, unrelatedSample: 0 }) { id } }`, { n: neurons }, WRITE);
  const revert = (r: Replica, id: string) => gql<{ revertEdit: { status: string } }>(r.url, `mutation($id: ID!) { revertEdit(id: $id) { status } }`, { id }, WRITE);

  let a: Replica;
  let b: Replica;
  let original: Prediction;

  beforeAll(async () => {
    await truncateAll(store.pool);
    const target = new URL(store.url);
    proxy = await startTcpProxy(target.hostname, Number(target.port || 5432));
    // replica B reaches the database through a proxy the test can cut
    [a, b] = await Promise.all([startReplica(store.url), startReplica(proxy.url(store.url))]);
    original = await predict(a);
    expect(await predict(b)).toEqual(original);
  }, 240_000);

  afterAll(async () => {
    for (const r of replicas) r.child.kill("SIGKILL");
    await proxy?.close();
  });

  it("an edit applied through one replica is answered by the other; a revert through the other is answered by the first", async () => {
    const applied = await apply(a, "ERASE", ERASED);
    expect(applied.errors).toBeUndefined();
    const id = applied.data!.applyEdit.id;
    const onA = await predictWith(a, [id]);
    expect(onA.top).not.toEqual(original.top); // the edit changes the answer
    expect(await predictWith(b, [id])).toEqual(onA); // the same edited model on B, bit for bit
    expect((await revert(b, id)).data).toEqual({ revertEdit: { status: "REVERTED" } });
    expect(await predictWith(a, [])).toEqual(original); // weights restored bit for bit on A too
    expect(await predictWith(b, [])).toEqual(original);
  }, 120_000);

  it("a replica cut off from the database catches up when its connection is back (missed notifications are reconciled)", async () => {
    proxy.setMode("refuse");
    const applied = await apply(a, "SUPPRESS", SUPPRESSED);
    expect(applied.errors).toBeUndefined();
    const id = applied.data!.applyEdit.id;
    const onA = await predictWith(a, [id]);
    expect(onA.top).not.toEqual(original.top);
    // B cannot hear of it, nor answer (its database is gone)
    const cut = await gql(b.url, `{ predict(model: "${MODEL}", text: "${TEXT}") { activeEdits } }`);
    expect(codes(cut)).toEqual(["DATABASE_UNAVAILABLE"]);
    proxy.setMode("forward");
    expect(await predictWith(b, [id])).toEqual(onA);
    expect(b.output()).toMatch(/edit notifications: connection lost/);
    expect(b.output()).toMatch(new RegExp(`checkpoint \\d+: edits \\+${id} taken from the database`));
  }, 120_000);

  it("a replica started later answers with the active edits from its first prediction", async () => {
    const active = (await predict(a)).activeEdits;
    expect(active).toHaveLength(1);
    const late = await startReplica(store.url);
    const first = await predict(late);
    expect(first.activeEdits).toEqual(active);
    expect(first).toEqual(await predict(a));
  }, 180_000);

  it("two replicas applying overlapping weight edits at the same moment: one applies, the other is a CONFLICT", async () => {
    const before = (await predict(a)).activeEdits;
    // storing an edit takes 2 s now: without a lock across replicas, both would pass their
    // conflict check in that time and both edits would be stored
    await store.pool.query(`CREATE FUNCTION kn_test_slow_edit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(2); RETURN NEW; END $$`);
    await store.pool.query(`CREATE TRIGGER kn_test_slow_edit BEFORE INSERT ON edit FOR EACH ROW EXECUTE FUNCTION kn_test_slow_edit()`);
    let onA: GraphQLResponse<{ applyEdit: { id: string } }>, onB: GraphQLResponse<{ applyEdit: { id: string } }>;
    try {
      [onA, onB] = await Promise.all([apply(a, "ERASE", ERASED), (async () => (await sleep(300), apply(b, "ERASE", ERASED.slice(0, 12))))()]);
    } finally {
      await store.pool.query("DROP TRIGGER kn_test_slow_edit ON edit; DROP FUNCTION kn_test_slow_edit()");
    }
    const results = [onA, onB].map((r: GraphQLResponse) => (r.errors ? codes(r)[0] : "APPLIED"));
    expect(results.sort()).toEqual(["APPLIED", "CONFLICT"]);
    const winner = (onA.data?.applyEdit ?? onB.data?.applyEdit)!.id;
    const { rows } = await store.pool.query("SELECT id::text FROM edit WHERE status = 'ACTIVE' AND kind = 'ERASE'");
    expect(rows).toEqual([{ id: winner }]);
    const expected = [...before, winner].sort((x, y) => Number(x) - Number(y));
    expect(await predictWith(a, expected)).toEqual(await predictWith(b, expected));
  }, 120_000);

  it("compute budgets are shared: units a key spends through one replica are gone on the other", async () => {
    const meter = { authorization: `Bearer ${METERED}` };
    // a prediction with an unknown model runs (NOT_FOUND) and costs its unit
    const spend = (r: Replica) => gql(r.url, `{ predict(model: "no-such-model", text: "x") { model } }`, {}, meter);
    // alternating: with a budget per replica each would still have half of its units left
    for (let i = 0; i < KEY_BUDGET; i++) expect(codes(await spend(i % 2 ? b : a))).toEqual(["NOT_FOUND"]);
    expect(codes(await spend(a))).toEqual(["RATE_LIMITED"]);
    expect(codes(await spend(b))).toEqual(["RATE_LIMITED"]);
    // another key's budget is its own
    expect(codes(await gql(b.url, `{ predict(model: "no-such-model", text: "x") { model } }`, {}, WRITE))).toEqual(["NOT_FOUND"]);
  }, 60_000);
});

/**
 * Linux: the API processes of a `kn serve --processes` primary (its children that run `serve`: tsx
 * may have an esbuild service among its children too), and a process's CPU seconds so far.
 */
function apiProcessesOf(pid: number): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .flatMap((d) => {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, "utf8");
        const child = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === pid;
        return child && readFileSync(`/proc/${d}/cmdline`, "utf8").split("\0").includes("serve") ? [Number(d)] : [];
      } catch {
        return []; // gone meanwhile
      }
    });
}
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** One POST on a connection of its own (so that node:cluster hands each to the next API process). */
function postOnNewConnection(port: number, query: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ port, host: "127.0.0.1", path: "/graphql", method: "POST", agent: false, headers: { "content-type": "application/json" } }, (res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d.toString()));
      res.on("end", () => resolve({ status: res.statusCode!, body }));
    });
    req.on("error", reject);
    req.end(JSON.stringify({ query }));
  });
}

describe("kn serve --processes 2: API processes on one port", () => {
  let primary: ChildProcess;
  let out = "";
  let port: number;

  beforeAll(async () => {
    await truncateAll(store.pool);
    port = await freePort();
    primary = spawn(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "serve", "--processes", "2", "--workers", "0", "--port", String(port)], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: store.url },
    });
    primary.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    primary.stderr!.on("data", (d: Buffer) => (out += d.toString()));
    await until("two API processes ready", () => /GraphQL ready at \S+ \(2 API processes, 0 queue workers\)/.test(out) || primary.exitCode !== null, 120_000);
    expect(primary.exitCode, out).toBeNull();
  }, 180_000);
  afterAll(() => {
    if (primary?.exitCode === null) {
      for (const pid of apiProcessesOf(primary.pid!)) process.kill(pid, "SIGKILL");
      primary.kill("SIGKILL");
    }
  });

  it("each process answers, one that dies is replaced, SIGTERM stops them all", async () => {
    const apiProcesses = apiProcessesOf(primary.pid!);
    expect(apiProcesses, out).toHaveLength(2);
    // new connections go to the processes in turn: both do work
    const before = apiProcesses.map(cpuSeconds);
    for (let i = 0; i < 200; i++) expect((await postOnNewConnection(port, "{ relations { id } }")).status).toBe(200);
    const used = apiProcesses.map((pid, i) => cpuSeconds(pid) - before[i]);
    for (const seconds of used) expect(seconds, `CPU seconds of each API process: ${used}`).toBeGreaterThanOrEqual(0.1);

    // one dies: the port keeps answering, and the primary starts another in its place
    process.kill(apiProcesses[0], "SIGKILL");
    await until("the replacement", () => /listening in its place/.test(out), 60_000);
    expect(out).toContain(`API process ${apiProcesses[0]} exited (SIGKILL); starting another`);
    const now = apiProcessesOf(primary.pid!);
    expect(now).toHaveLength(2);
    expect(now).toContain(apiProcesses[1]);
    const replacement = now.find((pid) => pid !== apiProcesses[1])!;
    const replacementBefore = cpuSeconds(replacement);
    for (let i = 0; i < 200; i++) expect((await postOnNewConnection(port, "{ relations { id } }")).status).toBe(200);
    expect(cpuSeconds(replacement) - replacementBefore).toBeGreaterThanOrEqual(0.1);

    // SIGTERM to the primary: every API process stops with it
    const exited = new Promise<number | null>((resolve) => primary.once("exit", resolve));
    primary.kill("SIGTERM");
    expect(await exited, out).toBe(0);
    for (const pid of now) expect(existsSync(`/proc/${pid}`), `API process ${pid} still running`).toBe(false);
  }, 120_000);
});

describe("kn serve with an unusable setting", () => {
  it("exits 2 with the setting's name and no stack trace, for a flag or the environment", () => {
    const serve = (args: string[], env: Record<string, string>) =>
      spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "src/cli/main.ts"), "serve", "--port", "0", ...args], { cwd: ROOT, env: { ...process.env, DATABASE_URL: store.url, ...env }, encoding: "utf8", timeout: 60_000 });
    for (const [args, env, message] of [
      [["--processes", "0"], {}, `kn: invalid --processes "0": a whole number >= 1\n`],
      [[], { KN_API_PROCESSES: "two" }, `kn: KN_API_PROCESSES must be an integer >= 1 (got "two")\n`],
      [[], { KN_TRUST_PROXY: "maybe" }, `kn: KN_TRUST_PROXY must be 1 or 0 (got "maybe")\n`],
      [[], { KN_API_KEYS: "ops:the-secret:admin" }, `kn: KN_API_KEYS entry 1 must be name:secret:read|write\n`],
    ] as const) {
      const r = serve([...args], env);
      expect(r.status, r.stderr).toBe(2);
      expect(r.stderr).toBe(message);
    }
  }, 120_000);
});
