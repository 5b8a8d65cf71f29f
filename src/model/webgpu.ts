// The WebGPU backend: @tensorflow/tfjs-backend-webgpu on Dawn (npm package `webgpu`, dawn.node).
// This module finds the adapters Dawn sees, picks one (discrete GPU, then integrated, then a
// software one, or $KN_WEBGPU_ADAPTER), opens a device with the adapter's largest limits (so big
// embedding tables fit) and registers tfjs's "webgpu" backend on it. It also watches the device:
// a lost device or an uncaptured GPU error (a validation error leaves a result silently unwritten)
// is remembered and turned into an error at the next read-back, never into wrong numbers.
import { execFileSync } from "node:child_process";
import os from "node:os";
import * as tf from "./tf.ts";
import { ModelError } from "./errors.ts";

export type AdapterType = "discrete" | "integrated" | "cpu" | "unknown";

/** What `kn backends` shows of an adapter. */
export interface AdapterSummary {
  /** Position in Dawn's adapter list (what KN_WEBGPU_ADAPTER=<index> picks). */
  index: number;
  name: string;
  /** Dawn's API backend: vulkan, metal, d3d12, opengl, ... */
  api: string;
  type: AdapterType;
  vendor: string;
  architecture: string;
  description: string;
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
}

export const WEBGPU_INSTALL_HINT = [
  "The webgpu backend needs a Vulkan driver that Dawn accepts:",
  "  - an NVIDIA GPU: the NVIDIA driver (its Vulkan ICD, nvidia_icd.json) and the Vulkan loader (apt-get install libvulkan1);",
  "    if the loader does not find the ICD, export VK_DRIVER_FILES=<path>/nvidia_icd.json",
  "  - AMD or Intel GPUs: apt-get install libvulkan1 mesa-vulkan-drivers",
  "  - no GPU (software rendering, for tests): Mesa 25's lavapipe from bookworm-backports (Mesa 22 is refused by Dawn):",
  '      echo "deb http://deb.debian.org/debian bookworm-backports main" >/etc/apt/sources.list.d/backports.list',
  "      apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers",
  "`kn backends` lists the adapters Dawn sees.",
].join("\n");

// ---- Dawn ---------------------------------------------------------------------------------------

interface DawnModule {
  create(options: string[]): GPU;
  globals: object;
}

let dawn: DawnModule | undefined;

async function loadDawn(): Promise<DawnModule> {
  if (dawn) return dawn;
  try {
    dawn = (await import("webgpu")) as unknown as DawnModule;
  } catch (err) {
    throw new ModelError(
      "backend-unavailable",
      `the webgpu backend cannot load Dawn (npm package "webgpu", dawn.node for ${process.platform}-${process.arch}): ` +
        `${(err as Error).message.split("\n")[0]}\nReinstall it with \`npm install webgpu\`.`,
    );
  }
  // GPUBufferUsage, GPUMapMode, ... are globals in a browser; tfjs-webgpu reads them as such
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in globalThis)) Object.defineProperty(globalThis, k, { value: v, configurable: true, writable: true });
  return dawn;
}

/**
 * Dawn's adapter list. WebGPU itself has no enumeration call; dawn.node answers a request for an
 * adapter name that matches nothing with "Available adapters: * backend: '<api>', name: '<name>'"
 * lines (documented in the package's README as the way to list them).
 */
async function dawnAdapterNames(): Promise<Array<{ api: string; name: string }>> {
  const { create } = await loadDawn();
  const gpu = create(["adapter=\u0001kn-list-adapters\u0001"]);
  let message = "";
  try {
    await gpu.requestAdapter();
  } catch (err) {
    message = (err as Error).message;
  }
  const found: Array<{ api: string; name: string }> = [];
  for (const m of message.matchAll(/\* backend: '([^']*)', name: '(.*)'\s*$/gm)) found.push({ api: m[1], name: m[2] });
  return found;
}

function adapterType(info: GPUAdapterInfo & { isFallbackAdapter?: boolean }, name: string): AdapterType {
  const text = `${name} ${info.description} ${info.device}`.toLowerCase();
  if (info.isFallbackAdapter || info.architecture === "software" || /llvmpipe|lavapipe|swiftshader|softpipe/.test(text)) return "cpu";
  const vendor = info.vendor.toLowerCase();
  if (vendor === "intel") return /\barc\b/.test(text) ? "discrete" : "integrated";
  if (vendor === "apple" || vendor === "qualcomm" || vendor === "arm") return "integrated";
  if (vendor === "nvidia") return /tegra|orin|xavier/.test(text) ? "integrated" : "discrete";
  if (vendor === "amd" || vendor === "ati") return /radeon( tm)? graphics|vega \d+ graphics/.test(text) ? "integrated" : "discrete";
  return "unknown";
}

