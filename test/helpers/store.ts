// Test database access: the migrated database of this run (see test/global-setup.ts).
import { inject } from "vitest";
import { createPool, createPrisma } from "../../src/store/client.ts";

export function testDatabaseUrl(): string {
  return inject("databaseUrl");
}

export function openTestStore() {
  const url = testDatabaseUrl();
  const prisma = createPrisma(url);
  const pool = createPool(url);
  return {
    url,
    prisma,
    pool,
    close: async () => {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

/** Empties every application table (not _prisma_migrations), so a test file starts clean. */
export async function truncateAll(pool: ReturnType<typeof createPool>): Promise<void> {
  const { rows } = await pool.query<{ tablename: string }>(
    `SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'`,
  );
  if (rows.length) await pool.query(`TRUNCATE ${rows.map((r) => `"${r.tablename}"`).join(", ")} RESTART IDENTITY CASCADE`);
}

export async function rowCounts(pool: ReturnType<typeof createPool>, tables: string[]): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const t of tables) out[t] = Number((await pool.query(`SELECT count(*) AS n FROM "${t}"`)).rows[0].n);
  return out;
}
