// Database helpers for tests. The run's database is created and migrated by test/global-setup.ts.
//
//   const url = testDatabaseUrl();
//   const prisma = createTestPrisma();          // disconnect in afterAll
//   await truncateAll();                         // empty every table (keeps _prisma_migrations)
//   const scratch = await createScratchDatabase("migrate");   // an EMPTY database; scratch.drop()
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { createPool, createPrisma, type PrismaClient } from "../../src/store/client.ts";
import { dropDatabase, ensureDatabase, withDatabase } from "../../src/store/migrate.ts";

/** URL of this test run's migrated database. */
export function testDatabaseUrl(): string {
  let url: string | undefined;
  try {
    url = inject("databaseUrl");
  } catch {
    // outside a vitest worker
  }
  url ??= process.env.KN_TEST_DATABASE_URL;
  if (!url) throw new Error("no test database: run the tests through vitest (test/global-setup.ts provides it)");
  return url;
}

/** A Prisma client on the test database. Call $disconnect() when done. */
export function createTestPrisma(url = testDatabaseUrl()): PrismaClient {
  return createPrisma(url, { max: 4 });
}

/** A pg.Pool on the test database. Call end() when done. */
export function createTestPool(url = testDatabaseUrl()): pg.Pool {
  return createPool(url, { max: 4, applicationName: "kn-test" });
}

/** Runs fn with one pg client on url (default: the test database). */
export async function withClient<T>(fn: (client: pg.Client) => Promise<T>, url = testDatabaseUrl()): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The tables of the public schema (without _prisma_migrations), sorted. */
export async function listTables(url = testDatabaseUrl()): Promise<string[]> {
  return withClient(async (client) => {
    const { rows } = await client.query<{ tablename: string }>(
      "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_prisma_migrations' ORDER BY tablename",
    );
    return rows.map((r) => r.tablename);
  }, url);
}

/**
 * Empties tables of the test database (default: all of the public schema except _prisma_migrations)
 * and restarts their id sequences.
 */
export async function truncateAll(options: { url?: string; tables?: string[] } = {}): Promise<void> {
  const url = options.url ?? testDatabaseUrl();
  const tables = options.tables ?? (await listTables(url));
  if (tables.length === 0) return;
  const list = tables.map((t) => '"' + t.replace(/"/g, '""') + '"').join(", ");
  await withClient((client) => client.query(`TRUNCATE ${list} RESTART IDENTITY CASCADE`), url);
}

export interface ScratchDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A new, empty database on the test server (for tests that need their own schema state). */
export async function createScratchDatabase(prefix = "scratch"): Promise<ScratchDatabase> {
  // kn_test_<prefix>_<pid>_<hex>: global-setup drops those of dead processes.
  const tag = prefix.replace(/[^a-z0-9_]/gi, "_").toLowerCase().slice(0, 24);
  const name = `kn_test_${tag}_${process.pid}_${randomBytes(3).toString("hex")}`;
  const url = withDatabase(testDatabaseUrl(), name);
  await ensureDatabase(url);
  return { url, name, drop: () => dropDatabase(url) };
}
