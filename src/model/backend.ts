// Which TensorFlow.js backend runs the model. wasm is the default (fast matmul, installs offline);
// cpu is the pure-JS reference; webgpu runs on a GPU through Dawn (webgpu.ts); tensorflow is
// libtensorflow through @tensorflow/tfjs-node(-gpu), an optional install that needs network
// access, so it is imported only when asked for.
import { createRequire } from "node:module";
import path from "node:path";
import * as tf from "./tf.ts";
import { ModelError } from "./errors.ts";
import { type AdapterSummary, listAdapters, registerWebgpu, WEBGPU_INSTALL_HINT } from "./webgpu.ts";

export const BACKENDS = ["wasm", "cpu", "webgpu", "tensorflow"] as const;
export type BackendName = (typeof BACKENDS)[number];

export const TENSORFLOW_INSTALL_HINT =
  "Install it with `npm install @tensorflow/tfjs-node` (or @tensorflow/tfjs-node-gpu for CUDA 11.2 + cuDNN 8.1), " +
  "same major/minor version as @tensorflow/tfjs-core (4.22). Its install script downloads libtensorflow, so it needs network access.";

export function parseBackendName(name: string): BackendName {
  const n = name.trim().toLowerCase();
  if ((BACKENDS as readonly string[]).includes(n)) return n as BackendName;
  throw new ModelError("backend-unavailable", `unknown backend ${JSON.stringify(name)} (choose ${BACKENDS.join(", ")})`);
}

/** Explicit choice, else $KN_BACKEND, else wasm. */
export function defaultBackendName(): BackendName {
  const env = process.env.KN_BACKEND;
  return env ? parseBackendName(env) : "wasm";
}

let wasmRegistered = false;

async function registerWasm(): Promise<void> {
  if (wasmRegistered) return;
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  // In Node the .wasm binaries are read from disk: point at the package's dist/ folder wherever
  // the process was started from.
  const require = createRequire(import.meta.url);
  const dist = path.dirname(require.resolve("@tensorflow/tfjs-backend-wasm"));
  wasm.setWasmPaths(dist + path.sep);
  wasmRegistered = true;
}

async function registerTensorflow(): Promise<void> {
  // Module names are in variables so the type checker does not require the optional packages.
  const candidates = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"];
  const failures: string[] = [];
  for (const spec of candidates) {
    try {
      await import(spec);
      if (tf.findBackendFactory("tensorflow")) return;
      failures.push(`${spec} loaded but registered no "tensorflow" backend (a second copy of tfjs-core? versions must match)`);
    } catch (err) {
      failures.push(`${spec}: ${(err as Error).message.split("\n")[0]}`);
    }
  }
  throw new ModelError(
    "backend-unavailable",
    `the "tensorflow" backend is not installed.\n${TENSORFLOW_INSTALL_HINT}\n(${failures.join("; ")})`,
  );
}

/** Tail of the backend switches in progress: one at a time (two concurrent first loads raced). */
let switching: Promise<unknown> = Promise.resolve();

/** Makes `name` the process-wide tfjs backend (tfjs has one active backend per process). */
export function useBackend(name: BackendName | string = defaultBackendName()): Promise<BackendName> {
  const run = switching.then(() => switchBackend(name));
  switching = run.catch(() => undefined);
  return run;
}

async function switchBackend(name: BackendName | string): Promise<BackendName> {
  const backend = parseBackendName(name);
  if (tf.engine().backendName === backend) return backend;
  if (backend === "wasm") await registerWasm();
  else if (backend === "cpu") await import("@tensorflow/tfjs-backend-cpu");
  else if (backend === "webgpu") await registerWebgpu();
  else await registerTensorflow();
  const ok = await tf.setBackend(backend);
  if (!ok) throw new ModelError("backend-unavailable", `tfjs could not initialise the ${backend} backend`);
  await tf.ready();
  applyTfjsFlags();
  if (backend === "cpu") {
    // its one-time "install tfjs-node to speed things up" banner is noise for a backend chosen on purpose
    (tf.backend() as unknown as { firstUse?: boolean }).firstUse = false;
  }
  return backend;
}

/**
 * $KN_TFJS_FLAGS: tfjs environment flags for tuning, `NAME=value,...` (e.g.
 * `WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=64`): numbers and true/false are parsed, a flag tfjs does
 * not know is refused (tfjs reads such flags from the URL in a browser; Node has no other way).
 */
export function applyTfjsFlags(spec = process.env.KN_TFJS_FLAGS): void {
  for (const item of (spec ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
    const [name, raw] = item.split("=", 2);
    if (raw === undefined || !isRegistered(name)) {
      throw new ModelError("bad-input", `KN_TFJS_FLAGS: ${JSON.stringify(item)} is not NAME=value with a flag tfjs registered`);
    }
    tf.env().set(name, raw === "true" ? true : raw === "false" ? false : Number.isFinite(Number(raw)) ? Number(raw) : raw);
  }
}

function isRegistered(name: string): boolean {
  try {
    tf.env().get(name);
    return true;
  } catch {
    return false;
  }
}

/** Whether a dense layer's gradient needs its own pre-transposed weight copy (see dense.ts). */
export function prefersPretransposedWeights(backend: string = tf.engine().backendName): boolean {
  return backend === "wasm";
}

export interface BackendStatus {
  name: BackendName;
  available: boolean;
  /** What it runs on, or what to install. */
  detail: string;
  /** webgpu: the adapters Dawn sees, in the order KN_WEBGPU_ADAPTER indexes them. */
  adapters?: AdapterSummary[];
}

function installed(spec: string): boolean {
  try {
    createRequire(import.meta.url).resolve(spec);
    return true;
  } catch {
    return false;
  }
}

/** Which backends this machine can run, without initialising any (for `kn backends`). */
export async function backendStatuses(): Promise<BackendStatus[]> {
  let adapters: AdapterSummary[] = [];
  let webgpuProblem: string | undefined;
  try {
    adapters = await listAdapters();
    if (!adapters.length) webgpuProblem = `no adapter.\n${WEBGPU_INSTALL_HINT}`;
  } catch (err) {
    webgpuProblem = (err as Error).message;
  }
  const tensorflow = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"].find(installed);
  return [
    { name: "wasm", available: true, detail: "WebAssembly + XNNPACK on one CPU thread (the default)" },
    { name: "cpu", available: true, detail: "plain JavaScript (a slow reference)" },
    {
      name: "webgpu",
      available: !webgpuProblem,
      detail: webgpuProblem ?? "Dawn (npm webgpu) on the adapter below marked *; KN_WEBGPU_ADAPTER=<index|name> picks another",
      adapters,
    },
    { name: "tensorflow", available: !!tensorflow, detail: tensorflow ? `libtensorflow through ${tensorflow}` : `not installed. ${TENSORFLOW_INSTALL_HINT}` },
  ];
}
