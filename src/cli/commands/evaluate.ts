import type { Command } from "commander";
import { evaluateEditing, type EditEvaluation } from "../../analysis/edit-evaluation.ts";
import { evaluateFactChecking } from "../../analysis/fact-checking.ts";
import { UPDATE_LAMBDA, UPDATE_RULES, type UpdateRule } from "../../attribution/editing.ts";
import { parseTemplateSet } from "../../data/template-sets.ts";
import { evaluateLocalization } from "../../analysis/localization.ts";
import { METHODS } from "../../attribution/integrated-gradients.ts";
import { attributionModel } from "../../attribution/model-port.ts";
import { DEFAULT_RUN_SETTING } from "../../attribution/run-setting.ts";
import { loadConfig } from "../../config.ts";
import { analysisStore } from "../../store/analysis.ts";
import { saveEditEvaluation, saveFactCheckEvaluation } from "../../store/evaluations.ts";
import { summarizeLocalization } from "../../store/localization.ts";
import { languagesWithRuns } from "../../store/neurons.ts";
import { registerDemoModels, resolveCheckpoint } from "../checkpoints.ts";
import { CliError } from "../errors.ts";
import { loadModelForCli } from "../load-model.ts";
import { list, positiveInt, settingOption } from "../options.ts";
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

  cmd
    .command("editing")
    .description("UPDATE rules compared: success in the source language, generality in the fact's other languages, locality on unrelated facts in every language")
    .requiredOption("--model <name|dir>", "model whose stored runs give the edited neurons")
    .option("--source <code>", "language whose knowledge neurons are edited", "en")
    .option("--rules <list>", `update rules (${UPDATE_RULES.join(", ")})`, list, [...UPDATE_RULES])
    .option("--strengths <list>", "λ values", list, [String(UPDATE_LAMBDA)])
    .option("--templates <set>", "phrasings measured: trained (seed template) or heldout (held-out paraphrases); the edit is computed at the trained prompt", "trained")
    .option("--facts-per-relation <n>", "edited facts per relation (seeded sample)", "5")
    .option("--unrelated <n>", "unrelated facts per language for locality", "5")
    .option("--method <name>", `attribution method of the runs (${METHODS.join(", ")})`, "amig-compat")
    .option("--steps <n>", "Riemann steps N of the runs", String(DEFAULT_RUN_SETTING.steps))
    .option("--json", "print JSON (summaries only; every record is stored)")
    .option("--backend <name>", "tensor backend")
    .action(
      async (flags: { model: string; source: string; rules: string[]; strengths: string[]; templates: string; factsPerRelation: string; unrelated: string; method: string; steps: string; json?: boolean; backend?: string }) => {
        const rules = flags.rules.map((r) => {
          if (!(UPDATE_RULES as readonly string[]).includes(r)) throw new CliError(`unknown rule ${JSON.stringify(r)} (expected ${UPDATE_RULES.join(", ")})`);
          return r as UpdateRule;
        });
        const strengths = flags.strengths.map((x) => {
          const v = Number(x);
          if (!(Number.isFinite(v) && v > 0 && v <= 100)) throw new CliError(`--strengths: ${JSON.stringify(x)} is not a number in (0, 100]`);
          return v;
        });
        const templates = parseTemplateSet(flags.templates);
        if (!templates) throw new CliError(`--templates must be trained or heldout, not ${JSON.stringify(flags.templates)}`);
        const factsPerRelation = positiveInt(flags.factsPerRelation, "facts-per-relation");
        const unrelatedPerLanguage = positiveInt(flags.unrelated, "unrelated");
        const setting = settingOption({ method: flags.method, steps: flags.steps, targetMode: "clean" });
        await withStore(loadConfig(), async (store) => {
          await registerDemoModels(store.prisma);
          const checkpoint = await resolveCheckpoint(store.prisma, flags.model);
          if (!(await languagesWithRuns(store.pool, { checkpointId: checkpoint.id, setting })).includes(flags.source)) throw new CliError(`${checkpoint.name} has no stored ${flags.method} runs in ${JSON.stringify(flags.source)}: index it first`);
          const lm = await loadModelForCli(checkpoint.path, flags.backend);
          const progress = createProgress(`editing ${checkpoint.name}`, 1, { quiet: flags.json, unit: " edits" });
          let result: EditEvaluation;
          try {
            result = await evaluateEditing(analysisStore(store.pool), lm, {
              checkpointId: checkpoint.id, setting, sourceLanguage: flags.source, rules, strengths, templates, factsPerRelation, unrelatedPerLanguage,
              onProgress: (done, total) => {
                progress.setTotal(total);
                progress.update(done);
              },
            });
          } finally {
            progress.stop();
            lm.dispose();
          }
          await saveEditEvaluation(store.prisma, { checkpointId: checkpoint.id, sourceLanguage: flags.source, templates, method: setting.method, steps: setting.steps, seed: "42" }, result);
          if (flags.json) {
            const { records: _records, ...summary } = result;
            process.stdout.write(`${JSON.stringify({ model: checkpoint.name, ...summary })}\n`);
          } else process.stdout.write(editingTable(checkpoint.name, result));
        });
      },
    );
}

/** The comparison as a text table: rates with 95 % intervals and their n. */
export function editingTable(model: string, r: EditEvaluation): string {
  const pct = (x: number) => `${(100 * x).toFixed(0)}%`;
  const ci = (e: { estimate: number; low: number; high: number; n: number } | null) => (e ? `${pct(e.estimate)} [${pct(e.low)}, ${pct(e.high)}] n=${e.n}` : "–");
  const lines = [`${model}: UPDATE on ${r.sourceLanguage} knowledge neurons, measured on ${r.templates} phrasings (${r.candidates} facts answered correctly in ${r.sourceLanguage})`, ""];
  for (const s of r.summaries) {
    lines.push(`rule ${s.rule}, λ = ${s.strength}: ${s.edits} edits`);
    lines.push(`  success in ${r.sourceLanguage} (reliability)   ${ci(s.reliability)}`);
    lines.push(`  moved off the gold answer     ${ci(s.movedOff)}`);
    lines.push(`  success in other languages    ${ci(s.generalityPooled)}  (${s.generality.map((g) => `${g.language} ${g.rate ? pct(g.rate.estimate) : "–"}`).join(", ")})`);
    lines.push(`  unrelated facts unchanged     ${s.locality.map((l) => `${l.language} ${ci(l.unchanged)}`).join("; ")}`);
    lines.push("");
  }
  return lines.join("\n");
}
