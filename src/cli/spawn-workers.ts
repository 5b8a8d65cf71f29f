import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { PROJECT_ROOT } from "../config.ts";

/** Extra worker processes: wasm runs single-threaded, so parallelism needs processes. */
export function spawnWorkers(count: number, databaseUrl: string, flags: { batch?: string; backend?: string; rowBudget?: string; exitWhenIdle?: boolean }): ChildProcess[] {
  return Array.from({ length: count }, () =>
    spawn(
      process.execPath,
      ["--import", "tsx", join(PROJECT_ROOT, "src/cli/main.ts"), "worker", ...(flags.exitWhenIdle === false ? [] : ["--exit-when-idle"]), "--batch", flags.batch ?? "4", ...(flags.backend ? ["--backend", flags.backend] : []), ...(flags.rowBudget ? ["--row-budget", flags.rowBudget] : [])],
      { env: { ...process.env, DATABASE_URL: databaseUrl }, stdio: ["ignore", "ignore", "inherit"] },
    ),
  );
}

