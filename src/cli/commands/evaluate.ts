import type { Command } from "commander";
import { type DegenerateValidity, type LayerCount, degenerateValidity, layerDistributions } from "../../analysis/degenerate.ts";
import { evaluateEditing, type EditEvaluation } from "../../analysis/edit-evaluation.ts";
import { type FactCheckStatistics, evaluateFactChecking } from "../../analysis/fact-checking.ts";
import { DEFAULT_SUPERADDITIVE_MARGIN } from "../../attribution/dkn.ts";
import { UPDATE_LAMBDA, UPDATE_RULES, type UpdateRule } from "../../attribution/editing.ts";
import { DEFAULT_RANDOM_DRAWS, DEFAULT_UNRELATED_SEEDS, evaluateLocalization, measureLocalization } from "../../analysis/localization.ts";
import { type LocalizationReport, localizationReport } from "../../analysis/localization-report.ts";
import type { ClassificationMetrics, Estimate } from "../../analysis/statistics.ts";
import { METHODS } from "../../attribution/integrated-gradients.ts";
import { attributionModel } from "../../attribution/model-port.ts";
import { DEFAULT_RUN_SETTING } from "../../attribution/run-setting.ts";
import { loadConfig } from "../../config.ts";
import type { AnalysisStore } from "../../analysis/analysis-store.ts";
import { TEMPLATE_SETS, parseTemplateSet, withTemplates } from "../../data/template-sets.ts";
import { analysisStore } from "../../store/analysis.ts";
import { saveEditEvaluation, saveFactCheckEvaluation } from "../../store/evaluations.ts";
import { localizationMeasures } from "../../store/localization.ts";
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
    .description("Suppress / enhance each fact's knowledge neurons and layer-matched controls: relative Δ, Δlog p and answer flips on the fact and on unrelated facts, with CIs and paired tests (§8, §13.2–13.3)")
    .requiredOption("--model <name|dir>", "model whose runs are evaluated")
    .option("--methods <list>", `attribution methods to compare (${METHODS.join(", ")})`, list, ["amig-compat", "ig", "static"])
    .option("--steps <n>", "Riemann steps N of the runs evaluated (static ignores it but its runs carry it)", String(DEFAULT_RUN_SETTING.steps))
    .option("--languages <codes>", "languages (default: every language with runs of the first method)", list)
    .option("--seeds <list>", "seeds of the unrelated-fact draws (one same-relation and one other-relation fact each)", list, DEFAULT_UNRELATED_SEEDS.map(String))
    .option("--random-draws <n>", "draws of the random control", String(DEFAULT_RANDOM_DRAWS))
    .option("--max-facts <n>", "measure at most n facts per language and method (seeded sample)")
    .option("--templates <set>", "prompts phrased by the trained templates or by the held-out paraphrases (trained | heldout); the neurons are always the runs' (trained templates)", "trained")
    .option("--report-only", "report the stored measures without measuring again")
    .option("--json", "print JSON")
    .option("--backend <name>", "tensor backend")
    .action(async (flags: LocalizationFlags) => {
      // the measurements are clean-mode probabilities, so the runs evaluated are clean-mode runs
      const settings = flags.methods.map((method) => settingOption({ method, steps: flags.steps, targetMode: "clean" }));
      const seeds = flags.seeds.map((s) => integer(s, "seeds"));
      const randomDraws = positiveInt(flags.randomDraws, "random-draws");
      const maxFacts = flags.maxFacts === undefined ? undefined : positiveInt(flags.maxFacts, "max-facts");
      const templateSet = parseTemplateSet(flags.templates);
      if (!templateSet) throw new CliError(`unknown --templates ${JSON.stringify(flags.templates)} (expected ${TEMPLATE_SETS.join(", ")})`);
      await withStore(loadConfig(), async (store) => {
        await registerDemoModels(store.prisma);
        const checkpoint = await resolveCheckpoint(store.prisma, flags.model);
        const languages = flags.languages ?? (await languagesWithRuns(store.pool, { checkpointId: checkpoint.id, setting: settings[0] }));
        if (!flags.reportOnly) {
          const lm = await loadModelForCli(checkpoint.path, flags.backend);
          const model = attributionModel(lm);
          const scoreCache = new Map();
          try {
            for (const setting of settings) {
              for (const language of languages) {
                const progress = createProgress(`localization ${setting.method} ${language}`, 1, { quiet: flags.json, unit: " facts" });
                const onProgress = (done: number, total: number) => {
                  progress.setTotal(total);
                  progress.update(done);
                };
                const scope = { checkpointId: checkpoint.id, setting, language };
                const stored = analysisStore(store.pool);
                // held-out: the same facts and neurons, the prompts (and the partners') re-phrased
                const analyses: AnalysisStore =
                  templateSet === "trained" ? stored : { ...stored, indexedFacts: async (q) => withTemplates(await stored.indexedFacts(q), templateSet, (f) => f.relationId) };
                if (templateSet === "trained") await evaluateLocalization(analyses, model, { ...scope, onProgress });
                await measureLocalization(analyses, model, { ...scope, seeds, randomDraws, maxFacts, scoreCache, templateSet, onProgress });
                progress.stop();
              }
            }
          } finally {
            lm.dispose();
          }
        }
        const rows = await localizationMeasures(store.pool, { checkpointId: checkpoint.id, methods: flags.methods, languages, templateSet, steps: settings[0].steps, targetMode: settings[0].targetMode });
        const report = localizationReport(rows);
        if (flags.json) process.stdout.write(`${JSON.stringify({ model: checkpoint.name, templates: templateSet, ...report })}\n`);
        else process.stdout.write(formatLocalizationReport(report));
      });
    });

  cmd
    .command("degenerate")
    .description("Degenerate neurons: false-positive rate of the pair test on other facts' pools and random units, the superadditive criterion, greedy sets of any size, per-layer distributions (§13.4)")
    .requiredOption("--model <name|dir>", "model whose runs are evaluated")
    .option("--method <method>", `attribution method of the runs (${METHODS.join(", ")})`, "amig-compat")
    .option("--steps <n>", "Riemann steps N of the runs", String(DEFAULT_RUN_SETTING.steps))
    .option("--languages <codes>", "languages (default: every language with runs)", list)
    .option("--max-facts <n>", "facts tested per language (seeded sample)", "100")
    .option("--margin <x>", "margin of the superadditive criterion", String(DEFAULT_SUPERADDITIVE_MARGIN))
    .option("--max-set-size <n>", "greedy growth of the facts' own sets up to this size", "4")
    .option("--json", "print JSON")
    .option("--backend <name>", "tensor backend")
    .action(async (flags: { model: string; method: string; steps: string; languages?: string[]; maxFacts: string; margin: string; maxSetSize: string; json?: boolean; backend?: string }) => {
      const setting = settingOption({ method: flags.method, steps: flags.steps, targetMode: "clean" });
      const maxFacts = positiveInt(flags.maxFacts, "max-facts");
      const maxSetSize = positiveInt(flags.maxSetSize, "max-set-size");
      const margin = Number(flags.margin);
      if (!(margin >= 0 && margin < 1)) throw new CliError(`--margin must be in [0, 1) (got ${JSON.stringify(flags.margin)})`);
      await withStore(loadConfig(), async (store) => {
        await registerDemoModels(store.prisma);
        const checkpoint = await resolveCheckpoint(store.prisma, flags.model);
        const languages = flags.languages ?? (await languagesWithRuns(store.pool, { checkpointId: checkpoint.id, setting }));
        const lm = await loadModelForCli(checkpoint.path, flags.backend);
        const model = attributionModel(lm);
        const validity = [];
        try {
          for (const language of languages) {
            const progress = createProgress(`degenerate ${language}`, 1, { quiet: flags.json, unit: " facts" });
            validity.push(
              await degenerateValidity(analysisStore(store.pool), model, {
                checkpointId: checkpoint.id, setting, language, maxFacts, maxSetSize, dkn: { margin },
                onProgress: (done, total) => {
                  progress.setTotal(total);
                  progress.update(done);
                },
              }),
            );
            progress.stop();
          }
        } finally {
          lm.dispose();
        }
        const layers = await layerDistributions(analysisStore(store.pool), { checkpointId: checkpoint.id, setting, languages, nLayers: checkpoint.nLayers });
        if (flags.json) process.stdout.write(`${JSON.stringify({ model: checkpoint.name, validity, layers })}\n`);
        else process.stdout.write(formatDegenerate(validity, layers));
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
          process.stdout.write(formatFactCheck(result.statistics, threshold));
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

interface LocalizationFlags {
  model: string;
  methods: string[];
  steps: string;
  languages?: string[];
  seeds: string[];
  randomDraws: string;
  maxFacts?: string;
  templates: string;
  reportOnly?: boolean;
  json?: boolean;
  backend?: string;
}

function integer(value: string, name: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new CliError(`--${name} takes integers (got ${JSON.stringify(value)})`);
  return n;
}

/** "−0.123 [−0.2, −0.05] n=40" */
export function formatEstimate(e: Estimate | null, digits = 3): string {
  if (!e) return "– (n=0)";
  return `${e.estimate.toFixed(digits)} [${e.low.toFixed(digits)}, ${e.high.toFixed(digits)}] n=${e.n}`;
}

function formatLocalizationReport(r: LocalizationReport): string {
  const lines = ["method       set         target          lang  facts   |N|  P0     sup Δ                         sup Δlog p                    sup flip                      enh Δ                         enh Δlog p                    enh flip"];
  for (const c of r.conditions) {
    lines.push(
      [
        c.method.padEnd(12), c.neuronSet.padEnd(11), c.target.padEnd(15), c.language.padEnd(4), String(c.facts).padStart(6), c.meanNeurons.toFixed(1).padStart(5), c.meanBase.toFixed(3),
        ...[c.suppressRel, c.suppressLogp, c.suppressFlip, c.enhanceRel, c.enhanceLogp, c.enhanceFlip].map((e) => formatEstimate(e).padEnd(29)),
      ].join(" "),
    );
  }
  lines.push("", "paired (per-fact a − b on the facts both have): mean [bootstrap 95% CI] n, Wilcoxon signed-rank");
  for (const c of r.comparisons) {
    const w = c.wilcoxon ? `W=${c.wilcoxon.statistic} p=${c.wilcoxon.p.toPrecision(3)} (${c.wilcoxon.method}, n=${c.wilcoxon.n})` : "no pairs";
    lines.push(`${c.language.padEnd(4)} ${c.measure.padEnd(12)} ${c.a} − ${c.b}: ${formatEstimate(c.difference)}  ${w}`);
  }
  return `${lines.join("\n")}\n`;
}

function formatFactCheck(s: FactCheckStatistics, threshold: number): string {
  const p = (e: Estimate | null) => formatEstimate(e);
  const rule = (name: string, m: ClassificationMetrics) =>
    `${name.padEnd(22)} precision ${p(m.precisionCI).padEnd(30)} recall ${p(m.recallCI).padEnd(30)} F1 ${m.f1 === null ? "–" : m.f1.toFixed(3)}  accuracy ${p(m.accuracyCI)}\n`;
  const a = s.auroc;
  return [
    `candidates: ${s.n} (true and wrong objects of the held-out 20 %)\n`,
    `AUROC of the DKN score: ${a ? `${a.auroc.toFixed(3)} (U=${a.u}, n+=${a.nPositive}, n-=${a.nNegative})` : "– (one class missing)"}\n`,
    rule(`DKN, τ_fc=${threshold}`, s.atThreshold),
    rule("model's own answer", s.direct),
    rule("accept all", s.acceptAll),
    rule("random (p=½, seeded)", s.random),
    s.bestF1 ? `best F1 over the τ_fc sweep (chosen on these candidates, optimistic): ${s.bestF1.f1?.toFixed(3)} at τ_fc=${s.bestF1.threshold.toPrecision(3)}\n` : "",
  ].join("");
}

function formatDegenerate(validity: DegenerateValidity[], layers: LayerCount[]): string {
  const lines = ["lang pool       criterion      facts  pairs  pairs passing                   facts with a passing pair"];
  for (const v of validity) {
    for (const o of v.outcomes) {
      lines.push(`${v.language.padEnd(4)} ${o.pool.padEnd(10)} ${o.criterion.padEnd(14)} ${String(o.facts).padStart(5)} ${String(o.pairs).padStart(6)}  ${formatEstimate(o.pairRate).padEnd(31)} ${formatEstimate(o.factRate)}`);
    }
    const sizes = Object.entries(v.setSizes).map(([k, n]) => `${n} of size ${k}`).join(", ");
    lines.push(`${v.language.padEnd(4)} greedy growth up to ${v.maxSetSize}: ${sizes || "no degenerate set"}`);
  }
  lines.push("", "per-layer occurrences (kind group: layer 0, 1, ...)");
  const groups = new Map<string, number[]>();
  for (const r of layers) {
    const k = `${r.kind} ${r.group}`;
    const counts = groups.get(k) ?? [];
    counts[r.layer] = r.count;
    groups.set(k, counts);
  }
  for (const [k, counts] of groups) lines.push(`${k}: ${Array.from(counts, (c) => c ?? 0).join(", ")}`);
  return `${lines.join("\n")}\n`;
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
