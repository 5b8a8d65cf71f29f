import type { Command } from "commander";
import { loadConfig } from "../../config.ts";
import { findCheckpoint } from "../../store/checkpoints.ts";
import { clearCheckpointRuns } from "../../store/partitions.ts";
import { registerFolder } from "../checkpoints.ts";
import { CliError } from "../errors.ts";
import { withStore } from "../store-session.ts";

export function register(program: Command): void {
  const cmd = program.command("model").description("Register and list model checkpoints");
  cmd
    .command("add")
    .description("Register a Hugging Face checkpoint folder under a name (its content hash is recorded)")
    .argument("<name>", "short name, e.g. mbert")
    .argument("<dir>", "folder with config.json, model.safetensors, tokenizer.json")
    .action(async (name: string, dir: string) => {
      await withStore(loadConfig(), async (store) => {
        const c = await registerFolder(store.prisma, name, dir);
        process.stdout.write(`${c.name}: ${c.modelType} (${c.architecture.toLowerCase()}), ${c.nLayers} layers x ${c.ffnWidth} FFN units, ${c.path}\n`);
      });
    });
  cmd
    .command("list")
    .description("List registered checkpoints")
    .option("--json", "print JSON")
    .action(async (flags: { json?: boolean }) => {
      await withStore(loadConfig(), async (store) => {
        const rows = await store.prisma.checkpoint.findMany({ orderBy: { name: "asc" } });
        if (flags.json) process.stdout.write(`${JSON.stringify(rows.map(({ createdAt, ...r }) => ({ ...r, createdAt: createdAt.toISOString() })))}\n`);
        else for (const c of rows) process.stdout.write(`${c.name.padEnd(16)} ${c.modelType.padEnd(5)} ${String(c.nLayers).padStart(3)} x ${String(c.ffnWidth).padEnd(6)} ${c.path}\n`);
      });
    });
  cmd
    .command("clear")
    .description("Delete every stored run, score, knowledge neuron and degenerate set of a checkpoint (drops its partitions)")
    .argument("<name>", "registered name")
    .action(async (name: string) => {
      await withStore(loadConfig(), async (store) => {
        const checkpoint = await findCheckpoint(store.prisma, name);
        if (!checkpoint) throw new CliError(`unknown model ${JSON.stringify(name)} (kn model list)`);
        const dropped = await clearCheckpointRuns(store.pool, checkpoint.id);
        process.stdout.write(`${name}: dropped ${dropped.join(", ")}; the checkpoint stays registered\n`);
      });
    });
}
