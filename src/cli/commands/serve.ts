import type { Command } from "commander";
import type PgBoss from "pg-boss";
import { startEditPropagation } from "../../api/edit-propagation.ts";
import { ThreadModelHost } from "../../api/model-host-thread.ts";
import type { EditListener } from "../../store/edit-events.ts";
import { relationIndexes } from "../../store/relation-answers.ts";
import { startApiServer } from "../../api/server.ts";
import { ensureExplorerBuilt, explorerHandler } from "../../api/explorer.ts";
import { startQueue } from "../../indexer/queue.ts";
import { registerDemoModels } from "../checkpoints.ts";
import { spawnWorkers } from "../spawn-workers.ts";
import { type AppConfig, loadConfig } from "../../config.ts";
import { CliError } from "../errors.ts";
import { type StoreSession, openStore } from "../store-session.ts";
import { version } from "../version.ts";

export interface ServeExtras {
  /** Runs once the API listens (npm start: queue the demo models' first-start indexing). */
  onListening?: (deps: { queue: () => Promise<PgBoss>; demoModels: readonly { id: number; name: string }[] }) => Promise<void>;
}

/** Serves GraphQL until SIGINT/SIGTERM, then closes the server and the database cleanly. */
export async function serve(config: AppConfig, store: StoreSession, extras: ServeExtras = {}): Promise<void> {
  let server;
  let modelHost: ThreadModelHost | undefined;
  let propagation: EditListener | undefined;
  const started: { boss?: Promise<PgBoss> } = {};
  const queue = () => (started.boss ??= startQueue(store.url));
  // the explorer's bundle is (re)built beside start-up; until it is ready `/` says so and reloads
  const explorer = ensureExplorerBuilt();
  let demoModels: readonly { id: number; name: string }[] = [];
  try {
    demoModels = await registerDemoModels(store.prisma);
    // All model work runs in the model host's worker thread, never on the API's event loop.
    // Models with ACTIVE edits are loaded now, edits re-applied, so answers after a restart match.
    modelHost = new ThreadModelHost(store.url);
    await modelHost.restoreActiveEdits();
    // edits applied or reverted through other API replicas reach this one's models
    propagation = startEditPropagation(store.url, modelHost, { connectTimeoutMs: config.database.connectTimeoutMs });
    server = await startApiServer(
      { prisma: store.prisma, pool: store.pool, version, apiKeys: config.apiKeys, queue, modelHost },
      { port: config.port, limits: config.limits, http: config.http, budgets: config.budgets, exposeErrors: config.exposeErrors, fallback: explorerHandler(explorer) },
    );
  } catch (err) {
    await propagation?.close();
    await modelHost?.close();
    await store.close();
    if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") throw new CliError(`port ${config.port} is already in use (set PORT)`);
    throw err;
  }
  // LIKN of a relation and the overlap matrix answer from per-relation indexes: load them now, beside
  // the first requests, rather than inside each relation's first ask
  const warmStart = Date.now();
  relationIndexes(store.pool).warm().then(
    (r) => process.stderr.write(`relation indexes: ${r.loaded} loaded (${(r.bytes / 2 ** 20).toFixed(1)} MiB) in ${((Date.now() - warmStart) / 1000).toFixed(1)} s\n`),
    (error: unknown) => process.stderr.write(`relation indexes: not loaded ahead (${error instanceof Error ? error.message : String(error)}); each loads on its first ask\n`),
  );
  // Attribution is CPU-bound and synchronous: workers run in their own processes, not in the API's.
  const workers = spawnWorkers(config.workers, store.url, { exitWhenIdle: false });
  if (!config.apiKeys.length) process.stderr.write("no KN_API_KEYS: queries only, mutations are refused\n");
  const explorerUrl = new URL("/", server.url).href;
  process.stderr.write(`open ${explorerUrl} in a browser (the explorer)\n`);
  process.stderr.write(`GraphQL ready at ${server.url} (${workers.length} queue worker${workers.length === 1 ? "" : "s"})\n`);
  explorer.then(
    (b) => process.stderr.write(`Explorer ready at ${explorerUrl}${b.built ? ` (bundle built in ${b.seconds.toFixed(1)} s)` : ""}\n`),
    (error: unknown) => process.stderr.write(`explorer: the bundle could not be built: ${error instanceof Error ? error.message : String(error)}\n`),
  );
  const stopped = new Promise<void>((resolve) => {
    const shutdown = (signal: string) => {
      process.stderr.write(`${signal}: shutting down\n`);
      resolve();
    };
    process.once("SIGINT", () => shutdown("SIGINT"));
    process.once("SIGTERM", () => shutdown("SIGTERM"));
  });
  // after the signal handlers: a Ctrl-C during first-start queueing still shuts down cleanly
  const listening = extras.onListening?.({ queue, demoModels }).catch((err: unknown) => process.stderr.write(`first-start indexing: ${(err as Error).message}\n`));
  await stopped;
  await listening;
  for (const w of workers) w.kill("SIGTERM");
  await Promise.all(workers.map((w) => new Promise((resolve) => (w.exitCode !== null ? resolve(null) : w.once("exit", resolve)))));
  await server.stop();
  await propagation?.close();
  await modelHost!.close();
  if (started.boss) await (await started.boss).stop({ graceful: false, wait: true }).catch(() => undefined);
  await store.close();
}

export function register(program: Command): void {
  program
    .command("serve")
    .description("Serve the GraphQL API on $PORT (default 4000); applies pending migrations first")
    .option("--port <port>", "port to listen on (overrides $PORT)")
    .option("--workers <n>", "queue worker processes to run beside the API (overrides $KN_WORKERS, default 1)")
    .action(async (flags: { port?: string; workers?: string }) => {
      const config = loadConfig();
      if (flags.workers !== undefined) {
        const n = Number(flags.workers);
        if (!Number.isInteger(n) || n < 0) throw new CliError(`invalid --workers ${JSON.stringify(flags.workers)}`);
        config.workers = n;
      }
      if (flags.port !== undefined) {
        const port = Number(flags.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`invalid port ${JSON.stringify(flags.port)}`);
        config.port = port;
      }
      await serve(config, await openStore(config, { statementTimeout: true }));
    });
}
