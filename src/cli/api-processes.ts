// kn serve --processes N (KN_API_PROCESSES): N API processes on one port, for a host with more cores
// than one Node event loop can use (every request costs an API process ~0.4 ms of CPU before its own
// work: README "Benchmark: 100 million rows"). node:cluster's primary accepts the connections and
// hands each to the next API process in turn. Each API process is `kn serve` with one process on the
// primary's database (an embedded PostgreSQL belongs to the primary), with its own pools, model host,
// caches and relation indexes; what they must share already goes through PostgreSQL, as between
// replicas on separate machines (edits by LISTEN/NOTIFY, compute budgets, the catalog caches'
// notifications). The primary runs what runs once (the explorer's build, the queue workers, the
// first-start indexing) and replaces an API process that dies.
import cluster, { type Worker } from "node:cluster";
import { join } from "node:path";
import { ensureExplorerBuilt } from "../api/explorer.ts";
import { type AppConfig, PROJECT_ROOT } from "../config.ts";
import { type ServeExtras, lazyQueue, runBesideApi, stopChildren } from "./beside-api.ts";
import { registerDemoModels } from "./checkpoints.ts";
import { CliError } from "./errors.ts";
import type { StoreSession } from "./store-session.ts";

/** How long to wait before replacing an API process that died, so that a crash loop does not spin. */
const RESTART_DELAY_MS = 1000;

const isReady = (m: unknown): m is { apiReady: string } => typeof m === "object" && m !== null && typeof (m as { apiReady?: unknown }).apiReady === "string";

export async function serveFromProcesses(config: AppConfig, store: StoreSession, extras: ServeExtras): Promise<void> {
  const { queue, stop: stopQueue } = lazyQueue(store.url);
  let stopping = false;
  const stopAll = () => stopChildren(Object.values(cluster.workers ?? {}).flatMap((w) => (w ? [w.process] : [])));
  /** An API process; resolves with its process id and URL once it listens, rejects if it exits first. */
  const start = (): Promise<{ pid: number; url: string }> => {
    const worker: Worker = cluster.fork({ DATABASE_URL: store.url });
    return new Promise((resolve, reject) => {
      worker.on("message", (m: unknown) => isReady(m) && resolve({ pid: worker.process.pid!, url: m.apiReady }));
      worker.once("exit", (code, signal) => reject(new CliError(`API process ${worker.process.pid} exited before it listened (${signal ?? `exit code ${code}`})`)));
    });
  };
  let url: string;
  let demoModels: Awaited<ReturnType<typeof registerDemoModels>>;
  // built once, before the API processes look for it (each would otherwise build it too)
  const explorer = ensureExplorerBuilt();
  try {
    await explorer.catch(() => undefined); // runBesideApi reports a failed build
    demoModels = await registerDemoModels(store.prisma);
    cluster.setupPrimary({
      exec: join(PROJECT_ROOT, "src/cli/main.ts"),
      execArgv: ["--import", "tsx"],
      args: ["serve", "--port", String(config.port), "--workers", "0", "--processes", "1"],
    });
    [{ url }] = await Promise.all(Array.from({ length: config.apiProcesses }, start));
  } catch (err) {
    stopping = true;
    await stopAll();
    await store.close();
    throw err;
  }
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    process.stderr.write(`API process ${worker.process.pid} exited (${signal ?? `exit code ${code}`}); starting another\n`);
    setTimeout(() => {
      if (!stopping) start().then(({ pid }) => process.stderr.write(`API process ${pid} listening in its place\n`), (err: Error) => process.stderr.write(`${err.message}\n`));
    }, RESTART_DELAY_MS);
  });
  await runBesideApi(config, store, { url, processes: config.apiProcesses, explorer, demoModels }, queue, extras);
  stopping = true;
  await stopAll();
  await stopQueue();
  await store.close();
}
