// Environment configuration, read in one place so the README's table is the whole story.
import { join } from "node:path";
import { type ApiKey, parseApiKeys } from "./api/auth.ts";
import { DEFAULT_LIMITS, type QueryLimits } from "./api/limits.ts";

export const PROJECT_ROOT = join(import.meta.dirname, "..");

function intFromEnv(name: string, fallback: number, min = 1): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min} (got ${JSON.stringify(raw)})`);
  return n;
}

export interface AppConfig {
  /** External PostgreSQL; when absent an embedded server runs with its data under dataDir. */
  databaseUrl: string | undefined;
  dataDir: string;
  port: number;
  limits: QueryLimits;
  seedsDir: string;
  /** KN_API_KEYS: name:secret:read|write, comma-separated; mutations need a write key. */
  apiKeys: ApiKey[];
  /** Queue workers `kn serve` / `npm start` run beside the API (KN_WORKERS). */
  workers: number;
}

export function loadConfig(): AppConfig {
  return {
    databaseUrl: process.env.DATABASE_URL || undefined,
    dataDir: process.env.KN_DATA_DIR || join(PROJECT_ROOT, ".data"),
    port: intFromEnv("PORT", 4000, 0),
    limits: {
      maxDepth: intFromEnv("KN_MAX_DEPTH", DEFAULT_LIMITS.maxDepth),
      maxCost: intFromEnv("KN_MAX_COST", DEFAULT_LIMITS.maxCost),
    },
    seedsDir: join(PROJECT_ROOT, "seeds"),
    apiKeys: parseApiKeys(process.env.KN_API_KEYS),
    workers: intFromEnv("KN_WORKERS", 1, 0),
  };
}
