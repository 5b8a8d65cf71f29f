// Database clients: the Prisma client (through @prisma/adapter-pg, no query-engine binary) for
// ordinary reads and writes, and a plain pg.Pool for bulk SQL (INSERT ... SELECT FROM unnest(...),
// COPY FROM STDIN through pg-copy-streams), where the Prisma client is an order of magnitude slower.
import { createHash } from "node:crypto";
import pg from "pg";
import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/client.ts";

export type { PrismaClient } from "./generated/client.ts";

/**
 * Bounds on waiting for the database, so a lost server gives an error instead of a hang: opening
 * a connection (pg's default is to wait forever) and, where set, one statement.
 */
export interface DatabaseTimeouts {
  connectTimeoutMs: number;
  /** 0: no limit (batch jobs); the API sets one (KN_DB_STATEMENT_TIMEOUT_MS). */
  statementTimeoutMs: number;
}

export const DEFAULT_DATABASE_TIMEOUTS: DatabaseTimeouts = { connectTimeoutMs: 5_000, statementTimeoutMs: 30_000 };

/** Connections of each of a process's pools (Prisma's, the bulk-SQL pool and its named-statement connections), KN_DB_POOL_SIZE. */
export const DEFAULT_POOL_SIZE = 10;

/** A statement the server has cancelled still needs its answer to come back: this much longer. */
const QUERY_TIMEOUT_MARGIN_MS = 2_000;

/**
 * pg connection settings for these timeouts. The statement timeout is enforced by the server;
 * query_timeout is its client-side twin for a server that no longer answers at all (network cut):
 * the query fails and its connection is dropped from the pool. TCP keep-alive finds dead idle
 * connections.
 */
function connectionSettings(timeouts: Partial<DatabaseTimeouts> = {}): pg.PoolConfig {
  return {
    connectionTimeoutMillis: timeouts.connectTimeoutMs ?? DEFAULT_DATABASE_TIMEOUTS.connectTimeoutMs,
    keepAlive: true,
    ...(timeouts.statementTimeoutMs
      ? { statement_timeout: timeouts.statementTimeoutMs, query_timeout: timeouts.statementTimeoutMs + QUERY_TIMEOUT_MARGIN_MS }
      : {}),
  };
}

export interface CreatePrismaOptions {
  /** Pool size of the adapter (pg default: 10). */
  max?: number;
  /** Log the SQL the client sends (console). */
  logQueries?: boolean;
  timeouts?: Partial<DatabaseTimeouts>;
}

/** A Prisma client connected to url. Call $disconnect() when done. */
export function createPrisma(url: string, options: CreatePrismaOptions = {}): PrismaClient {
  const adapter = new PrismaPg({ connectionString: url, ...connectionSettings(options.timeouts), ...(options.max ? { max: options.max } : {}) });
  return new PrismaClient({ adapter, ...(options.logQueries ? { log: ["query" as const] } : {}) });
}

export interface CreatePoolOptions {
  max?: number;
  /** Application name shown in pg_stat_activity. */
  applicationName?: string;
  timeouts?: Partial<DatabaseTimeouts>;
  /**
   * Run named statements (named()) on connections that plan each of them once (default true);
   * false leaves the choice to PostgreSQL's default plan cache, for comparison (bench:store --plans).
   */
  genericPlans?: boolean;
}

/**
 * A pg.Pool for bulk SQL. Idle-client errors (server restart, terminated backend) are logged
 * instead of crashing the process. Call end() when done.
 */
export function createPool(url: string, options: CreatePoolOptions = {}): pg.Pool {
  const config = (connectionString: string): pg.PoolConfig => ({
    connectionString,
    max: options.max ?? DEFAULT_POOL_SIZE,
    application_name: options.applicationName ?? "knowledge-neuron-db",
    ...connectionSettings(options.timeouts),
  });
  const pool = logIdleClientErrors(new pg.Pool(config(url)));
  if (options.genericPlans ?? true) routeNamedStatements(pool, logIdleClientErrors(new pg.Pool(config(withStartupOption(url, GENERIC_PLANS)))));
  return pool;
}

