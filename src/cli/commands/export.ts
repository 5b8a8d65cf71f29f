import { mkdirSync } from "node:fs";
import type { Command } from "commander";
import { METHODS } from "../../attribution/integrated-gradients.ts";
import { loadConfig } from "../../config.ts";
import { EXPORT_TABLES, exportTables } from "../../store/export.ts";
import { resolveCheckpoint } from "../checkpoints.ts";
import { CliError } from "../errors.ts";
import { list, settingOption } from "../options.ts";
import { withStore } from "../store-session.ts";

export function register(program: Command): void {
  program
    .command("export")
    .description(`Write a model's ${EXPORT_TABLES.map((t) => t.name).join(", ")} as Parquet and CSV (streamed; README "Exports" lists the columns)`)
    .requiredOption("--model <name>", "registered model name (or checkpoint folder)")
    .option("--out <dir>", "output folder (created if missing)", "export")
    .option("--relations <ids>", "comma-separated relation ids (default: all)")
    .option("--languages <codes>", "comma-separated language codes (default: all with runs)")
    .option("--format <formats>", "parquet, csv or both", "parquet,csv")
    .option("--method <method>", `one of ${METHODS.join(", ")}`, "amig-compat")
    .option("--steps <n>", "integration steps of the exported runs", "20")
    .option("--target-mode <mode>", "clean or compat", "clean")
    .action(async (flags: { model: string; out: string; relations?: string; languages?: string; format: string; method: string; steps: string; targetMode: string }) => {
      const formats = list(flags.format);
      const bad = formats.filter((f) => f !== "parquet" && f !== "csv");
      if (bad.length || !formats.length) throw new CliError(`unknown --format ${JSON.stringify(flags.format)} (expected parquet, csv or parquet,csv)`);
      const setting = settingOption(flags);
      await withStore(loadConfig(), async (store) => {
        const checkpoint = await resolveCheckpoint(store.prisma, flags.model);
        mkdirSync(flags.out, { recursive: true });
        const started = performance.now();
        const written = await exportTables(
          store.pool,
          { checkpointId: checkpoint.id, setting, relations: flags.relations ? list(flags.relations) : [], languages: flags.languages ? list(flags.languages) : [] },
          flags.out,
          formats as ("parquet" | "csv")[],
        );
        for (const w of written) process.stderr.write(`${w.table}: ${formats.includes("parquet") ? `${w.rows} rows, ` : ""}${w.files.join(", ")}\n`);
        process.stderr.write(`exported ${checkpoint.name} in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
      });
    });
}
