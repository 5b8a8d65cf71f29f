// Regenerates docs/RESULTS.md and its figures (docs/results/*.svg): index the seed facts with both
// demo models and every method (amig-compat, ig, static), then measure localization with controls
// (§13.2), cross-lingual editing (§5.3), fact-checking statistics (§13.3) and degenerate-neuron
// validity (§13.4), and write tables with CIs and n, and prose whose every claim is a test on the
// numbers (a claim the numbers do not support is not printed). Uses DATABASE_URL or the embedded
// database, like every other command.
//
// Resumable: each demo model is registered as <name>@<content hash>, so retrained weights start
// afresh while unchanged ones reuse their stored runs (indexing skips them) and every finished
// measurement step, cached in $KN_DATA_DIR/results-cache/<name>@<hash>.json. --fresh ignores the cache.
//   npm run results [-- --relations P17,P36 --languages en,zh --models demo-mbert --max-facts 200 --dkn-facts 40 --fresh]
// (--skip-import when the seeds are already imported; --models-dir DIR reads <DIR>/<model> instead of models/)
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join, relative } from "node:path";
import { parseArgs } from "node:util";
import type { AnalysisStore } from "../../src/analysis/analysis-store.ts";
import { crossLingualEditing, type ConditionResult } from "../../src/analysis/cross-lingual.ts";
import { evaluateEditing, type EditEvaluation, type RuleSummary } from "../../src/analysis/edit-evaluation.ts";
import { type DegenerateValidity, type LayerCount, degenerateValidity, layerDistributions } from "../../src/analysis/degenerate.ts";
import { type FactCheckStatistics, evaluateFactChecking } from "../../src/analysis/fact-checking.ts";
import { measureLocalization } from "../../src/analysis/localization.ts";
import { type Comparison, type ConditionSummary, type LocalizationReport, localizationReport } from "../../src/analysis/localization-report.ts";
import { type Estimate, wilsonInterval } from "../../src/analysis/statistics.ts";
import { UPDATE_LAMBDA, UPDATE_RULES } from "../../src/attribution/editing.ts";
import { attributionModel } from "../../src/attribution/model-port.ts";
import { DEFAULT_RUN_SETTING, type RunSetting } from "../../src/attribution/run-setting.ts";
import { DEMO_MODELS, registerFolder } from "../../src/cli/checkpoints.ts";
import { SEED_DIRS } from "../../src/cli/commands/import.ts";
import { spawnWorkers } from "../../src/cli/spawn-workers.ts";
import { withStore } from "../../src/cli/store-session.ts";
import { loadConfig, PROJECT_ROOT } from "../../src/config.ts";
import { TEMPLATE_SETS, type TemplateSet, withTemplates } from "../../src/data/template-sets.ts";
import { createIndexJob } from "../../src/indexer/jobs.ts";
import { startQueue } from "../../src/indexer/queue.ts";
import { runWorker } from "../../src/indexer/worker.ts";
import { loadModel } from "../../src/model/index.ts";
import { analysisStore } from "../../src/store/analysis.ts";
import { listLanguages } from "../../src/store/catalog.ts";
import { checkpointContentHash } from "../../src/store/checkpoints.ts";
import { saveEditEvaluation, saveFactCheckEvaluation } from "../../src/store/evaluations.ts";
import { importMlama, importWrongObjects } from "../../src/store/import-mlama.ts";
import { localizationMeasures } from "../../src/store/localization.ts";
import { countRuns, type RunSizeRow, runSizes } from "../../src/store/runs.ts";
import { evaluateFacts } from "../../src/train/evaluate.ts";
import { loadSeeds } from "../../src/train/seeds.ts";
import { type Figure, renderFigure } from "./figures.ts";

const { values: args } = parseArgs({
  options: {
    relations: { type: "string" },
    languages: { type: "string" },
    models: { type: "string" },
    "models-dir": { type: "string", default: join(PROJECT_ROOT, "models") },
    workers: { type: "string", default: "2" },
    "max-facts": { type: "string", default: "150" },
    "dkn-facts": { type: "string", default: "40" },
    "edit-facts": { type: "string", default: "15" },
    "edit-unrelated": { type: "string", default: "10" },
    "edit-sources": { type: "string", default: "en,zh" },
    "heldout-languages": { type: "string", default: "en,zh" },
    fresh: { type: "boolean", default: false },
    "skip-import": { type: "boolean", default: false },
    out: { type: "string", default: join(PROJECT_ROOT, "docs/RESULTS.md") },
  },
});
const split = (s: string | undefined) => (s ? s.split(",").map((x) => x.trim()).filter(Boolean) : []);
const METHODS = ["amig-compat", "ig", "static"] as const;
const settingOf = (method: (typeof METHODS)[number]): RunSetting => ({ ...DEFAULT_RUN_SETTING, method });
const AMIG = settingOf("amig-compat");
const MAX_FACTS = Number(args["max-facts"]);
const DKN_FACTS = Number(args["dkn-facts"]);
/** UPDATE comparison: edited facts per relation and source language, unrelated facts per language. */
const EDIT_FACTS = Number(args["edit-facts"]);
const EDIT_UNRELATED = Number(args["edit-unrelated"]);
const log = (line: string) => process.stderr.write(`results: ${new Date().toISOString().slice(11, 19)} ${line}\n`);
const FIGURES_DIR = join(dirname(args.out!), "results");

interface LiknShare {
  language: string;
  /** Facts with runs in en and the language, and those whose neuron sets intersect. */
  shared: Estimate | null;
  meanSize: number;
}

interface Cache {
  indexed: Record<string, boolean>;
  localization: Record<string, number>;
  crossLingual: Record<string, ConditionResult[]>;
  factChecking: Record<string, FactCheckStatistics & { relations: number; skipped: string[] }>;
  degenerate: Record<string, DegenerateValidity>;
  /** Top-1 recall per template set: counts per language and relation. */
  recall: Record<string, RecallCount[]>;
  heldoutLocalization: Record<string, number>;
  /** UPDATE comparison per source language and template set (records stored in edit_evaluation). */
  editing: Record<string, EditingResult>;
}

interface RecallCount {
  language: string;
  relation: string;
  correct: number;
  n: number;
}

type EditingResult = Omit<EditEvaluation, "records"> & { edits: number };

interface ModelResults {
  name: string;
  checkpoint: string;
  /** Content hash of models/<name> in this tree (null when absent): differs when --models-dir pointed elsewhere. */
  treeHash: string | null;
  shape: string;
  runs: number;
  nLayers: number;
  localization: LocalizationReport;
  crossLingual: (ConditionResult & { pair: string })[];
  likn: LiknShare[];
  factChecking: (Cache["factChecking"][string] & { language: string })[];
  degenerate: DegenerateValidity[];
  layers: LayerCount[];
  /** Knowledge neurons per layer for every method (all facts' runs). */
  methodLayers: (LayerCount & { method: string })[];
  runSizes: RunSizeRow[];
  recall: Record<TemplateSet, RecallCount[]>;
  heldoutLocalization: LocalizationReport;
  editing: EditingResult[];
}

mkdirSync(FIGURES_DIR, { recursive: true }); // before the long run, not after it
const started = Date.now();
const loadStart = loadavg().map((x) => x.toFixed(1)).join(" / ");
const results: ModelResults[] = [];
const config = loadConfig();
const cacheDir = join(config.dataDir, "results-cache");
mkdirSync(cacheDir, { recursive: true });
let languagesUsed: string[] = [];
let relationsUsed: string[] = [];
let objectCounts: { relation: string; facts: number; objects: number }[] = [];

