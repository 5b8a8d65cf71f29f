// The webgpu backend's set-up: adapter choice, `kn backends`, and the clear errors for a missing
// adapter, an adapter name that matches nothing and a checkpoint too large for the device. (The
// numbers it computes are checked by the parity suites, which run on webgpu too.)
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { ModelError, loadModel } from "../src/model/index.ts";
import { type AdapterSummary, pickAdapter, releaseWebgpu, webgpuDevice } from "../src/model/webgpu.ts";
import { copyCheckpoint, tempDir } from "./helpers/model-checkpoint.ts";
import { GOLDEN_DIR } from "./helpers/model-golden.ts";
import { describeWebgpu } from "./helpers/webgpu.ts";

const ROOT = path.resolve(import.meta.dirname, "..");
const TSX = path.join(ROOT, "node_modules", ".bin", "tsx");

async function kn(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(TSX, ["src/cli/main.ts", ...args], { cwd: ROOT, timeout: 90_000, env: { ...process.env, ...env } });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

const summary = (index: number, name: string, type: AdapterSummary["type"]): AdapterSummary => ({
  index, name, api: "vulkan", type, vendor: "", architecture: "", description: "",
  limits: { maxBufferSize: 2 ** 32, maxStorageBufferBindingSize: 2 ** 31 },
});

describe("adapter choice", () => {
  const adapters = [summary(0, "llvmpipe (LLVM 15)", "cpu"), summary(1, "Intel(R) UHD Graphics 630", "integrated"), summary(2, "NVIDIA H100 80GB HBM3", "discrete")];

  it("prefers a discrete GPU, then an integrated one, then a software adapter", () => {
    expect(pickAdapter(adapters, "").name).toMatch(/NVIDIA/);
    expect(pickAdapter(adapters.slice(0, 2), undefined).name).toMatch(/Intel/);
    expect(pickAdapter(adapters.slice(0, 1), undefined).name).toMatch(/llvmpipe/);
  });

  it("takes KN_WEBGPU_ADAPTER as an index or a case-insensitive part of the name", () => {
    expect(pickAdapter(adapters, "0").name).toMatch(/llvmpipe/);
    expect(pickAdapter(adapters, "uhd").name).toMatch(/Intel/);
    expect(() => pickAdapter(adapters, "radeon")).toThrow(/KN_WEBGPU_ADAPTER="radeon" matches no adapter[^]*2: NVIDIA H100 80GB HBM3 \(discrete, vulkan\)/);
  });

  it("says what to install when there is no adapter at all", () => {
    expect(() => pickAdapter([], undefined)).toThrow(/found no GPU adapter[^]*NVIDIA driver[^]*mesa-vulkan-drivers/);
  });
});

describe("without a Vulkan driver", () => {
  // the Vulkan loader reads its drivers from VK_DRIVER_FILES: pointing it at nothing leaves Dawn none
  const noDriver = { VK_DRIVER_FILES: "/nonexistent/icd.json", VK_ICD_FILENAMES: "/nonexistent/icd.json" };

  it("kn backends marks webgpu unavailable and says what to install", async () => {
    const r = await kn(["backends"], noDriver);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wasm\s+available/m);
    expect(r.stdout).toMatch(/^webgpu\s+unavailable\s+no adapter/m);
    expect(r.stdout).toMatch(/bookworm-backports mesa-vulkan-drivers/);
  });

  it("a command on --backend webgpu exits with 2 and the install advice", async () => {
    const r = await kn(["predict", "--model", path.join(GOLDEN_DIR, "bert-tied-f32"), "--text", "a [MASK] .", "--backend", "webgpu"], noDriver);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/kn: the webgpu backend found no GPU adapter[^]*NVIDIA driver/);
  });
});

describeWebgpu("on this machine's adapter", () => {
  afterAll(() => releaseWebgpu());

  it("kn backends lists the adapter with its type and limits, marked as the one chosen", async () => {
    const r = await kn(["backends", "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { backends: Array<{ name: string; available: boolean; adapters?: AdapterSummary[] }>; webgpuAdapter: number };
    const webgpu = out.backends.find((b) => b.name === "webgpu")!;
    expect(webgpu.available).toBe(true);
    const chosen = webgpu.adapters!.find((a) => a.index === out.webgpuAdapter)!;
    expect(chosen.name.length).toBeGreaterThan(0);
    expect(chosen.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(chosen.limits.maxBufferSize).toBeGreaterThanOrEqual(chosen.limits.maxStorageBufferBindingSize);
  });

  it("an adapter name that matches nothing is refused with the adapters Dawn sees", async () => {
    const r = await kn(["predict", "--model", path.join(GOLDEN_DIR, "bert-tied-f32"), "--text", "a [MASK] .", "--backend", "webgpu"], { KN_WEBGPU_ADAPTER: "no-such-gpu" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/KN_WEBGPU_ADAPTER="no-such-gpu" matches no adapter. Dawn sees:\n\s+0: /);
  });

  it("opens the device with the adapter's largest buffer limits", async () => {
    const model = await loadModel(path.join(GOLDEN_DIR, "gpt2-tied-f32"), { backend: "webgpu" });
    try {
      const { adapter, device } = webgpuDevice()!;
      expect(device.limits.maxStorageBufferBindingSize).toBe(adapter.limits.maxStorageBufferBindingSize);
      expect(device.limits.maxBufferSize).toBe(adapter.limits.maxBufferSize);
    } finally {
      model.dispose();
    }
  });

  it("refuses a checkpoint too large for the device from config.json, before reading a weight", async () => {
    const t = tempDir();
    try {
      copyCheckpoint(path.join(GOLDEN_DIR, "gpt2-tied-f32"), t.dir);
      const config = JSON.parse(fs.readFileSync(path.join(t.dir, "config.json"), "utf8"));
      // far beyond any device's memory; the weights file still holds the tiny model
      fs.writeFileSync(path.join(t.dir, "config.json"), JSON.stringify({ ...config, n_embd: 8192, n_layer: 2000, n_head: 64 }));
      const err = await loadModel(t.dir, { backend: "webgpu" }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelError);
      expect((err as ModelError).code).toBe("unsupported-model");
      expect((err as ModelError).message).toMatch(/weights need about \d+\.\d GiB on the webgpu backend, but the adapter .* has \d+\.\d GiB/);
    } finally {
      t.cleanup();
    }
  });
});