function logIdleClientErrors(pool: pg.Pool): pg.Pool {
  pool.on("error", (error) => {
    console.error(`postgres pool: idle client error: ${error.message}`);
  });
  return pool;
}

/**
 * Why named statements get connections of their own: PostgreSQL's plan cache keeps planning a
 * prepared statement anew on every execution while the generic plan's estimated cost exceeds the
 * custom plans', and over a partitioned table it always does (a generic plan cannot prune
 * partitions at planning time, so its estimate counts them all; it prunes them when it starts
 * executing). Planning was then 80 % of PostgreSQL's CPU for a fact's knowledge neurons at 100 M
 * rows (1.2 of 1.5 ms per call; 0.3 ms in all with the plan kept: README, "Generic plans").
 * `force_generic_plan` is set only on these connections, where every statement is a fixed read
 * query, not on the ones that run the writers' unnamed statements.
 */
const GENERIC_PLANS = "-c plan_cache_mode=force_generic_plan";

/** url with a server setting added to its `options` parameter (a connection string's own options win over pg's config field). */
function withStartupOption(url: string, option: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("options", [parsed.searchParams.get("options"), option].filter(Boolean).join(" "));
  return parsed.toString();
}

type QueryFn = (...args: unknown[]) => unknown;

/** pool.query(named(...)) runs on `planned`; everything else (and pool.connect()) on pool itself; pool.end() ends both. */
function routeNamedStatements(pool: pg.Pool, planned: pg.Pool): void {
  const query = pool.query.bind(pool) as QueryFn;
  const plannedQuery = planned.query.bind(planned) as QueryFn;
  const isNamed = (config: unknown) => typeof config === "object" && config !== null && typeof (config as pg.QueryConfig).name === "string";
  (pool as unknown as { query: QueryFn }).query = (...args: unknown[]) => (isNamed(args[0]) ? plannedQuery(...args) : query(...args));
  const end = pool.end.bind(pool);
  pool.end = (async () => {
    await Promise.all([end(), planned.end()]);
  }) as typeof pool.end;
}

/**
 * Runs fn with one client of the pool. A checked-out client has no error listener of the pool's:
 * a connection lost between two statements would be an uncaught 'error' event (a crash), so one
 * is attached here, and a broken client is released with its error so the pool discards it.
 */
export async function withPoolClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient, lost: () => Error | undefined) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let lost: Error | undefined;
  const onError = (error: Error) => (lost ??= error);
  client.on("error", onError);
  try {
    return await fn(client, () => lost);
  } finally {
    client.off("error", onError);
    client.release(lost);
  }
}

/** Runs fn inside a transaction on one client of the pool (BEGIN / COMMIT, ROLLBACK on error). */
export function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return withPoolClient(pool, async (client, lost) => {
    try {
      await client.query("BEGIN");
      const result = await fn(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      if (!lost()) await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    }
  });
}

/** Whether the database answers `SELECT 1` within timeoutMs (a lost server must not hang a health check). */
export async function databaseReachable(pool: pg.Pool, timeoutMs = 2_000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
  try {
    return await Promise.race([pool.query("SELECT 1").then(() => true, () => false), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const statementNames = new Map<string, string>();

/**
 * A query as a named (prepared) statement, the name derived from its text: each connection
 * prepares it once and, sent through a pool from createPool, plans it once (GENERIC_PLANS),
 * instead of parsing and planning it on every request. For the API's read queries, whose texts
 * are few and fixed.
 */
export function named(text: string, values: readonly unknown[]): pg.QueryConfig {
  let name = statementNames.get(text);
  if (name === undefined) {
    name = `kn_${createHash("sha1").update(text).digest("hex").slice(0, 24)}`;
    statementNames.set(text, name);
  }
  return { name, text, values: values as unknown[] };
}