await withStore(config, async (store) => {
  if (!args["skip-import"]) {
    const dirs = SEED_DIRS(config.seedsDir);
    await importMlama(store.pool, dirs.mlama);
    await importWrongObjects(store.pool, dirs.wrongObjects);
  }
  const languages = split(args.languages).length ? split(args.languages) : (await listLanguages(store.prisma)).map((l) => l.code);
  languagesUsed = languages;
  const relations = split(args.relations);
  relationsUsed = relations;
  const boss = await startQueue(store.url);
  try {
    for (const name of split(args.models).length ? split(args.models) : [...DEMO_MODELS]) {
      const dir = join(args["models-dir"]!, name);
      if (!existsSync(join(dir, "config.json"))) {
        log(`${name}: no checkpoint folder (train it with kn train-demo), skipped`);
        continue;
      }
      const hash = (await checkpointContentHash(dir)).slice(0, 12);
      const inTree = join(PROJECT_ROOT, "models", name);
      const treeHash = existsSync(join(inTree, "config.json")) ? (await checkpointContentHash(inTree)).slice(0, 12) : null;
      const checkpoint = await registerFolder(store.prisma, `${name}@${hash}`, dir);
      const cacheFile = join(cacheDir, `${checkpoint.name}.json`);
      const cache: Cache = {
        ...{ indexed: {}, localization: {}, crossLingual: {}, factChecking: {}, degenerate: {}, recall: {}, heldoutLocalization: {}, editing: {} },
        ...(!args.fresh && existsSync(cacheFile) ? JSON.parse(readFileSync(cacheFile, "utf8")) : {}),
      };
      const save = () => writeFileSync(cacheFile, JSON.stringify(cache));
      const scopeKey = `${languages.join(",")}|${relations.join(",")}`;

      for (const method of METHODS) {
        const key = `${method}|${scopeKey}`;
        if (cache.indexed[key]) continue;
        const job = await createIndexJob(store.pool, boss, { checkpointId: checkpoint.id, setting: settingOf(method), languages, relations, topK: 100, force: false, dkn: method === "amig-compat" });
        if (!job) throw new Error("no imported fact matches --languages / --relations");
        log(`${checkpoint.name} ${method}: ${job.total} runs, ${job.skipped} already stored`);
        const children = spawnWorkers(Number(args.workers) - 1, store.url, {});
        await runWorker({ pool: store.pool, boss, exitWhenIdle: true, loadModel: (p) => loadModel(p) });
        await Promise.all(children.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once("exit", r)))));
        cache.indexed[key] = true;
        save();
      }
      const lm = await loadModel(checkpoint.path);
      const model = attributionModel(lm);
      const analyses = analysisStore(store.pool);

      const scoreCache = new Map();
      for (const method of METHODS) {
        for (const language of languages) {
          const key = `${method}|${language}|${MAX_FACTS}|${relations.join(",")}`;
          if (cache.localization[key] !== undefined) continue;
          cache.localization[key] = await measureLocalization(analyses, model, { checkpointId: checkpoint.id, setting: settingOf(method), language, maxFacts: MAX_FACTS, scoreCache });
          save();
          log(`${checkpoint.name}: localization ${method} ${language}: ${cache.localization[key]} facts`);
        }
      }
      const localization = localizationReport(await localizationMeasures(store.pool, { checkpointId: checkpoint.id, methods: [...METHODS], languages }));

      const crossLingual: ModelResults["crossLingual"] = [];
      for (const target of languages.filter((l) => l !== "en")) {
        const key = `en-${target}|${relations.join(",")}`;
        cache.crossLingual[key] ??= await crossLingualEditing(analyses, model, { checkpointId: checkpoint.id, setting: AMIG, source: "en", target });
        save();
        crossLingual.push(...cache.crossLingual[key].map((r) => ({ ...r, pair: `en–${target}` })));
      }
      log(`${checkpoint.name}: cross-lingual editing done`);

      const facts = await analyses.indexedFacts({ checkpointId: checkpoint.id, setting: AMIG, languages });
      const byFact = new Map<string, Map<string, (typeof facts)[number]>>();
      for (const f of facts) byFact.set(f.factId, (byFact.get(f.factId) ?? new Map()).set(f.language, f));
      const likn: LiknShare[] = languages.filter((l) => l !== "en").map((language) => {
        const sizes = [...byFact.values()].flatMap((m) => {
          const en = m.get("en");
          const x = m.get(language);
          if (!en || !x) return [];
          const keys = new Set(en.neurons.map(([l, i]) => `${l}:${i}`));
          return [x.neurons.filter(([l, i]) => keys.has(`${l}:${i}`)).length];
        });
        return { language, shared: wilsonInterval(sizes.filter((s) => s > 0).length, sizes.length), meanSize: sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length) };
      });

      const factChecking: ModelResults["factChecking"] = [];
      for (const language of languages) {
        const key = `${language}|${relations.join(",")}`;
        if (!cache.factChecking[key]) {
          const r = await evaluateFactChecking(analyses, model, { checkpointId: checkpoint.id, setting: AMIG, language });
          await saveFactCheckEvaluation(store.prisma, { checkpointId: checkpoint.id, language, method: "amig-compat", threshold: 1e-6, rho: 0.7, seed: 42 }, r);
          const { sweep: _sweep, ...statistics } = r.statistics;
          cache.factChecking[key] = { ...statistics, sweep: [], relations: r.relations.length, skipped: r.skippedRelations };
          save();
        }
        factChecking.push({ ...cache.factChecking[key], language });
      }
      log(`${checkpoint.name}: fact-checking done`);

      const degenerate: DegenerateValidity[] = [];
      for (const language of languages) {
        const key = `${language}|${DKN_FACTS}|${relations.join(",")}`;
        cache.degenerate[key] ??= await degenerateValidity(analyses, model, { checkpointId: checkpoint.id, setting: AMIG, language, maxFacts: DKN_FACTS, maxSetSize: 4 });
        save();
        degenerate.push(cache.degenerate[key]);
      }
      log(`${checkpoint.name}: degenerate-neuron validity done`);
      const layers = await layerDistributions(analyses, { checkpointId: checkpoint.id, setting: AMIG, languages, nLayers: checkpoint.nLayers });
      const methodLayers: ModelResults["methodLayers"] = [];
      for (const method of METHODS) {
        const rows = await layerDistributions(analyses, { checkpointId: checkpoint.id, setting: settingOf(method), languages, nLayers: checkpoint.nLayers });
        methodLayers.push(...rows.filter((r) => r.kind === "knowledge").map((r) => ({ ...r, method })));
      }

      // held-out paraphrases: top-1 recall of the seed facts in each phrasing (every fact in scope)
      const seedFacts = (await loadSeeds(SEED_DIRS(config.seedsDir).mlama, { languages, relations: relations.length ? relations : undefined })).facts;
      const en = seedFacts.filter((f) => f.language === "en");
      objectCounts = [...new Set(en.map((f) => f.relation))].sort().map((relation) => {
        const of = en.filter((f) => f.relation === relation);
        return { relation, facts: of.length, objects: new Set(of.map((f) => f.objUri)).size };
      });
      for (const set of TEMPLATE_SETS) {
        const key = `${set}|${scopeKey}`;
        if (cache.recall[key]) continue;
        const outcomes = await evaluateFacts(lm, withTemplates(seedFacts, set, (f) => f.relation));
        const counts = new Map<string, RecallCount>();
        for (const r of outcomes) {
          const c = counts.get(`${r.fact.language}|${r.fact.relation}`) ?? { language: r.fact.language, relation: r.fact.relation, correct: 0, n: 0 };
          c.n++;
          if (r.correct) c.correct++;
          counts.set(`${r.fact.language}|${r.fact.relation}`, c);
        }
        cache.recall[key] = [...counts.values()];
        save();
        log(`${checkpoint.name}: recall on ${set} phrasings: ${outcomes.length} prompts`);
      }
      const recall = Object.fromEntries(TEMPLATE_SETS.map((set) => [set, cache.recall[`${set}|${scopeKey}`]])) as Record<TemplateSet, RecallCount[]>;

      // UPDATE rules compared: each indexed language as the source, measured on trained and held-out phrasings
      const editing: EditingResult[] = [];
      for (const source of languages.filter((l) => split(args["edit-sources"]).includes(l))) {
        for (const templates of TEMPLATE_SETS) {
          const key = `${source}|${templates}|${EDIT_FACTS}|${EDIT_UNRELATED}|${relations.join(",")}`;
          if (!cache.editing[key]) {
            const r = await evaluateEditing(analyses, lm, {
              checkpointId: checkpoint.id, setting: AMIG, sourceLanguage: source, rules: UPDATE_RULES, strengths: [UPDATE_LAMBDA], templates, factsPerRelation: EDIT_FACTS, unrelatedPerLanguage: EDIT_UNRELATED,
            });
            await saveEditEvaluation(store.prisma, { checkpointId: checkpoint.id, sourceLanguage: source, templates, method: AMIG.method, steps: AMIG.steps, seed: "42" }, r);
            const { records, ...summary } = r;
            cache.editing[key] = { ...summary, edits: records.length };
            save();
            log(`${checkpoint.name}: UPDATE comparison from ${source} on ${templates} phrasings: ${records.length} edits`);
          }
          editing.push(cache.editing[key]);
        }
      }

      // held-out paraphrases: the same facts and neurons (runs on the trained prompts), every prompt re-phrased
      const heldout: AnalysisStore = { ...analyses, indexedFacts: async (q) => withTemplates(await analyses.indexedFacts(q), "heldout", (f) => f.relationId) };
      const heldoutLanguages = languages.filter((l) => split(args["heldout-languages"]).includes(l));
      for (const method of METHODS) {
        for (const language of heldoutLanguages) {
          const key = `${method}|${language}|${MAX_FACTS}|${relations.join(",")}`;
          if (cache.heldoutLocalization[key] !== undefined) continue;
          cache.heldoutLocalization[key] = await measureLocalization(heldout, model, { checkpointId: checkpoint.id, setting: settingOf(method), language, maxFacts: MAX_FACTS, scoreCache, templateSet: "heldout" });
          save();
          log(`${checkpoint.name}: held-out localization ${method} ${language}: ${cache.heldoutLocalization[key]} facts`);
        }
      }
      const heldoutLocalization = localizationReport(await localizationMeasures(store.pool, { checkpointId: checkpoint.id, methods: [...METHODS], languages: heldoutLanguages, templateSet: "heldout" }));

      const runs = await countRuns(store.pool, checkpoint.id);
      results.push({
        name, checkpoint: checkpoint.name, treeHash, nLayers: checkpoint.nLayers, runs, localization, crossLingual, likn, factChecking, degenerate, layers,
        methodLayers, runSizes: await runSizes(store.pool, checkpoint.id), recall, heldoutLocalization, editing,
        shape: `${checkpoint.modelType}, ${checkpoint.nLayers} layers × ${checkpoint.ffnWidth} FFN units, hidden ${checkpoint.hidden}`,
      });
      lm.dispose();
    }
  } finally {
    await boss.stop({ graceful: false, wait: true }).catch(() => undefined);
  }
});

