// Vitest global setup: one fresh database per test run, with the migrations applied.
//
// The server: TEST_DATABASE_URL, else DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/test if
// it answers, else an embedded server (data in <project>/.data/postgres-test, never the data
// directory of `npm start`). On it a database kn_test_<pid>_<random> is created, migrated, handed to
// the tests (inject("databaseUrl"); process.env.KN_TEST_DATABASE_URL and DATABASE_URL in the workers)
// and dropped at teardown. KN_TEST_EMBEDDED=1 forces the embedded server.
import path from "node:path";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { generateIfStale } from "../src/store/generate.ts";
import { DEFAULT_DATABASE_URL, applyMigrations, dropDatabase, ensureDatabase, withDatabase } from "../src/store/migrate.ts";
import { redactUrl } from "../src/store/migrate-engine.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** URL of this run's migrated test database. */
    databaseUrl: string;
    /** Where the server came from: "env", "local" (127.0.0.1:5432) or "embedded". */
    databaseSource: string;
  }
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2_000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Drops the databases of killed test runs on a local server: kn_test_<pid>_<hex> (this file),
 * kn_test_<prefix>_<pid>_<hex> (helpers/db.ts) and prisma_shadow_<pid>_<hex> (the schema engine),
 * whose process is gone.
 */
async function dropLeftovers(serverUrl: string): Promise<void> {
  const host = new URL(serverUrl).hostname;
  if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(host)) return;
  const pattern = /^(?:kn_test_(?:[a-z0-9_]+_)?|prisma_shadow_)(\d+)_[0-9a-f]{6,8}$/;
  const client = new pg.Client({ connectionString: withDatabase(serverUrl, "postgres") });
  client.on("error", () => undefined);
  try {
    await client.connect();
    const { rows } = await client.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname ~ '^(kn_test_|prisma_shadow_)'");
    for (const { datname } of rows) {
      const m = pattern.exec(datname);
      if (m && !pidAlive(Number(m[1]))) await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`).catch(() => undefined);
    }
  } catch {
    // best effort
  } finally {
    await client.end().catch(() => undefined);
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // `npm test` generates the client first; plain `npx vitest` on a fresh clone needs it as well.
  generateIfStale({ quiet: true });

  // KN_TEST_EMBEDDED=1 forces the embedded server (to test that path on a machine with PostgreSQL).
  const forceEmbedded = process.env.KN_TEST_EMBEDDED === "1";
  let serverUrl = forceEmbedded ? undefined : process.env.TEST_DATABASE_URL?.trim() || process.env.DATABASE_URL?.trim();
  let source = "env";
  let stopServer: (() => Promise<void>) | undefined;
  if (!serverUrl) {
    if (!forceEmbedded && (await answers(DEFAULT_DATABASE_URL))) {
      serverUrl = DEFAULT_DATABASE_URL;
      source = "local";
    } else {
      const { startEmbeddedPostgres } = await import("../src/store/embedded.ts");
      const server = await startEmbeddedPostgres({ dataDir: path.join(ROOT, ".data", "postgres-test"), port: 54339, database: "kn_test" });
      serverUrl = server.url;
      source = "embedded";
      stopServer = server.stop;
    }
  }

  await dropLeftovers(serverUrl);
  const name = `kn_test_${process.pid}_${randomBytes(3).toString("hex")}`;
  const url = withDatabase(serverUrl, name);
  try {
    await ensureDatabase(url);
    await applyMigrations(url);
  } catch (error) {
    await dropDatabase(url).catch(() => undefined);
    await stopServer?.();
    throw new Error(`test database setup failed on ${redactUrl(serverUrl)}: ${(error as Error).message}`, { cause: error });
  }

  project.provide("databaseUrl", url);
  project.provide("databaseSource", source);
  process.env.KN_TEST_DATABASE_URL = url;
  // Code under test that reads DATABASE_URL gets the test database, never the application's.
  process.env.DATABASE_URL = url;

  return async () => {
    try {
      await dropDatabase(url);
    } finally {
      await stopServer?.();
    }
  };
}
