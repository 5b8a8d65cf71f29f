// npm run db:diff -- <name>        writes prisma/migrations/<timestamp>_<name>/migration.sql with the SQL
//                                  that takes the committed migrations to prisma/schema.prisma
// npm run db:diff -- --check       exits 1 (and prints the SQL) when the schema and the migrations
//                                  differ, 0 when they agree: for CI
//
// Runs offline through the WebAssembly schema engine (src/store/migrate-engine.ts). The engine
// replays the migrations in a shadow database that it creates and drops on the server of
// DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/test, or the embedded server when
// nothing answers there); that database itself is not modified. Any failure of the engine is an error with a non-zero exit code: an empty result only
// ever means that the engine ran and found no difference.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { diffMigrationsToSchema } from "../../src/store/migrate.ts";
import { DEFAULT_DATABASE_URL, MIGRATIONS_DIR, MIGRATION_LOCK, listMigrations, redactUrl } from "../../src/store/migrate-engine.ts";

function timestamp(date = new Date()): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return (
    p(date.getUTCFullYear(), 4) +
    p(date.getUTCMonth() + 1) +
    p(date.getUTCDate()) +
    p(date.getUTCHours()) +
    p(date.getUTCMinutes()) +
    p(date.getUTCSeconds())
  );
}

function slug(name: string): string {
  return name
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "_")
    .replace(/^_+|_+$/g, "")
    .slice(0, 200);
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      name: { type: "string", short: "n" },
      check: { type: "boolean", default: false },
      "migrations-dir": { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log("usage: npm run db:diff -- <name> | --check   [--migrations-dir DIR]   (DATABASE_URL: server for the shadow database)");
    return 0;
  }
  const dir = path.resolve(values["migrations-dir"] ?? MIGRATIONS_DIR);
  let url = process.env.DATABASE_URL || DEFAULT_DATABASE_URL;
  let stopServer: (() => Promise<void>) | undefined;
  if (!process.env.DATABASE_URL && !(await answers(url))) {
    // No configured server and none at the default address: the embedded one hosts the shadow database.
    const { startEmbeddedPostgres } = await import("../../src/store/embedded.ts");
    const server = await startEmbeddedPostgres();
    url = server.url;
    stopServer = server.stop;
    console.error(`db:diff: no PostgreSQL at ${redactUrl(DEFAULT_DATABASE_URL)}; using the embedded server (${redactUrl(url)}).`);
  }
  try {
    return await run(dir, url, values.check ?? false, values.name ?? positionals[0]);
  } finally {
    await stopServer?.();
  }
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function run(dir: string, url: string, check: boolean, rawName: string | undefined): Promise<number> {
  const started = Date.now();
  const script = await diffMigrationsToSchema(url, { migrationsDir: dir });
  const ms = Date.now() - started;
  const count = listMigrations(dir).length;

  if (check) {
    if (script === null) {
      console.log(`db:diff --check: prisma/schema.prisma matches the ${count} migration(s) (schema engine ran in ${ms} ms).`);
      return 0;
    }
    console.error(`db:diff --check: prisma/schema.prisma differs from the ${count} migration(s); missing SQL:\n`);
    console.error(script);
    console.error("Run `npm run db:diff -- <name>` to create the migration.");
    return 1;
  }

  if (script === null) {
    console.log(`db:diff: no difference between prisma/schema.prisma and the ${count} migration(s); nothing created.`);
    return 0;
  }
  const name = slug(rawName ?? "");
  if (!name) {
    console.error("db:diff: the schema changed; give the migration a name: npm run db:diff -- <name>\n");
    console.error(script);
    return 2;
  }
  const folder = `${timestamp()}_${name}`;
  mkdirSync(path.join(dir, folder), { recursive: true });
  const lock = path.join(dir, "migration_lock.toml");
  if (!existsSync(lock)) writeFileSync(lock, MIGRATION_LOCK);
  const file = path.join(dir, folder, "migration.sql");
  writeFileSync(file, script.endsWith("\n") ? script : script + "\n");

  // Prove the round trip: with the new migration the engine must find nothing left to do.
  const rest = await diffMigrationsToSchema(url, { migrationsDir: dir });
  if (rest !== null) {
    console.error(`db:diff: wrote ${path.relative(process.cwd(), file)}, but the schema still differs from the migrations:\n${rest}`);
    return 1;
  }
  console.log(`db:diff: created ${path.relative(process.cwd(), file)} (${script.split("\n").length} lines; shadow database on ${redactUrl(url)}).`);
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const detail = error instanceof Error ? (process.env.KN_ENGINE_DEBUG ? (error.stack ?? error.message) : error.message) : String(error);
    console.error(`db:diff failed: ${detail}`);
    process.exitCode = 1;
  },
);
