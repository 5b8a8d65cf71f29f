import type { Command } from "commander";
import { METHODS } from "../../attribution/integrated-gradients.ts";
import { attributionModel } from "../../attribution/model-port.ts";
import { TARGET_MODES } from "../../attribution/fact-attribution.ts";
import { loadConfig } from "../../config.ts";
import { registerDemoModels, resolveCheckpoint } from "../checkpoints.ts";
import { loadModelForCli } from "../load-model.ts";
import { BACKEND_HELP, list, settingOption } from "../options.ts";
import { withStore } from "../store-session.ts";
import { REFERENCE_LANGUAGE, describeCalibration, resolveSelections } from "../tau-options.ts";

interface CalibrateFlags {
  model: string;
  languages?: string[];
  relations?: string[];
  method: string;
  steps: string;
  targetMode: string;
  tau?: string;
  facts: string;
  seed: string;
  backend?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command("calibrate-tau")
    .description(`Calibrate τ per language so that its mean |KN| on a seeded sample of facts matches ${REFERENCE_LANGUAGE}'s (ALGORITHMS.md §13.6); stores nothing`)
    .requiredOption("--model <name|dir>", "registered name, demo-mbert / demo-mgpt, or a checkpoint folder")
    .option("--languages <codes>", "languages to calibrate (default: every labelled one)", list)
    .option("--relations <ids>", "sample facts of these relations only", list)
    .option("--method <method>", `one of ${METHODS.join(", ")}`, "amig-compat")
    .option("--steps <n>", "Riemann steps N", "20")
    .option("--target-mode <mode>", TARGET_MODES.join(" | "), "clean")
    .option("--tau <x|en=x>", `τ of ${REFERENCE_LANGUAGE}, the reference (default 0.3)`)
    .option("--facts <n>", "facts per language", "50")
    .option("--seed <s>", "seed of the sample", "42")
    .option("--backend <name>", BACKEND_HELP)
    .option("--json", "print the calibrations as JSON")
    .action(async (flags: CalibrateFlags) => {
      const setting = settingOption(flags);
      await withStore(loadConfig(), async (store) => {
        await registerDemoModels(store.prisma);
        const checkpoint = await resolveCheckpoint(store.prisma, flags.model);
        const { calibrations } = await resolveSelections(
          { tau: flags.tau, calibrateTau: true, calibrationFacts: flags.facts, seed: flags.seed },
          {
            pool: store.pool,
            languages: flags.languages ?? [],
            relations: flags.relations ?? [],
            setting,
            model: async () => attributionModel(await loadModelForCli(checkpoint.path, flags.backend)),
          },
        );
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(calibrations.map((c) => ({ language: c.language, tau: c.selection.tau, ...c.selection.rule, skipped: c.skipped })))}\n`);
        } else {
          for (const c of calibrations) process.stdout.write(`${describeCalibration(c)}\n`);
        }
      });
    });
}