// ---- formatting -------------------------------------------------------------------------------

const num = (x: number, d = 3) => (Object.is(x, -0) ? 0 : x).toFixed(d);
const est = (e: Estimate | null | undefined, d = 3) => (e ? `${num(e.estimate, d)} [${num(e.low, d)}, ${num(e.high, d)}]` : "–");
const pct = (e: Estimate | null | undefined) => (e ? `${(100 * e.estimate).toFixed(1)}% [${(100 * e.low).toFixed(1)}, ${(100 * e.high).toFixed(1)}]` : "–");
const pValue = (p: number) => (p < 1e-4 ? "<1e-4" : p.toPrecision(2));
const excludesZero = (e: Estimate | null | undefined) => !!e && (e.low > 0 || e.high < 0);

/** Localization table of one model: every condition of every method, the controls beside their method. */
function localizationTable(report: LocalizationReport, target: "related" | "unrelated"): string {
  const rows = report.conditions
    .filter((c) => (target === "related" ? c.target === "related" : c.neuronSet === "kn"))
    .sort((a, b) => a.language.localeCompare(b.language) || a.method.localeCompare(b.method) || a.target.localeCompare(b.target) || order(a.neuronSet) - order(b.neuronSet))
    .map(
      (c) =>
        `| ${c.language} | ${c.method} | ${target === "related" ? c.neuronSet : c.target} | ${c.facts} | ${num(c.meanNeurons, 1)} | ${num(c.meanBase)} | ${est(c.suppressLogp, 2)} | ${pct(c.suppressFlip)} | ${est(c.enhanceLogp, 2)} | ${pct(c.enhanceFlip)} | ${pct(c.suppressRel)} (n=${c.suppressRel?.n ?? 0}) | ${pct(c.enhanceRel)} (n=${c.enhanceRel?.n ?? 0}) |`,
    );
  return [
    `| lang | method | ${target === "related" ? "neuron set" : "measured on"} | n facts | mean \\|N\\| | mean P₀ | suppress Δlog p [95% CI] | suppress flip rate | enhance Δlog p | enhance flip rate | suppress relative Δ | enhance relative Δ |`,
    "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ...rows,
  ].join("\n");
}
const order = (s: string) => ["kn", "random", "activation", "grad-x-act", "static"].indexOf(s);

function comparisonTable(cs: Comparison[], alpha: number): string {
  return [
    "| lang | a | b | measure | n | mean a − b [95% CI] | Wilcoxon W | p | significant (α = " + alpha.toPrecision(2) + ") |",
    "|---|---|---|---|--:|--:|--:|--:|---|",
    ...cs.map((c) => `| ${c.language} | ${c.a} | ${c.b} | ${c.measure} | ${c.difference?.n ?? 0} | ${est(c.difference, 2)} | ${c.wilcoxon?.statistic ?? "–"} | ${c.wilcoxon ? pValue(c.wilcoxon.p) : "–"} | ${significant(c, alpha) ? "yes" : "no"} |`),
  ].join("\n");
}
const significant = (c: Comparison, alpha: number) => !!c.wilcoxon && c.wilcoxon.p < alpha && excludesZero(c.difference);

