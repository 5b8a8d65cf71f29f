// A lost database (server restarted, network cut, failover) is not an error of the work being
// done: long-running processes wait for it and carry on, the API answers "unavailable, retry".
// This module says which errors mean "the database cannot be reached" and retries work across
// such an outage, for a bounded time.

const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EPIPE", "EAI_AGAIN"]);
// SQLSTATE 08xxx: connection exceptions; 57P01-03: the server is shutting down or starting up.
const SQLSTATE = /^(08...|57P0[123])$/;
// @prisma/adapter-pg's names for socket errors.
const ADAPTER_KINDS = new Set(["DatabaseNotReachable", "ConnectionClosed", "SocketTimeout", "TooManyConnections"]);
// pg reports some losses only in words.
const MESSAGES = /Connection terminated|timeout exceeded when trying to connect|connection error and is not queryable|Client was closed and is not queryable|terminating connection due to administrator command|the database system is (starting up|shutting down|in recovery mode)|Query read timeout/i;
// Prisma's codes for "cannot reach / lost the server" and "timed out waiting for a connection".
const PRISMA_CODES = new Set(["P1001", "P1002", "P1017", "P2024"]);

/** Whether an error (or anything in its cause chain) says the database cannot be reached. */
export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length) {
    const e = queue.shift();
    if (!e || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    const x = e as { code?: unknown; kind?: unknown; message?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown; meta?: { driverAdapterError?: unknown } };
    if (typeof x.code === "string" && (SOCKET_CODES.has(x.code) || SQLSTATE.test(x.code) || PRISMA_CODES.has(x.code))) return true;
    if (typeof x.kind === "string" && ADAPTER_KINDS.has(x.kind)) return true;
    if (typeof x.message === "string" && MESSAGES.test(x.message)) return true;
    queue.push(x.cause, x.originalError, x.meta?.driverAdapterError, ...(Array.isArray(x.errors) ? x.errors : []));
  }
  return false;
}

export interface OutageOptions {
  /** Longest outage waited out before giving up (the error is thrown then). */
  maxWaitMs: number;
  /** Stops waiting (the error is thrown) when aborted. */
  signal?: AbortSignal;
  log?: (line: string) => void;
}

/** KN_DB_RETRY_SECONDS, default 600: how long workers wait for a lost database. */
export function outageWaitFromEnv(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.KN_DB_RETRY_SECONDS;
  const seconds = raw === undefined || raw === "" ? 600 : Number(raw);
  if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`KN_DB_RETRY_SECONDS must be a number of seconds >= 0 (got ${JSON.stringify(raw)})`);
  return seconds * 1000;
}

const FIRST_DELAY_MS = 250;
const MAX_DELAY_MS = 5_000;

/**
 * Runs `work`; while it fails because the database is unreachable, waits (250 ms, doubling up to
 * 5 s) and runs it again, for at most maxWaitMs. Only for idempotent work: a failure at COMMIT may
 * have committed, so the retry must store nothing twice (upserts, ON CONFLICT, status guards).
 */
export async function retryWhileUnavailable<T>(what: string, work: () => Promise<T>, options: OutageOptions): Promise<T> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  let since: number | null = null;
  let delay = FIRST_DELAY_MS;
  for (;;) {
    try {
      const result = await work();
      if (since !== null) log(`database reachable again after ${((Date.now() - since) / 1000).toFixed(1)} s (${what})`);
      return result;
    } catch (error) {
      if (!isDatabaseUnavailable(error) || options.signal?.aborted) throw error;
      since ??= Date.now();
      if (Date.now() - since + delay > options.maxWaitMs) throw error;
      if (delay === FIRST_DELAY_MS) log(`database unavailable (${what}: ${(error as Error).message}); retrying for up to ${Math.round(options.maxWaitMs / 1000)} s`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }
}
