// Environment configuration, read in one place so the README's table is the whole story.
import { join } from "node:path";
import { ConfigError } from "./config-error.ts";
import { type ApiKey, parseApiKeys } from "./api/auth.ts";
import { type ComputeBudgets, DEFAULT_BUDGETS } from "./api/compute-budget.ts";
import { DEFAULT_HTTP_OPTIONS, type HttpOptions } from "./api/http.ts";
import { DEFAULT_LIMITS, type QueryLimits } from "./api/limits.ts";
import { DEFAULT_DATABASE_TIMEOUTS, DEFAULT_POOL_SIZE, type DatabaseTimeouts } from "./store/client.ts";

export const PROJECT_ROOT = join(import.meta.dirname, "..");

type Env = NodeJS.ProcessEnv;

function intFromEnv(env: Env, name: string, fallback: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new ConfigError(`${name} must be an integer >= ${min} (got ${JSON.stringify(raw)})`);
  return n;
}

function boolFromEnv(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === "") return fallback;
  if (["1", "true", "yes", "on"].includes(raw)) return true;
  if (["0", "false", "no", "off"].includes(raw)) return false;
  throw new ConfigError(`${name} must be 1 or 0 (got ${JSON.stringify(env[name])})`);
}

function originsFromEnv(env: Env, name: string): string[] {
  const list = (env[name] ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  for (const origin of list) {
    if (origin === "*") continue;
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      // reported below
    }
    // an origin is scheme://host[:port], exactly what browsers send in the Origin header
    if (!parsed || parsed.origin !== origin) throw new ConfigError(`${name}: ${JSON.stringify(origin)} is not an origin such as https://explorer.example.org`);
  }
  return list;
}

export interface AppConfig {
  /** External PostgreSQL; when absent an embedded server runs with its data under dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
  port: number;
  limits: QueryLimits;
  http: HttpOptions;
  budgets: ComputeBudgets;
  /** Stack traces and internal error messages in answers (development only). */
  exposeErrors: boolean;
  database: DatabaseTimeouts & { poolSize: number };
  seedsDir: string;
  /** KN_API_KEYS: name:secret:read|write, comma-separated; mutations need a write key. */
  apiKeys: ApiKey[];
  /** Queue workers `kn serve` / `npm start` run beside the API (KN_WORKERS). */
  workers: number;
  /** API processes sharing the port, one event loop each (KN_API_PROCESSES; src/cli/api-processes.ts). */
  apiProcesses: number;
}

export function loadConfig(env: Env = process.env): AppConfig {
  return {
    databaseUrl: env.DATABASE_URL || undefined,
    dataDir: env.KN_DATA_DIR || join(PROJECT_ROOT, ".data"),
    port: intFromEnv(env, "PORT", 4000, 0),
    limits: {
      maxDepth: intFromEnv(env, "KN_MAX_DEPTH", DEFAULT_LIMITS.maxDepth),
      maxCost: intFromEnv(env, "KN_MAX_COST", DEFAULT_LIMITS.maxCost),
      maxStringLength: intFromEnv(env, "KN_MAX_STRING_LENGTH", DEFAULT_LIMITS.maxStringLength),
    },
    http: {
      maxBodyBytes: intFromEnv(env, "KN_MAX_BODY_BYTES", DEFAULT_HTTP_OPTIONS.maxBodyBytes),
      maxBatch: intFromEnv(env, "KN_MAX_BATCH", DEFAULT_HTTP_OPTIONS.maxBatch),
      corsOrigins: originsFromEnv(env, "KN_CORS_ORIGINS"),
      trustProxy: boolFromEnv(env, "KN_TRUST_PROXY", DEFAULT_HTTP_OPTIONS.trustProxy),
    },
    budgets: {
      perKey: intFromEnv(env, "KN_RATE_LIMIT", DEFAULT_BUDGETS.perKey, 0),
      anonymous: intFromEnv(env, "KN_RATE_LIMIT_ANONYMOUS", DEFAULT_BUDGETS.anonymous, 0),
      windowSeconds: intFromEnv(env, "KN_RATE_WINDOW_SECONDS", DEFAULT_BUDGETS.windowSeconds),
    },
    exposeErrors: boolFromEnv(env, "KN_EXPOSE_ERRORS", env.NODE_ENV === "development"),
    database: {
      connectTimeoutMs: intFromEnv(env, "KN_DB_CONNECT_TIMEOUT_MS", DEFAULT_DATABASE_TIMEOUTS.connectTimeoutMs),
      statementTimeoutMs: intFromEnv(env, "KN_DB_STATEMENT_TIMEOUT_MS", DEFAULT_DATABASE_TIMEOUTS.statementTimeoutMs, 0),
      poolSize: intFromEnv(env, "KN_DB_POOL_SIZE", DEFAULT_POOL_SIZE),
    },
    seedsDir: join(PROJECT_ROOT, "seeds"),
    apiKeys: parseApiKeys(env.KN_API_KEYS),
    workers: intFromEnv(env, "KN_WORKERS", 1, 0),
    apiProcesses: intFromEnv(env, "KN_API_PROCESSES", 1),
  };
}
