// Opens the database for one CLI command: the configured DATABASE_URL or the embedded server,
// with pending migrations applied, and closes everything afterwards (also on Ctrl-C).
import { join } from "node:path";
import type { Pool } from "pg";
import type { AppConfig } from "../config.ts";
import { createPool, createPrisma } from "../store/client.ts";
import { type ResolvedDatabase, resolveDatabase } from "../store/database.ts";
import type { PrismaClient } from "../store/generated/client.ts";
import { applyMigrations } from "../store/migrate.ts";

const embeddedDataDir = (config: AppConfig) => join(config.dataDir, "postgres");

/** DATABASE_URL when configured, else the embedded server with its data under KN_DATA_DIR. */
export function openDatabase(config: AppConfig): Promise<ResolvedDatabase> {
  return resolveDatabase({
    env: config.databaseUrl ? { DATABASE_URL: config.databaseUrl } : {},
    embedded: { dataDir: embeddedDataDir(config) },
  });
}

export interface StoreSession {
  url: string;
  prisma: PrismaClient;
  pool: Pool;
  close(): Promise<void>;
}

export interface OpenStoreOptions {
  log?: (line: string) => void;
  /** Bound every statement by KN_DB_STATEMENT_TIMEOUT_MS (the API); batch commands run unbounded. */
  statementTimeout?: boolean;
}

export async function openStore(config: AppConfig, options: OpenStoreOptions = {}): Promise<StoreSession> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const database = await openDatabase(config);
  if (database.source === "embedded") log(`embedded PostgreSQL running (data in ${embeddedDataDir(config)})`);
  let applied: string[];
  try {
    applied = await applyMigrations(database.url);
  } catch (err) {
    await database.stop();
    throw err;
  }
  if (applied.length) log(`applied migrations: ${applied.join(", ")}`);
  const { poolSize, ...limits } = config.database;
  const timeouts = { ...limits, statementTimeoutMs: options.statementTimeout ? limits.statementTimeoutMs : 0 };
  const prisma = createPrisma(database.url, { timeouts, max: poolSize });
  const pool = createPool(database.url, { timeouts, max: poolSize });
  let closed = false;
  return {
    url: database.url,
    prisma,
    pool,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.allSettled([prisma.$disconnect(), pool.end()]);
      await database.stop();
    },
  };
}

export async function withStore<T>(config: AppConfig, work: (store: StoreSession) => Promise<T>): Promise<T> {
  const store = await openStore(config);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}
