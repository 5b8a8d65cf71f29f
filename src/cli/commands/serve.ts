import cluster from "node:cluster";
import type { Command } from "commander";
import type PgBoss from "pg-boss";
import { startEditPropagation } from "../../api/edit-propagation.ts";
import { ThreadModelHost } from "../../api/model-host-thread.ts";
import type { EditListener } from "../../store/edit-events.ts";
import { relationIndexes } from "../../store/relation-answers.ts";
import { startApiServer } from "../../api/server.ts";
import { type ExplorerBuild, ensureExplorerBuilt, explorerHandler } from "../../api/explorer.ts";
import { registerDemoModels } from "../checkpoints.ts";
import { type AppConfig, loadConfig } from "../../config.ts";
import { CliError } from "../errors.ts";
import { type StoreSession, openStore } from "../store-session.ts";
import { serveFromProcesses } from "../api-processes.ts";
import { type ServeExtras, lazyQueue, runBesideApi, untilStopSignal } from "../beside-api.ts";
import { version } from "../version.ts";

interface ApiProcess {
  url: string;
  stop(): Promise<void>;
}

/** The API of this process: model host, edit propagation, GraphQL and the explorer, relation indexes loading. */
async function startApiProcess(config: AppConfig, store: StoreSession, queue: () => Promise<PgBoss>, explorer: Promise<ExplorerBuild>): Promise<ApiProcess> {
  let modelHost: ThreadModelHost | undefined;
  let propagation: EditListener | undefined;
  let server;
  try {
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
  return {
    url: server.url,
    stop: async () => {
      await server.stop();
      await propagation.close();
      await modelHost.close();
    },
  };
}

/**
 * Serves GraphQL until SIGINT/SIGTERM, then closes the server and the database cleanly. With
 * config.apiProcesses > 1 the API runs in that many processes on one port (api-processes.ts).
 */
export async function serve(config: AppConfig, store: StoreSession, extras: ServeExtras = {}): Promise<void> {
  if (config.apiProcesses > 1) return serveFromProcesses(config, store, extras);
  const { queue, stop: stopQueue } = lazyQueue(store.url);
  // the explorer's bundle is (re)built beside start-up; until it is ready `/` says so and reloads
  const explorer = ensureExplorerBuilt();
  let api: ApiProcess;
  let demoModels: readonly { id: number; name: string }[];
  try {
    // an API process of several finds them registered by the primary (api-processes.ts)
    demoModels = cluster.isWorker ? [] : await registerDemoModels(store.prisma);
    api = await startApiProcess(config, store, queue, explorer);
  } catch (err) {
    await store.close();
    throw err;
  }
  if (cluster.isWorker) {
    // one of several API processes (api-processes.ts): the primary runs what is run once
    process.send?.({ apiReady: api.url });
    await untilStopSignal();
  } else {
    await runBesideApi(config, store, { url: api.url, processes: 1, explorer, demoModels }, queue, extras);
  }
  await api.stop();
  await stopQueue();
  await store.close();
  // the channel to the primary would keep an API process of several alive
  cluster.worker?.disconnect();
}

export function register(program: Command): void {
  program
    .command("serve")
    .description("Serve the GraphQL API on $PORT (default 4000); applies pending migrations first")
    .option("--port <port>", "port to listen on (overrides $PORT)")
    .option("--workers <n>", "queue worker processes to run beside the API (overrides $KN_WORKERS, default 1)")
    .option("--processes <n>", "API processes sharing the port, one event loop (core) each (overrides $KN_API_PROCESSES, default 1)")
    .action(async (flags: { port?: string; workers?: string; processes?: string }) => {
      const config = loadConfig();
      if (flags.workers !== undefined) {
        const n = Number(flags.workers);
        if (!Number.isInteger(n) || n < 0) throw new CliError(`invalid --workers ${JSON.stringify(flags.workers)}`);
        config.workers = n;
      }
      if (flags.processes !== undefined) {
        const n = Number(flags.processes);
        if (!Number.isInteger(n) || n < 1) throw new CliError(`invalid --processes ${JSON.stringify(flags.processes)}: a whole number >= 1`);
        config.apiProcesses = n;
      }
      if (flags.port !== undefined) {
        const port = Number(flags.port);
        if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliError(`invalid port ${JSON.stringify(flags.port)}`);
        config.port = port;
      }
      await serve(config, await openStore(config, { statementTimeout: true }));
    });
}
