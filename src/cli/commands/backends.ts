// kn backends: which tensor backends this machine can run and, for webgpu, the adapters Dawn sees
// (which one KN_WEBGPU_ADAPTER or the automatic choice picks, and the limits that decide what fits).
import type { Command } from "commander";
import { backendStatuses, defaultBackendName } from "../../model/backend.ts";
import { pickAdapter } from "../../model/webgpu.ts";

const mib = (bytes: number) => `${Math.round(bytes / 2 ** 20)} MiB`;

export function register(program: Command): void {
  program
    .command("backends")
    .description("List the tensor backends and the WebGPU adapters this machine offers")
    .option("--json", "print one JSON object {default, backends: [{name, available, detail, adapters?}], webgpuAdapter, webgpuProblem?}")
    .action(async (flags: { json?: boolean }) => {
      const statuses = await backendStatuses();
      const adapters = statuses.find((s) => s.name === "webgpu")?.adapters ?? [];
      let chosen: number | null = null;
      let choiceProblem: string | undefined;
      try {
        chosen = adapters.length ? pickAdapter(adapters).index : null;
      } catch (err) {
        choiceProblem = (err as Error).message;
      }
      if (flags.json) {
        process.stdout.write(`${JSON.stringify({ default: defaultBackendName(), backends: statuses, webgpuAdapter: chosen, webgpuProblem: choiceProblem })}\n`);
        return;
      }
      const out = process.stdout;
      for (const s of statuses) {
        out.write(`${s.name.padEnd(11)} ${s.available ? "available    " : "unavailable  "}${s.detail.split("\n").join("\n" + " ".repeat(24))}\n`);
        for (const a of s.adapters ?? []) {
          out.write(
            `${a.index === chosen ? "  *" : "   "} ${String(a.index).padStart(2)}: ${a.name} (${a.type}, ${a.api}, ${a.vendor}), ` +
              `maxBufferSize ${mib(a.limits.maxBufferSize)}, maxStorageBufferBindingSize ${mib(a.limits.maxStorageBufferBindingSize)}\n`,
          );
        }
      }
      if (choiceProblem) out.write(`\n${choiceProblem}\n`);
    });
}