/** Prose on localization: each sentence is printed only when its test holds. */
function localizationFindings(report: LocalizationReport, alpha: number): string[] {
  const lines: string[] = [];
  const cs = report.comparisons.filter((c) => c.measure === "suppressLogp");
  const methods = [...new Set(report.conditions.map((c) => c.method))];
  for (const method of methods) {
    const own = report.conditions.filter((c) => c.method === method && c.neuronSet === "kn" && c.target === "related");
    const lowers = own.filter((c) => c.suppressLogp && c.suppressLogp.high < 0);
    lines.push(`- ${method}: suppressing a fact's own knowledge neurons lowers log P(gold) with a 95% CI below 0 in ${lowers.length} of ${own.length} languages.`);
    for (const control of ["random", "activation", "grad-x-act", "static"]) {
      const vs = cs.filter((c) => c.a === `${method} kn related` && c.b === `${method} ${control} related`);
      if (!vs.length) continue;
      const stronger = vs.filter((c) => significant(c, alpha) && c.difference!.estimate < 0);
      const weaker = vs.filter((c) => significant(c, alpha) && c.difference!.estimate > 0);
      lines.push(
        `  - vs the ${control} control (same |N| per layer): a significantly larger suppression in ${stronger.length} of ${vs.length} languages${stronger.length ? ` (${stronger.map((c) => c.language).join(", ")})` : ""}` +
          (weaker.length ? `; a significantly smaller one in ${weaker.length} (${weaker.map((c) => c.language).join(", ")})` : "") +
          ".",
      );
    }
    const spec = cs.filter((c) => c.a === `${method} kn related` && c.b === `${method} kn same-relation`);
    const specific = spec.filter((c) => significant(c, alpha) && c.difference!.estimate < 0);
    if (spec.length) lines.push(`  - specificity: the same neurons move their own fact significantly more than a fact of the same relation in ${specific.length} of ${spec.length} languages.`);
  }
  for (let i = 0; i < methods.length; i++) {
    for (let j = i + 1; j < methods.length; j++) {
      const vs = cs.filter((c) => c.a === `${methods[i]} kn related` && c.b === `${methods[j]} kn related`);
      if (!vs.length) continue;
      const a = vs.filter((c) => significant(c, alpha) && c.difference!.estimate < 0).map((c) => c.language);
      const b = vs.filter((c) => significant(c, alpha) && c.difference!.estimate > 0).map((c) => c.language);
      lines.push(
        `- ${methods[i]} vs ${methods[j]} (own neurons, suppression Δlog p, paired by fact): ${methods[i]} significantly stronger in ${a.length} of ${vs.length} languages${a.length ? ` (${a.join(", ")})` : ""}, ${methods[j]} in ${b.length}${b.length ? ` (${b.join(", ")})` : ""}` +
          (a.length === 0 && b.length === 0 ? "; no language shows a significant difference." : ".") +
          " The sets differ in size (mean |N| in the table), which this comparison does not control; the controls above do.",
      );
    }
  }
  const saturated = report.conditions.filter((c) => c.neuronSet === "kn" && c.target === "related" && c.meanBase > 0.8);
  if (saturated.length) {
    lines.push(
      `- Saturation: mean P₀ exceeds 0.8 in ${[...new Set(saturated.map((c) => `${c.method}/${c.language}`))].length} method/language cells (${saturated.map((c) => `${c.method}/${c.language} ${num(c.meanBase, 2)}`).join(", ")}); for a fact with P₀ > 0.8, enhancement can raise P(gold) by at most (1 − P₀)/P₀ < 25% relative, so there relative Δ of enhancement says little and Δlog p and flips are the measures to read.`,
    );
  }
  return lines;
}

const conditionName = (r: ModelResults["crossLingual"][number]) => r.condition.replace("src", "en").replace("tgt", r.pair.split("–")[1]);

function crossLingualTable(m: ModelResults): string {
  const rows = m.crossLingual.map(
    (r) =>
      `| ${r.pair} | ${conditionName(r)} | ${r.language} | ${r.facts} | ${est(r.logp.suppressRelated, 2)} | ${est(r.logp.suppressUnrelated, 2)} | ${est(r.specificity.difference, 2)} | ${r.specificity.wilcoxon ? pValue(r.specificity.wilcoxon.p) : "–"} | ${est(r.logp.enhanceRelated, 2)} | ${est(r.logp.enhanceUnrelated, 2)} | ${(100 * r.suppressRelated).toFixed(1)}% / ${(100 * r.suppressUnrelated).toFixed(1)}% |`,
  );
  return [
    "| pair | condition | measured in | n facts | suppress Δlog p, related [95% CI] | suppress Δlog p, unrelated | related − unrelated (paired) | Wilcoxon p | enhance Δlog p, related | enhance Δlog p, unrelated | suppress relative Δ related / unrelated (means) |",
    "|---|---|---|--:|--:|--:|--:|--:|--:|--:|--:|",
    ...rows,
  ].join("\n");
}

function crossLingualFindings(m: ModelResults): string[] {
  const alpha = 0.05 / Math.max(1, m.crossLingual.length);
  const beyond = (r: ModelResults["crossLingual"][number]) => !!r.specificity.wilcoxon && r.specificity.wilcoxon.p < alpha && !!r.specificity.difference && r.specificity.difference.high < 0;
  const lines: string[] = [];
  for (const [name, conditions] of [["LIKN edit (KN_en ∩ KN_x)", ["likn"]], ["transfer (one language's neurons measured in the other)", ["src->tgt", "tgt->src"]], ["joint edit (KN_en ∪ KN_x)", ["joint"]]] as const) {
    const rows = m.crossLingual.filter((r) => (conditions as readonly string[]).includes(r.condition));
    if (!rows.length) continue;
    const yes = rows.filter(beyond);
    const no = rows.filter((r) => !beyond(r)).map((r) => `${r.pair} ${conditionName(r)} in ${r.language}`);
    lines.push(
      `- ${name}: suppression lowers log P(gold) of the fact significantly more than of an unrelated fact (Bonferroni over ${m.crossLingual.length} rows) in ${yes.length} of ${rows.length} rows.` +
        (no.length ? ` No effect beyond the unrelated control in: ${no.join("; ")}.` : ""),
    );
  }
  return lines;
}

function liknTable(m: ModelResults): string {
  return [
    "| pair | facts with runs in both | share with a non-empty KN_en ∩ KN_x [95% Wilson CI] | mean \\|KN_en ∩ KN_x\\| |",
    "|---|--:|--:|--:|",
    ...m.likn.map((r) => `| en∩${r.language} | ${r.shared?.n ?? 0} | ${pct(r.shared)} | ${num(r.meanSize, 2)} |`),
  ].join("\n");
}

function factCheckingTable(m: ModelResults): string {
  const rule = (c: { precisionCI: Estimate | null; recallCI: Estimate | null; f1: number | null; accuracyCI: Estimate | null }) =>
    `P ${pct(c.precisionCI)}, R ${pct(c.recallCI)}, F1 ${c.f1 === null ? "–" : num(c.f1)}`;
  return [
    "| lang | candidates | relations used | AUROC of the DKN score [95% CI] | DKN at τ_fc = 1e-6 | model's own answer | accept all | random (p = ½) |",
    "|---|--:|--:|--:|---|---|---|---|",
    ...m.factChecking.map(
      (r) =>
        `| ${r.language} | ${r.n} | ${r.relations} | ${r.aurocCI ? est(r.aurocCI) : r.auroc ? num(r.auroc.auroc) : "–"} | ${rule(r.atThreshold)} | ${rule(r.direct)} | ${rule(r.acceptAll)} | ${rule(r.random)} |`,
    ),
  ].join("\n");
}

