// npm run prepare:generate (run first by `npm test`; the kn CLI, hence `npm start`, calls it itself): generates the Prisma client
// into src/store/generated when it is missing or stale, offline, and says nothing otherwise.
//
// Staleness: src/store/generated/.schema-hash holds the sha256 of prisma/schema.prisma (line 1) and
// the prisma version (line 2) it was generated from. `prisma generate` never runs the schema engine,
// but the CLI tries to download one unless PRISMA_SCHEMA_ENGINE_BINARY names an existing file: it is
// pointed at the node executable.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const SCHEMA_FILE = path.join(ROOT, "prisma", "schema.prisma");
export const GENERATED_DIR = path.join(ROOT, "src", "store", "generated");
export const HASH_FILE = path.join(GENERATED_DIR, ".schema-hash");

function prismaCli(): { script: string; version: string } {
  const require = createRequire(import.meta.url);
  const pkgPath = require.resolve("prisma/package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as { version: string; bin: { prisma: string } | string };
  const bin = typeof pkg.bin === "string" ? pkg.bin : pkg.bin.prisma;
  return { script: path.join(path.dirname(pkgPath), bin), version: pkg.version };
}

/** What .schema-hash must contain for the generated client to be current. */
export function expectedStamp(): string {
  const hash = createHash("sha256").update(readFileSync(SCHEMA_FILE)).digest("hex");
  return `${hash}\nprisma ${prismaCli().version}\n`;
}

export function isGeneratedClientFresh(): boolean {
  if (!existsSync(path.join(GENERATED_DIR, "client.ts")) || !existsSync(HASH_FILE)) return false;
  return readFileSync(HASH_FILE, "utf8") === expectedStamp();
}

/** A cross-process lock (a directory in the temp folder), so that concurrent runs generate once. */
function withLock<T>(fn: () => T): T {
  const key = createHash("sha256").update(ROOT).digest("hex").slice(0, 16);
  const lock = path.join(tmpdir(), `kn-prisma-generate-${key}.lock`);
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      // A lock older than 2 minutes was left by a killed run.
      try {
        if (Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      } catch {
        // gone meanwhile
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Generates the client when needed; returns true when it ran `prisma generate`. */
export function generateIfStale(options: { force?: boolean; quiet?: boolean } = {}): boolean {
  if (!options.force && isGeneratedClientFresh()) return false;
  return withLock(() => {
    if (!options.force && isGeneratedClientFresh()) return false; // another process did it
    const { script } = prismaCli();
    const stamp = expectedStamp();
    const engine = process.env.PRISMA_SCHEMA_ENGINE_BINARY;
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PRISMA_SCHEMA_ENGINE_BINARY: engine && existsSync(engine) ? engine : process.execPath,
      CHECKPOINT_DISABLE: "1",
      PRISMA_HIDE_UPDATE_MESSAGE: "1",
      PRISMA_DISABLE_WARNINGS: "1",
    };
    // Start clean: files of models removed from the schema must not linger.
    rmSync(GENERATED_DIR, { recursive: true, force: true });
    const started = Date.now();
    const result = spawnSync(process.execPath, [script, "generate"], { cwd: ROOT, env, encoding: "utf8", timeout: 300_000 });
    if (result.status !== 0 || !existsSync(path.join(GENERATED_DIR, "client.ts"))) {
      process.stderr.write(result.stdout ?? "");
      process.stderr.write(result.stderr ?? "");
      throw new Error(
        `prisma generate failed (${result.error?.message ?? `exit code ${result.status}${result.signal ? `, ${result.signal}` : ""}`})`,
      );
    }
    writeFileSync(HASH_FILE, stamp);
    if (!options.quiet) console.error(`prisma client generated into src/store/generated (${Date.now() - started} ms)`);
    return true;
  });
}

const isMain = process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  try {
    generateIfStale({ force: process.argv.includes("--force") });
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  }
}
