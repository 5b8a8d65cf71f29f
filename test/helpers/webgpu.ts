// Whether the webgpu backend can run here, and how its tests behave when it cannot: in CI
// (CI=true, which the CI harness sets, or KN_REQUIRE_WEBGPU=1, which .ci/run sets) a missing
// adapter is a failing test; elsewhere the suite is skipped with the reason in its name.
import { describe, it } from "vitest";
import { listAdapters, WEBGPU_INSTALL_HINT } from "../../src/model/webgpu.ts";

export const WEBGPU_REQUIRED = process.env.CI === "true" || process.env.KN_REQUIRE_WEBGPU === "1";

async function probe(): Promise<string | undefined> {
  try {
    const adapters = await listAdapters();
    return adapters.length ? undefined : `no WebGPU adapter. ${WEBGPU_INSTALL_HINT.split("\n")[0]} (see kn backends)`;
  } catch (err) {
    return (err as Error).message.split("\n")[0];
  }
}

/** Why webgpu cannot run here; undefined when an adapter is available. */
export const webgpuMissing = await probe();

/**
 * describe() for suites that need the webgpu backend. Without an adapter: a failing test in CI,
 * a visible skip (reason in the suite name) elsewhere.
 */
export function describeWebgpu(name: string, fn: () => void): void {
  if (!webgpuMissing) describe(name, fn);
  else if (WEBGPU_REQUIRED) describe(name, () => it("has a WebGPU adapter (required in CI)", () => { throw new Error(webgpuMissing); }));
  else describe.skip(`${name} [skipped: ${webgpuMissing}]`, fn);
}

/** Backends the parity suites run on: $KN_PARITY_BACKENDS (comma-separated), else all three. */
export function parityBackends(): string[] {
  return (process.env.KN_PARITY_BACKENDS ?? "wasm,cpu,webgpu").split(",").map((b) => b.trim()).filter(Boolean);
}

/** One describe per backend ("<name> backend"); webgpu's goes through describeWebgpu. */
export function describeBackends(fn: (backend: string) => void, backends = parityBackends()): void {
  for (const b of backends) (b === "webgpu" ? describeWebgpu : describe)(`${b} backend`, () => fn(b));
}