const RANK: Record<AdapterType, number> = { discrete: 0, integrated: 1, unknown: 2, cpu: 3 };

interface OpenAdapter {
  summary: AdapterSummary;
  gpu: GPU;
  adapter: GPUAdapter;
}

async function openAdapters(): Promise<OpenAdapter[]> {
  const { create } = await loadDawn();
  const out: OpenAdapter[] = [];
  for (const [index, { api, name }] of (await dawnAdapterNames()).entries()) {
    const gpu = create([`backend=${api}`, `adapter=${name}`]);
    const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" }).catch(() => null);
    if (!adapter) continue;
    const info = adapter.info;
    out.push({
      gpu,
      adapter,
      summary: {
        index,
        name,
        api,
        type: adapterType(info, name),
        vendor: info.vendor,
        architecture: info.architecture,
        description: info.description,
        limits: { maxBufferSize: adapter.limits.maxBufferSize, maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize },
      },
    });
  }
  return out;
}

/** Every adapter Dawn sees, in Dawn's order (empty when no Vulkan/Metal/D3D driver is usable). */
export async function listAdapters(): Promise<AdapterSummary[]> {
  return (await openAdapters()).map((a) => a.summary);
}

/**
 * The adapter to run on: `choice` ($KN_WEBGPU_ADAPTER: an index from `kn backends`, or part of the
 * name, case-insensitive) or else the best kind: discrete GPU, integrated GPU, unknown, software.
 */
export function pickAdapter(adapters: readonly AdapterSummary[], choice = process.env.KN_WEBGPU_ADAPTER): AdapterSummary {
  if (!adapters.length) {
    throw new ModelError("backend-unavailable", `the webgpu backend found no GPU adapter (Dawn sees no usable Vulkan driver).\n${WEBGPU_INSTALL_HINT}`);
  }
  if (choice !== undefined && choice.trim() !== "") {
    const c = choice.trim();
    const hit = /^\d+$/.test(c)
      ? adapters.find((a) => a.index === Number(c))
      : adapters.find((a) => `${a.name} ${a.description}`.toLowerCase().includes(c.toLowerCase()));
    if (!hit) {
      const listing = adapters.map((a) => `  ${a.index}: ${a.name} (${a.type}, ${a.api})`).join("\n");
      throw new ModelError("backend-unavailable", `KN_WEBGPU_ADAPTER=${JSON.stringify(choice)} matches no adapter. Dawn sees:\n${listing}`);
    }
    return hit;
  }
  return [...adapters].sort((a, b) => RANK[a.type] - RANK[b.type] || a.index - b.index)[0];
}

// ---- the device tfjs runs on ----------------------------------------------------------------------

interface DeviceState {
  adapter: AdapterSummary;
  device: GPUDevice;
  /** Set once the device is lost or reported an error nobody captured. */
  failure?: string;
}

let state: DeviceState | undefined;

/** The adapter and device the webgpu backend runs on (undefined before it is initialised). */
export function webgpuDevice(): { adapter: AdapterSummary; device: GPUDevice } | undefined {
  return state && { adapter: state.adapter, device: state.device };
}

/** The largest buffer a shader may bind on the device (undefined before webgpu is initialised). */
export function bindingLimitBytes(): number | undefined {
  const limits = state?.device.limits;
  return limits && Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
}

interface TfWebgpuInternals {
  uploadToGPU(dataId: object): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
}

/**
 * Uploads a freshly created weight tensor to the GPU at once and submits the copy. tfjs-webgpu
 * otherwise keeps each tensor's host array until its first use, so a loader would hold the whole
 * checkpoint on the host until the first pass (twice in memory for a software adapter).
 */
export function placeOnDevice<T extends tf.Tensor>(t: T): T {
  if (!state || tf.engine().backendName !== "webgpu") return t;
  const backend = tf.backend() as unknown as TfWebgpuInternals;
  backend.uploadToGPU(t.dataId);
  backend.ensureCommandEncoderReady();
  backend.endComputePassEncoder();
  backend.submitQueue();
  return t;
}