function factCheckingFindings(m: ModelResults): string[] {
  const lines: string[] = [];
  const cells = m.factChecking.filter((r) => r.n > 0);
  const below = cells.filter((r) => (r.atThreshold.f1 ?? 0) < (r.acceptAll.f1 ?? 0));
  const above = cells.filter((r) => (r.atThreshold.f1 ?? 0) > (r.acceptAll.f1 ?? 0));
  lines.push(
    `- The DKN rule at τ_fc = 1e-6 has a lower F1 than accepting every candidate in ${below.length} of ${cells.length} languages${below.length ? ` (${below.map((r) => r.language).join(", ")})` : ""}, a higher one in ${above.length}${above.length ? ` (${above.map((r) => r.language).join(", ")})` : ""} (point estimates: F1 carries no interval here; precision and recall do).`,
  );
  const separates = cells.filter((r) => r.aurocCI && r.aurocCI.low > 0.5);
  const chance = cells.filter((r) => r.aurocCI && r.aurocCI.low <= 0.5 && r.aurocCI.high >= 0.5);
  lines.push(
    `- The DKN score separates true from wrong objects (AUROC 95% CI above 0.5) in ${separates.length} of ${cells.length} languages${separates.length ? ` (${separates.map((r) => r.language).join(", ")})` : ""}; its CI includes 0.5 (no evidence of separation) in ${chance.length}${chance.length ? ` (${chance.map((r) => r.language).join(", ")})` : ""}.`,
  );
  const direct = cells.filter((r) => (r.direct.f1 ?? 0) > (r.atThreshold.f1 ?? 0));
  lines.push(`- The model's own greedy answer has a higher F1 than the DKN rule in ${direct.length} of ${cells.length} languages.`);
  const small = cells.filter((r) => r.n < 100);
  if (small.length) lines.push(`- Fewer than 100 candidates in ${small.map((r) => `${r.language} (${r.n})`).join(", ")}: wide intervals.`);
  return lines;
}

function degenerateTable(m: ModelResults): string {
  return [
    "| lang | pool | criterion | n facts | n pairs | pairs passing [95% Wilson] | facts with a passing pair [95% Wilson] |",
    "|---|---|---|--:|--:|--:|--:|",
    ...m.degenerate.flatMap((v) => v.outcomes.map((o) => `| ${v.language} | ${o.pool} | ${o.criterion} | ${o.facts} | ${o.pairs} | ${pct(o.pairRate)} | ${pct(o.factRate)} |`)),
  ].join("\n");
}

function degenerateFindings(m: ModelResults): string[] {
  const lines: string[] = [];
  for (const criterion of ["threshold", "superadditive"] as const) {
    const rows = m.degenerate.map((v) => ({ language: v.language, own: v.outcomes.find((o) => o.pool === "knowledge" && o.criterion === criterion), ctl: v.outcomes.filter((o) => o.pool !== "knowledge" && o.criterion === criterion) }));
    // the own pool beats a control pool when the Wilson intervals of the pair rates do not overlap
    const above = rows.filter((r) => r.own?.pairRate && r.ctl.length && r.ctl.every((c) => c.pairRate && r.own!.pairRate!.low > c.pairRate.high));
    const fpr = rows.flatMap((r) => r.ctl.filter((c) => c.pairRate && c.pairRate.estimate > 0).map((c) => `${r.language}/${c.pool} ${pct(c.pairRate)}`));
    lines.push(
      `- ${criterion} criterion: the facts' own pools pass at a higher pair rate than both control pools (non-overlapping Wilson intervals) in ${above.length} of ${rows.length} languages.` +
        (fpr.length ? ` Control pools pass too (false-positive rate of the test): ${fpr.join("; ")}.` : " No control pair passed."),
    );
  }
  const sizes = m.degenerate.map((v) => `${v.language}: ${Object.entries(v.setSizes).map(([k, n]) => `${n}×${k}`).join(", ") || "none"}`);
  lines.push(`- Greedy growth to sets of up to 4 neurons on the facts' own pools (threshold criterion) finds, per language, sets of these sizes (count×size): ${sizes.join("; ")}.`);
  return lines;
}

function layerFigure(m: ModelResults): Figure {
  const totals = new Map<string, number>();
  for (const r of m.layers) totals.set(`${r.kind}|${r.group}`, (totals.get(`${r.kind}|${r.group}`) ?? 0) + r.count);
  return {
    file: join(FIGURES_DIR, `${m.name}-layers.svg`),
    title: `${m.name}: where knowledge (KN), language-independent (en∩x) and degenerate (DKN) neurons lie`,
    values: m.layers.map((r) => ({ kind: r.kind, group: r.group, layer: r.layer, share: totals.get(`${r.kind}|${r.group}`) ? r.count / totals.get(`${r.kind}|${r.group}`)! : 0, count: r.count })),
  };
}


// ---- |KN| per method, language and relation -------------------------------------------------------

function tauLabel(r: RunSizeRow): string {
  const rules = [...new Set(r.tauRules.map((x) => (x && typeof x === "object" && "rule" in x ? String((x as { rule: unknown }).rule) : JSON.stringify(x))))].join("+");
  return `${r.tauMin === r.tauMax ? num(r.tauMin, 2) : `${num(r.tauMin, 2)}–${num(r.tauMax, 2)}`} (${rules})`;
}

/** Mean |KN| over every stored run (empty sets included), per method × language, one column per relation. */
function knSizeTable(m: ModelResults): string {
  const rows = m.runSizes.filter((r) => (METHODS as readonly string[]).includes(r.method) && r.steps === DEFAULT_RUN_SETTING.steps && r.targetMode === DEFAULT_RUN_SETTING.targetMode);
  const relations = [...new Set(rows.map((r) => r.relation))].sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
  const cells = new Map<string, RunSizeRow[]>();
  for (const r of rows) cells.set(`${r.method}|${r.language}`, [...(cells.get(`${r.method}|${r.language}`) ?? []), r]);
  const cell = (rs: RunSizeRow[]) => {
    const runs = rs.reduce((a, r) => a + r.runs, 0);
    if (!runs) return "–";
    const meanKn = rs.reduce((a, r) => a + r.meanKnowledge * r.runs, 0) / runs;
    return `${num(meanKn, 1)} (n=${runs}, ${rs.reduce((a, r) => a + r.empty, 0)} empty)`;
  };
  return [
    `| method | lang | τ (rule) | ${relations.join(" | ")} | all |`,
    `|---|---|---|${relations.map(() => "--:|").join("")}--:|`,
    ...[...cells].sort(([a], [b]) => a.localeCompare(b)).map(([k, rs]) => {
      const [method, language] = k.split("|");
      return `| ${method} | ${language} | ${rs.map(tauLabel).filter((x, i, a) => a.indexOf(x) === i).join(", ")} | ${relations.map((rel) => cell(rs.filter((r) => r.relation === rel))).join(" | ")} | ${cell(rs)} |`;
    }),
  ].join("\n");
}

