// kn eval: top-1 accuracy of a model on the seed facts (masked LM: fill the object mask(s);
// causal LM: greedy continuation equals the object), through the same runtime and prompt
// builders as the attribution engine.
import path from "node:path";
import type { Command } from "commander";
import { ModelError, PROJECT_ROOT } from "../../model/index.ts";
import { PromptError } from "../../attribution/prompts.ts";
import { parseTemplateSet, TEMPLATE_SETS, withTemplates, type TemplateSet } from "../../data/template-sets.ts";
import { evaluateFacts, summarize, type FactResult } from "../../train/evaluate.ts";
import { loadSeeds } from "../../train/seeds.ts";
import { CliError } from "../errors.ts";
import { loadModelForCli } from "../load-model.ts";
import { createProgress } from "../progress.ts";
import { BACKEND_HELP } from "../options.ts";

interface EvalFlags {
  model: string;
  languages?: string;
  relations?: string;
  seeds: string;
  backend?: string;
  json?: boolean;
  failures?: string;
  templates: string;
  quiet?: boolean;
}

export const DEFAULT_SEEDS_DIR = path.join(PROJECT_ROOT, "seeds", "mlama");

export function parseList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const items = value
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new CliError("an empty list was given");
  return [...new Set(items)];
}

type Summary = ReturnType<typeof summarize>;

/** One accuracy column per template set (trained, held out), rows by language and relation. */
function printTable(sets: readonly TemplateSet[], summaries: Summary[], results: FactResult[], failures: number): void {
  const out = process.stdout;
  const pct = (x: number | undefined) => (x === undefined ? "–" : `${(100 * x).toFixed(1)}%`).padStart(9);
  const header = (first: string) => `${first.padEnd(8)} ${sets.map((s) => s.padStart(9)).join(" ")}\n`;
  const rows = (pick: (s: Summary) => Record<string, number>) => {
    for (const k of Object.keys(pick(summaries[0]))) out.write(`${k.padEnd(8)} ${summaries.map((s) => pct(pick(s)[k])).join(" ")}\n`);
  };
  out.write(header("") + `${"prompts".padEnd(8)} ${summaries.map((s) => String(s.facts).padStart(9)).join(" ")}\n`);
  out.write(`${"overall".padEnd(8)} ${summaries.map((s) => pct(s.overall)).join(" ")}\n\n`);
  out.write(header("language"));
  rows((s) => s.languages);
  out.write("\n" + header("relation"));
  rows((s) => s.relations);
  const wrong = results.filter((r) => !r.correct);
  if (failures > 0 && wrong.length > 0) {
    out.write(`\nwrong (first ${Math.min(failures, wrong.length)} of ${wrong.length})\n`);
    for (const r of wrong.slice(0, failures)) {
      out.write(`${r.fact.language} ${r.fact.relation} ${JSON.stringify(r.fact.template)} ${r.fact.subject} -> expected ${JSON.stringify(r.fact.object)}, got ${JSON.stringify(r.predicted.trim())}\n`);
    }
  }
}

function invalidSet(value: string): never {
  throw new CliError(`--templates must be trained, heldout or all, not ${JSON.stringify(value)}`);
}

export function register(program: Command): void {
  program
    .command("eval")
    .description("Top-1 accuracy of a model on the seed facts (masked: fill the object mask(s); causal: greedy continuation)")
    .requiredOption("--model <dir|name>", "checkpoint folder, or a name under models/ (e.g. demo-mbert, demo-mgpt)")
    .option("--languages <list>", "comma-separated languages (default: every seed language)")
    .option("--relations <list>", "comma-separated relations, e.g. P17,P19 (default: all)")
    .option("--seeds <dir>", "facts in the mLAMA layout", DEFAULT_SEEDS_DIR)
    .option("--backend <name>", BACKEND_HELP)
    .option("--failures <n>", "list this many wrong facts (table output only)", "0")
    .option("--templates <set>", `phrasings: trained (each fact's seed template), heldout (paraphrases kept out of the demo models' training) or all (a column each)`, "all")
    .option("--json", 'print one JSON object {"overall", "languages", "relations", "facts"} (trained or heldout; with all: {"trained": …, "heldout": …})')
    .option("--quiet", "no progress display")
    .action(async (flags: EvalFlags) => {
      const failures = Number(flags.failures ?? "0");
      if (!Number.isInteger(failures) || failures < 0) throw new CliError(`--failures must be a non-negative integer, not ${JSON.stringify(flags.failures)}`);
      const sets: TemplateSet[] = flags.templates === "all" ? [...TEMPLATE_SETS] : [parseTemplateSet(flags.templates) ?? invalidSet(flags.templates)];
      const languages = parseList(flags.languages);
      const relations = parseList(flags.relations);
      let seeds;
      try {
        seeds = await loadSeeds(flags.seeds, { languages, relations });
      } catch (err) {
        throw new CliError(`cannot read the seed facts: ${(err as Error).message}`);
      }
      if (relations) {
        const missing = relations.filter((r) => !seeds.relations.includes(r));
        if (missing.length) throw new CliError(`relation(s) not found in ${flags.seeds}: ${missing.join(", ")}`);
      }
      if (seeds.facts.length === 0) throw new CliError(`no facts to evaluate in ${flags.seeds}`);
      const model = await loadModelForCli(flags.model, flags.backend);
      const factSets = sets.map((set) => withTemplates(seeds.facts, set, (f) => f.relation));
      const total = factSets.reduce((n, f) => n + f.length, 0);
      const progress = createProgress("eval", total, { quiet: flags.quiet, unit: " prompts" });
      try {
        const results: FactResult[][] = [];
        let done = 0;
        for (const facts of factSets) {
          results.push(await evaluateFacts(model, facts, { onProgress: (d) => progress.update(done + d) }));
          done += facts.length;
        }
        progress.stop();
        const summaries = results.map((r) => summarize(r));
        if (flags.json) {
          const json = sets.length === 1 ? summaries[0] : Object.fromEntries(sets.map((set, i) => [set, summaries[i]]));
          process.stdout.write(`${JSON.stringify(json)}\n`);
        } else printTable(sets, summaries, results.flat(), failures);
      } catch (err) {
        progress.stop();
        if (err instanceof ModelError || err instanceof PromptError) throw new CliError(err.message);
        throw err;
      } finally {
        model.dispose();
      }
    });
}
