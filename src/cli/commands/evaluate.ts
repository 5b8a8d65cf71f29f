import type { Command } from "commander";
import { evaluateFactChecking } from "../../analysis/fact-checking.ts";
import { evaluateLocalization } from "../../analysis/localization.ts";
import { METHODS } from "../../attribution/integrated-gradients.ts";
import { attributionModel } from "../../attribution/model-port.ts";
import { DEFAULT_RUN_SETTING } from "../../attribution/run-setting.ts";
import { loadConfig } from "../../config.ts";
import { analysisStore } from "../../store/analysis.ts";
import { saveFactCheckEvaluation } from "../../store/evaluations.ts";
import { summarizeLocalization } from "../../store/localization.ts";
import { languagesWithRuns } from "../../store/neurons.ts";
import { registerDemoModels, resolveCheckpoint } from "../checkpoints.ts";
import { CliError } from "../errors.ts";
import { loadModelForCli } from "../load-model.ts";
import { list, settingOption } from "../options.ts";
import { createProgress } from "../progress.ts";
import { withStore } from "../store-session.ts";

export function register(program: Command): void {
  const cmd = program.command("evaluate").description("Evaluate stored knowledge neurons (localization, fact-checking)");

  cmd
    .command("localization")
    .description("Suppress / enhance each fact's knowledge neurons: probability change on the fact and on an unrelated fact (§8)")
    .requiredOption("--model <name|dir>", "model whose runs are evaluated")
    .option("--methods <list>", `attribution methods to compare (${METHODS.join(", ")})`, list, ["amig-compat"])
    .option("--steps <n>", "Riemann steps N of the runs evaluated", String(DEFAULT_RUN_SETTING.steps))
    .option("--languages <codes>", "languages (default: every language with runs of the first method)", list)
    .option("--by-relation", "one row per relation")
    .option("--json", "print JSON")
    .option("--backend <name>", "tensor backend")
    .action(async (flags: { model: string; methods: string[]; steps: string; languages?: string[]; byRelation?: boolean; json?: boolean; backend?: string }) => {
      // the measurements are clean-mode probabilities, so the runs evaluated are clean-mode runs
      const settings = flags.methods.map((method) => settingOption({ method, steps: flags.steps, targetMode: "clean" }));
      await withStore(loadConfig(), async (store) => {
        await registerDemoModels(store.prisma);
        const checkpoint = await resolveCheckpoint(store.prisma, flags.model);
        const lm = await loadModelForCli(checkpoint.path, flags.backend);
        const model = attributionModel(lm);
        const languages = flags.languages ?? (await languagesWithRuns(store.pool, { checkpointId: checkpoint.id, setting: settings[0] }));
        for (const setting of settings) {
          for (const language of languages) {
            const progress = createProgress(`localization ${setting.method} ${language}`, 1, { quiet: flags.json, unit: " facts" });
            await evaluateLocalization(analysisStore(store.pool), model, {
              checkpointId: checkpoint.id,
              setting,
              language,
              onProgress: (done, total) => {
                progress.setTotal(total);
                progress.update(done);
              },
            });
            progress.stop();
          }
        }
        const rows = (
          await Promise.all(flags.methods.map((method) => summarizeLocalization(store.pool, { checkpointId: checkpoint.id, method, byRelation: Boolean(flags.byRelation) })))
        ).flat().filter((r) => languages.includes(r.language));
        if (flags.json) process.stdout.write(`${JSON.stringify({ model: checkpoint.name, rows })}\n`);
        else {
          process.stdout.write("method       lang relation  facts  sup.related  sup.unrelated  enh.related  enh.unrelated\n");
          for (const r of rows) {
            const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(12);
            process.stdout.write(`${r.method.padEnd(12)} ${r.language.padEnd(4)} ${(r.relation ?? "all").padEnd(9)} ${String(r.facts).padStart(5)} ${pct(r.suppressRelated)} ${pct(r.suppressUnrelated)}  ${pct(r.enhanceRelated)} ${pct(r.enhanceUnrelated)}\n`);
          }
        }
        lm.dispose();
      });
    });

  cmd
    .command("fact-checking")
    .description("DKN-based fact-checking on the held-out 20 % of each relation, against the direct-model baseline (§7)")
    .requiredOption("--model <name|dir>", "model whose degenerate neurons are used")
    .requiredOption("--language <code>", "language of the facts")
    .option("--threshold <x>", "τ_fc: minimum mean attribution over the DKN neurons", "1e-6")
    .option("--rho <x>", "DKN filter: keep neurons counted more than floor(rho * max) times", "0.7")
    .option("--json", "print JSON")
    .option("--backend <name>", "tensor backend")
    .action(async (flags: { model: string; language: string; threshold: string; rho: string; json?: boolean; backend?: string }) => {
      const threshold = Number(flags.threshold);
      const rho = Number(flags.rho);
      if (!Number.isFinite(threshold)) throw new CliError(`invalid --threshold ${JSON.stringify(flags.threshold)}`);
      if (!(rho >= 0 && rho <= 1)) throw new CliError(`--rho must be between 0 and 1`);
      await withStore(loadConfig(), async (store) => {
        await registerDemoModels(store.prisma);
        const checkpoint = await resolveCheckpoint(store.prisma, flags.model);
        const lm = await loadModelForCli(checkpoint.path, flags.backend);
        const result = await evaluateFactChecking(analysisStore(store.pool), attributionModel(lm), { checkpointId: checkpoint.id, language: flags.language, threshold, rho });
        await saveFactCheckEvaluation(store.prisma, { checkpointId: checkpoint.id, language: flags.language, method: "amig-compat", threshold, rho, seed: 42 }, result);
        if (flags.json) process.stdout.write(`${JSON.stringify({ model: checkpoint.name, language: flags.language, ...result })}\n`);
        else {
          const line = (name: string, m: typeof result.withDkn) =>
            `${name.padEnd(10)} precision ${m.precision.toFixed(3)}  recall ${m.recall.toFixed(3)}  F1 ${m.f1.toFixed(3)}  accuracy ${m.accuracy.toFixed(3)}  (TP ${m.truePositives}/${m.positives}, TN ${m.trueNegatives}/${m.negatives})\n`;
          process.stdout.write(line("with DKN", result.withDkn) + line("baseline", result.baseline));
          if (result.skippedRelations.length) process.stdout.write(`relations without degenerate neurons (skipped): ${result.skippedRelations.join(", ")}\n`);
        }
        lm.dispose();
      });
    });
}
