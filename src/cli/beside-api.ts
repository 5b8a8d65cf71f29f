// What a server runs beside its API process(es), once whatever their number (kn serve, npm start;
// serve.ts with one API process, api-processes.ts with several): the queue workers, the first-start
// indexing, the queue the mutations use, and the shutdown at SIGINT/SIGTERM.
import type { ChildProcess } from "node:child_process";
import type PgBoss from "pg-boss";
import type { ExplorerBuild } from "../api/explorer.ts";
import type { AppConfig } from "../config.ts";
import { startQueue } from "../indexer/queue.ts";
import { spawnWorkers } from "./spawn-workers.ts";
import type { StoreSession } from "./store-session.ts";

export interface ServeExtras {
  /** Runs once the API listens (npm start: queue the demo models' first-start indexing). */
  onListening?: (deps: { queue: () => Promise<PgBoss>; demoModels: readonly { id: number; name: string }[] }) => Promise<void>;
}

/** Resolves at the first SIGINT or SIGTERM, saying which. */
export function untilStopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      process.stderr.write(`${signal}: shutting down\n`);
      resolve();
    };
    process.once("SIGINT", () => shutdown("SIGINT"));
    process.once("SIGTERM", () => shutdown("SIGTERM"));
  });
}

/** Sends SIGTERM to each child process and resolves once all have exited. */
export async function stopChildren(children: readonly ChildProcess[]): Promise<void> {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM");
  await Promise.all(children.map((c) => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(null) : c.once("exit", resolve)))));
}

/**
 * What a server runs once, beside its API process(es), until SIGINT/SIGTERM: the queue workers and
 * the first-start indexing (npm start); then stops the workers.
 */
export async function runBesideApi(
  config: AppConfig,
  store: StoreSession,
  api: { url: string; processes: number; explorer: Promise<ExplorerBuild>; demoModels: readonly { id: number; name: string }[] },
  queue: () => Promise<PgBoss>,
  extras: ServeExtras,
): Promise<void> {
  // Attribution is CPU-bound and synchronous: workers run in their own processes, not in the API's.
  const workers = spawnWorkers(config.workers, store.url, { exitWhenIdle: false });
  if (!config.apiKeys.length) process.stderr.write("no KN_API_KEYS: queries only, mutations are refused\n");
  const explorerUrl = new URL("/", api.url).href;
  process.stderr.write(`open ${explorerUrl} in a browser (the explorer)\n`);
  const processes = api.processes > 1 ? `${api.processes} API processes, ` : "";
  process.stderr.write(`GraphQL ready at ${api.url} (${processes}${workers.length} queue worker${workers.length === 1 ? "" : "s"})\n`);
  api.explorer.then(
    (b) => process.stderr.write(`Explorer ready at ${explorerUrl}${b.built ? ` (bundle built in ${b.seconds.toFixed(1)} s)` : ""}\n`),
    (error: unknown) => process.stderr.write(`explorer: the bundle could not be built: ${error instanceof Error ? error.message : String(error)}\n`),
  );
  const stopped = untilStopSignal();
  // after the signal handlers: a Ctrl-C during first-start queueing still shuts down cleanly
  const listening = extras.onListening?.({ queue, demoModels: api.demoModels }).catch((err: unknown) => process.stderr.write(`first-start indexing: ${(err as Error).message}\n`));
  await stopped;
  await listening;
  await stopChildren(workers);
}

/** A lazily started queue, stopped with `stop` if it was. */
export function lazyQueue(url: string): { queue: () => Promise<PgBoss>; stop(): Promise<void> } {
  let boss: Promise<PgBoss> | undefined;
  return {
    queue: () => (boss ??= startQueue(url)),
    stop: async () => {
      if (boss) await (await boss).stop({ graceful: false, wait: true }).catch(() => undefined);
    },
  };
}