function knSizeFindings(m: ModelResults): string[] {
  const rows = m.runSizes.filter((r) => (METHODS as readonly string[]).includes(r.method) && r.steps === DEFAULT_RUN_SETTING.steps);
  const languages = [...new Set(rows.map((r) => r.language))].sort();
  const lines: string[] = [];
  for (const language of languages) {
    const per = METHODS.map((method) => {
      const rs = rows.filter((r) => r.method === method && r.language === language);
      const runs = rs.reduce((a, r) => a + r.runs, 0);
      return { method, mean: runs ? rs.reduce((a, r) => a + r.meanKnowledge * r.runs, 0) / runs : NaN, runs };
    }).filter((x) => x.runs > 0);
    if (per.length < 2) continue;
    const sorted = [...per].sort((a, b) => a.mean - b.mean);
    lines.push(`- ${language}: mean |KN| per fact ranges from ${num(sorted[0].mean, 1)} (${sorted[0].method}) to ${num(sorted[sorted.length - 1].mean, 1)} (${sorted[sorted.length - 1].method}), a ratio of ${num(sorted[sorted.length - 1].mean / Math.max(1e-9, sorted[0].mean), 2)}; method comparisons on the methods' own sets are confounded by this, the per-layer matched controls are not.`);
  }
  return lines;
}

// ---- held-out paraphrases ---------------------------------------------------------------------------

const sumRecall = (rs: readonly RecallCount[]) => wilsonInterval(rs.reduce((a, r) => a + r.correct, 0), rs.reduce((a, r) => a + r.n, 0));

function recallTable(m: ModelResults): string {
  const keys = (by: "language" | "relation") => [...new Set(TEMPLATE_SETS.flatMap((s) => m.recall[s].map((r) => r[by])))].sort((a, b) => (by === "relation" ? Number(a.slice(1)) - Number(b.slice(1)) : a.localeCompare(b)));
  const row = (label: string, pick: (r: RecallCount) => boolean) => `| ${label} | ${TEMPLATE_SETS.map((s) => { const e = sumRecall(m.recall[s].filter(pick)); return `${pct(e)} (n=${e?.n ?? 0})`; }).join(" | ")} |`;
  return [
    `| language / relation | ${TEMPLATE_SETS.map((s) => `${s} phrasing: top-1 recall [95% Wilson]`).join(" | ")} |`,
    `|---|${TEMPLATE_SETS.map(() => "--:|").join("")}`,
    ...keys("language").map((l) => row(l, (r) => r.language === l)),
    ...keys("relation").map((rel) => row(rel, (r) => r.relation === rel)),
    row("all", () => true),
  ].join("\n");
}

function recallFindings(m: ModelResults): string[] {
  const languages = [...new Set(m.recall.trained.map((r) => r.language))].sort();
  const per = languages.map((language) => ({ language, trained: sumRecall(m.recall.trained.filter((r) => r.language === language)), heldout: sumRecall(m.recall.heldout.filter((r) => r.language === language)) }));
  const lower = per.filter((p) => p.trained && p.heldout && p.heldout.high < p.trained.low);
  const bar = per.filter((p) => p.trained && p.trained.estimate >= 0.9);
  return [
    `- Trained phrasing: recall ≥ 90% in ${bar.length} of ${per.length} languages${bar.length < per.length ? ` (below: ${per.filter((p) => !bar.includes(p)).map((p) => `${p.language} ${pct(p.trained)}`).join(", ")})` : ""}.`,
    `- Held-out phrasing: recall is lower than on the trained phrasing, with non-overlapping Wilson intervals, in ${lower.length} of ${per.length} languages${lower.length ? ` (${lower.map((p) => `${p.language}: ${(100 * p.heldout!.estimate).toFixed(1)}% vs ${(100 * p.trained!.estimate).toFixed(1)}%`).join("; ")})` : ""}.`,
  ];
}

/** The own-neuron rows and the random control, trained beside held-out phrasing. */
function phrasingTable(m: ModelResults): string {
  const pick = (r: LocalizationReport, method: string, language: string, set: string) => r.conditions.find((c) => c.method === method && c.language === language && c.neuronSet === set && c.target === "related");
  const rows: string[] = [];
  const languages = [...new Set(m.heldoutLocalization.conditions.map((c) => c.language))].sort();
  for (const language of languages) {
    for (const method of METHODS) {
      for (const [phrasing, report] of [["trained", m.localization], ["held-out", m.heldoutLocalization]] as const) {
        const kn = pick(report, method, language, "kn");
        const random = pick(report, method, language, "random");
        if (!kn) continue;
        rows.push(`| ${language} | ${method} | ${phrasing} | ${kn.facts} | ${num(kn.meanBase)} | ${est(kn.suppressLogp, 2)} | ${pct(kn.suppressFlip)} | ${est(random?.suppressLogp, 2)} | ${est(kn.enhanceLogp, 2)} | ${pct(kn.enhanceFlip)} |`);
      }
    }
  }
  return [
    "| lang | method | phrasing | n facts | mean P₀ | own neurons: suppress Δlog p [95% CI] | suppress flip rate | random control: suppress Δlog p | own neurons: enhance Δlog p | enhance flip rate |",
    "|---|---|---|--:|--:|--:|--:|--:|--:|--:|",
    ...rows,
  ].join("\n");
}

// ---- UPDATE edits ---------------------------------------------------------------------------------

const rateCell = (e: (Estimate & { successes?: number }) | null | undefined) => (e ? `${pct(e)} (${e.successes ?? Math.round(e.estimate * e.n)}/${e.n})` : "–");

function editingTable(m: ModelResults): string {
  const rows = m.editing.flatMap((r) =>
    r.summaries.map((s) => `| ${r.sourceLanguage} | ${r.templates} | ${s.rule} | ${s.strength} | ${s.edits} | ${rateCell(s.reliability)} | ${rateCell(s.movedOff)} | ${rateCell(s.generalityPooled)} |`),
  );
  return [
    "| source | phrasing measured | rule | λ | edits | success in the source language [95% Wilson] | moved off the gold answer | success in the other languages (pooled) |",
    "|---|---|---|--:|--:|--:|--:|--:|",
    ...rows,
  ].join("\n");
}

function editingLanguageTable(m: ModelResults): string {
  const rows = m.editing.flatMap((r) =>
    r.summaries.flatMap((s) =>
      s.locality.map((l) => {
        const g = s.generality.find((x) => x.language === l.language);
        return `| ${r.sourceLanguage} | ${r.templates} | ${s.rule} | ${l.language} | ${l.language === r.sourceLanguage ? `(source) ${rateCell(s.reliability)}` : rateCell(g?.rate)} | ${l.unchanged ? `${pct(l.unchanged)} (n=${l.unchanged.n} edits)` : "–"} | ${Number.isFinite(l.deltaLogGold) ? num(l.deltaLogGold, 3) : "–"} |`;
      }),
    ),
  );
  return [
    "| source | phrasing | rule | language | edited fact answers the new object [95% Wilson] | unrelated facts whose answer is unchanged (mean over edits) [95% CI] | unrelated: mean Δlog P(gold) |",
    "|---|---|---|---|--:|--:|--:|",
    ...rows,
  ].join("\n");
}

/** Two rates differ when their Wilson intervals do not overlap (conservative; the edits are paired). */
const compareRates = (a: Estimate | null, b: Estimate | null): "higher" | "lower" | "overlap" | null => (!a || !b ? null : a.low > b.high ? "higher" : a.high < b.low ? "lower" : "overlap");

