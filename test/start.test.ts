// `npm start` end to end: no DATABASE_URL, so an embedded PostgreSQL is started under
// KN_DATA_DIR, migrated, seeded and served; Ctrl-C stops everything cleanly.
import { type ChildProcess, spawn } from "node:child_process";
import { chmodSync, mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
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

  it("serves the seeds on an embedded PostgreSQL, restarts idempotently, and stops cleanly on SIGINT", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, KN_DATA_DIR: dataDir, PORT: String(await freePort()) };
    delete env.DATABASE_URL;
    const counts: number[] = [];
    for (let run = 0; run < 2; run++) {
      const app = startApp(env);
      children.push(app.child);
      const url = await app.ready;
      expect(app.output()).toMatch(/embedded PostgreSQL running/);
      const r = await gql<{ relations: { id: string }[]; languages: { code: string }[]; facts: { totalCount: number } }>(
        url,
        "{ relations { id } languages { code } facts(first: 1) { totalCount } }",
      );
      expect(r.data!.relations.length).toBeGreaterThanOrEqual(12);
      expect(r.data!.languages.length).toBeGreaterThanOrEqual(6);
      counts.push(r.data!.facts.totalCount);
      const exit = exited(app.child);
      app.child.kill("SIGINT");
      expect(await exit).toBe(0);
      // the embedded server went down with the app: the port is free again
      await expect(fetch(url)).rejects.toThrow();
    }
    expect(counts[0]).toBeGreaterThan(500);
    expect(counts[1]).toBe(counts[0]);
  }, 240_000);
});
