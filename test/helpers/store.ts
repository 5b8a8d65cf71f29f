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

/**
 * A fingerprint of every row of every application table and of the queued jobs: md5 over the rows'
 * text in a fixed order. Equal fingerprints before and after mean nothing stored changed. The
 * compute-budget buckets are left out: they are the rate limiter's state, which any request that
 * runs model work changes by design (test/api-hostile-input.test.ts tests them on their own).
 */
export async function tableChecksums(pool: ReturnType<typeof createPool>): Promise<Record<string, string>> {
  const { rows: tables } = await pool.query<{ name: string }>(
    `SELECT format('%I.%I', schemaname, tablename) AS name FROM pg_tables
     WHERE (schemaname = 'public' AND tablename NOT IN ('_prisma_migrations', 'compute_budget')) OR (schemaname = 'pgboss' AND tablename = 'job') ORDER BY 1`,
  );
  const out: Record<string, string> = {};
  for (const { name } of tables) {
    const { rows } = await pool.query<{ n: string; md5: string | null }>(`SELECT count(*) AS n, md5(string_agg(t::text, '|' ORDER BY t::text)) AS md5 FROM ${name} t`);
    out[name] = `${rows[0].n}:${rows[0].md5 ?? "-"}`;
  }
  return out;
}