/** Thrown by model calls once the GPU device is gone; the indexer marks the affected items failed. */
export class DeviceLostError extends ModelError {
  constructor(readonly reason: string) {
    super("device-lost", `the GPU device was lost: ${reason}`);
    this.name = "DeviceLostError";
  }
}

/** Throws DeviceLostError if the device was lost or reported an error (results may be unwritten). */
export function checkDevice(): void {
  if (state?.failure) throw new DeviceLostError(state.failure);
}

/** The largest limits the adapter offers that tfjs-webgpu's kernels depend on. */
function deviceLimits(adapter: GPUAdapter): Record<string, number> {
  const names = [
    "maxBufferSize", "maxStorageBufferBindingSize", "maxComputeWorkgroupStorageSize", "maxComputeWorkgroupsPerDimension",
    "maxComputeWorkgroupSizeX", "maxComputeWorkgroupSizeY", "maxComputeWorkgroupSizeZ", "maxComputeInvocationsPerWorkgroup",
    "maxStorageBuffersPerShaderStage",
  ];
  const limits = adapter.limits as unknown as Record<string, number>;
  return Object.fromEntries(names.filter((n) => typeof limits[n] === "number").map((n) => [n, limits[n]]));
}

let registered = false;

/**
 * Registers tfjs's "webgpu" backend (once per process) on the chosen adapter. The adapter is
 * chosen here, not in the factory, because tfjs turns a factory's error into a bare `false`.
 * tfjs-webgpu only registers its own factory when navigator.gpu exists at import; none is set
 * here, so the factory below (max limits, device watching) is the only one.
 */
export async function registerWebgpu(): Promise<void> {
  if (registered) return;
  const open = await openAdapters();
  const picked = pickAdapter(open.map((a) => a.summary));
  const chosen = open.find((a) => a.summary === picked)!;
  const { WebGPUBackend } = await import("@tensorflow/tfjs-backend-webgpu");
  tf.registerBackend("webgpu", async () => {
    const features = (["timestamp-query", "shader-f16"] as GPUFeatureName[]).filter((f) => chosen.adapter.features.has(f));
    const device = await chosen.adapter.requestDevice({ requiredLimits: deviceLimits(chosen.adapter), requiredFeatures: features });
    const s: DeviceState = { adapter: chosen.summary, device };
    state = s;
    void device.lost.then((info) => {
      s.failure ??= `${info.reason === "destroyed" ? "destroyed" : "lost"}${info.message ? ` (${info.message})` : ""}`;
    });
    device.addEventListener("uncapturederror", (event) => {
      s.failure ??= `GPU error: ${(event as GPUUncapturedErrorEvent).error.message}`;
    });
    // WebGPUBackend's constructor checks navigator.gpu (Node 21+ has a navigator without gpu)
    const nav = (globalThis as { navigator?: object }).navigator ?? {};
    Object.defineProperty(nav, "gpu", { value: chosen.gpu, configurable: true, writable: true });
    Object.defineProperty(globalThis, "navigator", { value: nav, configurable: true, writable: true });
    return new WebGPUBackend(device, chosen.adapter.info);
  }, 1);
  registered = true;
}

/**
 * Bytes of memory the device has, where it can be known: host memory for a software adapter,
 * nvidia-smi's figure for an NVIDIA GPU (WebGPU itself does not tell); undefined otherwise.
 */
export function deviceMemoryBytes(adapter: AdapterSummary): number | undefined {
  if (adapter.type === "cpu") return os.totalmem();
  if (adapter.vendor.toLowerCase() !== "nvidia") return undefined;
  try {
    const out = execFileSync("nvidia-smi", ["--query-gpu=memory.total", "--format=csv,noheader,nounits"], { encoding: "utf8", timeout: 10_000 });
    const mib = out.split("\n").map(Number).filter((n) => n > 0);
    return mib.length ? Math.max(...mib) * 2 ** 20 : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Drops the device and Dawn's instances so the process can exit (a live dawn.node instance keeps
 * Node's event loop running).
 */
export function releaseWebgpu(): void {
  if (!registered) return;
  tf.removeBackend("webgpu");
  state?.device.destroy();
  state = undefined;
  registered = false;
  delete (globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu;
}