function editingFindings(m: ModelResults): string[] {
  const lines: string[] = [];
  for (const r of m.editing) {
    const by = new Map(r.summaries.map((s) => [s.rule, s]));
    const emb = by.get("embedding");
    const grad = by.get("gradient");
    const head = `- ${r.sourceLanguage} neurons, ${r.templates} phrasing (candidates: ${r.candidates} facts answered correctly at the trained ${r.sourceLanguage} prompt; ${emb?.edits ?? 0} edits per rule):`;
    const parts: string[] = [];
    for (const s of [emb, grad]) {
      if (!s) continue;
      const rel = s.reliability;
      parts.push(`${s.rule} rule: ${rel ? `${(100 * rel.estimate).toFixed(1)}% [${(100 * rel.low).toFixed(1)}, ${(100 * rel.high).toFixed(1)}] success in ${r.sourceLanguage}` : "no edit measured"}${rel && rel.high < 0.5 ? " (fewer than half, even at the upper CI bound)" : ""}`);
    }
    const c = compareRates(grad?.reliability ?? null, emb?.reliability ?? null);
    if (c === "higher") parts.push("the gradient rule succeeds more often (non-overlapping intervals)");
    else if (c === "lower") parts.push("the embedding rule succeeds more often (non-overlapping intervals)");
    else if (c === "overlap") parts.push("the intervals overlap: no evidence at this n that one rule succeeds more often");
    const off = compareRates(grad?.movedOff ?? null, emb?.movedOff ?? null);
    if (grad?.movedOff && emb?.movedOff) {
      parts.push(
        `moved off the gold answer: gradient ${(100 * grad.movedOff.estimate).toFixed(1)}%, embedding ${(100 * emb.movedOff.estimate).toFixed(1)}% (n=${grad.movedOff.n})` +
          (off === "higher" ? ", the gradient rule more often (non-overlapping intervals)" : off === "lower" ? ", the embedding rule more often (non-overlapping intervals)" : ", intervals overlap"),
      );
    }
    const gen = [emb, grad].filter((s): s is RuleSummary => !!s && !!s.generalityPooled).map((s) => `${s.rule} ${(100 * s.generalityPooled!.estimate).toFixed(1)}% (n=${s.generalityPooled!.n})`);
    if (gen.length) parts.push(`success carried to the fact in the other languages: ${gen.join(", ")}`);
    const loc = [emb, grad].filter((s): s is RuleSummary => !!s).map((s) => {
      const worst = s.locality.filter((l) => l.unchanged).sort((a, b) => a.unchanged!.estimate - b.unchanged!.estimate)[0];
      return worst ? `${s.rule} lowest in ${worst.language}, ${pct(worst.unchanged)}` : null;
    }).filter(Boolean);
    if (loc.length) parts.push(`unrelated facts unchanged, lowest language: ${loc.join("; ")}`);
    lines.push(`${head} ${parts.join("; ")}.`);
  }
  return lines;
}

function methodLayerFigure(m: ModelResults): Figure {
  const totals = new Map<string, number>();
  for (const r of m.methodLayers) totals.set(`${r.method}|${r.group}`, (totals.get(`${r.method}|${r.group}`) ?? 0) + r.count);
  return {
    file: join(FIGURES_DIR, `${m.name}-kn-layers-by-method.svg`),
    title: `${m.name}: knowledge neurons per layer, by attribution method`,
    values: m.methodLayers.map((r) => ({ kind: r.method, group: r.group, layer: r.layer, share: totals.get(`${r.method}|${r.group}`) ? r.count / totals.get(`${r.method}|${r.group}`)! : 0, count: r.count })),
  };
}

// ---- document ---------------------------------------------------------------------------------

const figures = results.map(layerFigure);
const methodFigures = results.map(methodLayerFigure);
for (const f of [...figures, ...methodFigures]) await renderFigure(f);
const sections = results.map((m, k) => {
  const alpha = 0.05 / Math.max(1, m.localization.comparisons.length);
  const stale = m.treeHash && !m.checkpoint.endsWith(`@${m.treeHash}`)
    ? `\n**These are not the weights now in models/${m.name}** (content hash ${m.treeHash}); rerun \`npm run results\` to measure those.\n`
    : "";
  return `## ${m.name} (${m.shape}; checkpoint ${m.checkpoint}, ${m.runs} stored runs)
${stale}
### Localization with controls (§8, §13.2)

Per fact, the method's knowledge neurons (\`kn\`) and each control with the same number of neurons in every layer
are suppressed (×0) and enhanced (×2) at the object position. Δlog p = log P_after − log P_before of the gold
object; a flip is a change of the greedy answer. Random: mean over 5 draws per fact. Up to ${MAX_FACTS} facts per
language and method (seeded sample of the facts with a non-empty set). Intervals: bootstrap 95% over facts (2000
resamples); flip rates of single draws: Wilson. Relative Δ leaves out suppression Δ > 20 and enhancement Δ ≥ 250
(the reference filter), hence its own n.

${localizationTable(m.localization, "related")}

The same neurons on unrelated facts (one fact of the same relation with another object, and one of another
relation, for each of the seeds 42, 43, 44; mean over seeds per fact):

${localizationTable(m.localization, "unrelated")}

Paired tests (per-fact differences on the facts both conditions measured; two-sided Wilcoxon signed-rank;
significance after Bonferroni over the ${m.localization.comparisons.length} tests of this model):

<details><summary>${m.localization.comparisons.length} paired comparisons</summary>

${comparisonTable(m.localization.comparisons, alpha)}

</details>

What the numbers support (each line counts the intervals and significant tests above):

${localizationFindings(m.localization, alpha).join("\n")}

### Knowledge neurons per method, language and relation

Mean |KN| per fact over every stored run (facts with an empty set included; n = runs, "empty" = runs with no
neuron above τ·max), with the τ and τ rule stored with the runs:

${knSizeTable(m)}

${knSizeFindings(m).join("\n")}

Mean |N| of the facts measured in the localization sample (non-empty sets only):

${knSizes(m)}

![knowledge neurons per layer, by method](${relative(dirname(args.out!), methodFigures[k].file)})

Share of each method's knowledge neurons (all facts of a language) in each layer.

### Language-independent knowledge neurons (§5.1)

${liknTable(m)}

### Cross-lingual editing (§5.3), AMIG neurons

${crossLingualTable(m)}

${crossLingualFindings(m).join("\n")}

### Fact-checking with degenerate knowledge neurons (§7, §13.3)

The held-out 20% of each relation (seed 42), one true and one wrong object per fact. P = precision, R = recall
with "true fact" as the positive class, each with a 95% Wilson interval; AUROC CI by resampling facts.

${factCheckingTable(m)}

${factCheckingFindings(m).join("\n")}

### Degenerate neurons: does the pair test find more in a fact's own pool than in pools without its knowledge? (§13.4)

Pools: the fact's top-20 knowledge neurons (\`knowledge\`), another fact's top-20 (\`shuffled\`), random units with the
same count per layer (\`random\`), each tested on the fact's own prompt. Threshold criterion: §6.2 (θ_low 0.2,
θ_high 0.25); superadditive: additionally P(ab)/P₀ < P(a)/P₀ · P(b)/P₀ − 0.1. Up to ${DKN_FACTS} facts per language.

${degenerateTable(m)}

${degenerateFindings(m).join("\n")}

### Layers

![per-layer distributions](${relative(dirname(args.out!), figures[k].file)})

Share of occurrences per layer: every knowledge neuron of every fact (KN, per language), every neuron of
KN_en ∩ KN_x (per pair) and every member of every stored degenerate set (AMIG runs).

### Held-out paraphrases (Niu et al.)

One paraphrase template per relation and language is kept out of the demo model's training corpus and tokenizer
(src/data/template-sets.ts). Recall: the greedy answer equals the object, every seed fact in scope, each phrasing:

${recallTable(m)}

${recallFindings(m).join("\n")}

Localization on the held-out phrasing (languages ${[...new Set(m.heldoutLocalization.conditions.map((c) => c.language))].sort().join(", ")}): the same facts and the same knowledge neurons (attributed on the trained
prompt), with every prompt, the controls' scores and the unrelated facts re-phrased by the held-out template. The
activation, grad-x-act and static controls are therefore selected on the very prompt measured while the method's
neurons come from another phrasing: on held-out prompts those controls are favoured, the random control is not.
Own neurons and the random control, trained beside held-out:

${phrasingTable(m)}

What the held-out numbers support (the tests of the localization section, on the held-out measures; Bonferroni
over their ${m.heldoutLocalization.comparisons.length} paired tests):

${localizationFindings(m.heldoutLocalization, 0.05 / Math.max(1, m.heldoutLocalization.comparisons.length)).join("\n")}

<details><summary>Held-out localization, every condition</summary>

${localizationTable(m.heldoutLocalization, "related")}

</details>

### UPDATE edits: the embedding rule (§5.5, sign-corrected) and the output-direction rule (§13.5)

Per source language (${split(args["edit-sources"]).filter((l) => languagesUsed.includes(l)).join(", ")}), a seeded sample of up to ${EDIT_FACTS} facts per relation that the model answers correctly
there; each fact's AMIG knowledge neurons of the source language get the UPDATE of each rule (λ = ${UPDATE_LAMBDA})
towards the object of another fact of the same relation, computed at the trained prompt; the weights are restored
after each edit. Success: the edited fact's greedy answer is the new object (its label in that language);
generality: the same in the fact's other languages (every language the fact is labelled in, indexed or not);
locality: the share of ${EDIT_UNRELATED} seeded other facts per language (drawn from the indexed relations, the edited
fact left out) whose greedy answer is unchanged (mean over edits, bootstrap CI over edits). Measured on the trained phrasing and on the held-out paraphrase (same edits).

${editingTable(m)}

${editingFindings(m).join("\n")}

<details><summary>Generality and locality per language</summary>

${editingLanguageTable(m)}

</details>
`;
});

function knSizes(m: ModelResults): string {
  const kn = m.localization.conditions.filter((c) => c.neuronSet === "kn" && c.target === "related");
  const methods = [...new Set(kn.map((c) => c.method))].sort();
  const langs = [...new Set(kn.map((c) => c.language))].sort();
  return [
    `| method | ${langs.join(" | ")} |`,
    `|---|${langs.map(() => "--:|").join("")}`,
    ...methods.map((method) => `| ${method} | ${langs.map((l) => { const c = kn.find((x) => x.method === method && x.language === l); return c ? `${num(c.meanNeurons, 1)} (n=${c.facts})` : "–"; }).join(" | ")} |`),
  ].join("\n");
}

function limits(): string {
  const saturation = results.flatMap((m) =>
    m.localization.conditions.filter((c) => c.neuronSet === "kn" && c.target === "related" && c.method === "amig-compat").map((c) => `${m.name}/${c.language} ${num(c.meanBase, 2)}`),
  );
  return `## Limits

- The demo models are ${[...new Set(results.map((m) => `${m.nLayers}-layer`))].join(" and ")} models trained on the very prompts evaluated here (the mLAMA seed templates), unless a
  section says held-out. What they show is how the methods behave on a model that memorized these facts, not what
  pre-trained multilingual models store; localization on trained prompts can reflect memorized phrasing.
- Their training corpus contains alias sentences that tie an entity's names across languages. Shared neurons across
  languages (en∩x) may therefore come from those sentences rather than from language-independent knowledge.
- Saturation: mean P(gold) before any edit, AMIG facts (model/language mean P₀): ${saturation.join(", ")}. Near 1, relative
  Δ of enhancement is bounded by (1 − P₀)/P₀; read Δlog p and flips.
- Localization uses a seeded sample of up to ${MAX_FACTS} facts per language and method, degenerate-neuron validity up to
  ${DKN_FACTS}; n is printed next to every estimate. Pairs of one fact are not independent; the fact-level rates are.
- Scope: ${relationsUsed.length ? `${relationsUsed.length} relation(s) (${relationsUsed.join(", ")})` : "every imported relation"} and ${languagesUsed.length} language(s) (${languagesUsed.join(", ")})
  were indexed; every other statement is about these only. Facts of one relation can share their object (distinct
  objects / facts, en: ${objectCounts.map((o) => `${o.relation} ${o.objects}/${o.facts}`).join(", ")}), so facts are not independent draws of
  "knowledge"; the intervals treat them as if they were.
- Held-out phrasing: one paraphrase per relation and language, the neurons still attributed on the trained prompt.
  Where held-out recall is low, most held-out prompts are facts the model does not produce in that wording, so
  localization there measures how the neurons move a low probability, not a known fact.
- UPDATE comparison: up to ${EDIT_FACTS} edits per relation, source language and rule, one λ (${UPDATE_LAMBDA}); the two rules are
  compared by non-overlapping Wilson intervals although the edits are paired (conservative). Generality counts the
  fact in every language it has a label in; the alias sentences of the training corpus tie those labels, so success
  in another language may come from them rather than from shared neurons.
- BERT's static attribution is a logit-lens adaptation (the model is post-LN), not the method of Yu & Ananiadou.
- Timings are of a shared 2-core machine under load.
`;
}

const doc = `# Results on the demo models

Generated by \`npm run results\`${Object.entries(args).filter(([k, v]) => v && !["out", "workers", "fresh", "models-dir", "skip-import"].includes(k)).map(([k, v]) => ` --${k} ${v}`).join("")} (languages ${languagesUsed.join(", ")}); this invocation took ${Math.round((Date.now() - started) / 60000)} min on the development machine (2 cores shared with other work, wasm backend; load average ${loadStart} at the start, ${loadavg().map((x) => x.toFixed(1)).join(" / ")} at the end), not counting steps it read from the cache of earlier, interrupted invocations (the run is resumable). Every number is computed by this script from the runs and measurements it stored (recall: from the seed files), in this invocation or, for cached steps, an earlier one with the same arguments; every sentence under "What the numbers support" is a count of tests computed by tools/results/generate.ts.

Methods: AMIG (amig-compat, 20 steps), IG (Dai et al., 20 steps) and the static log-probability attribution (Yu & Ananiadou; one forward pass), each selecting neurons with score > τ·max, τ as stored with each run (the \`kn index\` default rule). Controls (§13.2): random units, top |activation|, one-step gradient × activation and static, each with the method's number of neurons in every layer.

${sections.join("\n")}
${limits()}`;
writeFileSync(args.out!, doc);
log(`wrote ${args.out} in ${Math.round((Date.now() - started) / 1000)} s`);
