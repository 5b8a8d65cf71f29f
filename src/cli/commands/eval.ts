// kn eval: top-1 accuracy of a model on the seed facts (masked LM: fill the object mask(s);
// causal LM: greedy continuation equals the object), through the same runtime and prompt
// builders as the attribution engine.
import path from "node:path";
import type { Command } from "commander";
import { ModelError, PROJECT_ROOT } from "../../model/index.ts";
import { PromptError } from "../../attribution/prompts.ts";
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

function printTable(summary: ReturnType<typeof summarize>, results: FactResult[], failures: number): void {
  const out = process.stdout;
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`.padStart(7);
  out.write(`facts    ${summary.facts}\noverall  ${pct(summary.overall)}\n\nlanguage accuracy\n`);
  for (const [k, v] of Object.entries(summary.languages)) out.write(`${k.padEnd(8)} ${pct(v)}\n`);
  out.write(`\nrelation accuracy\n`);
  for (const [k, v] of Object.entries(summary.relations)) out.write(`${k.padEnd(8)} ${pct(v)}\n`);
  const wrong = results.filter((r) => !r.correct);
  if (failures > 0 && wrong.length > 0) {
    out.write(`\nwrong (first ${Math.min(failures, wrong.length)} of ${wrong.length})\n`);
    for (const r of wrong.slice(0, failures)) {
      out.write(`${r.fact.language} ${r.fact.relation} ${r.fact.subject} -> expected ${JSON.stringify(r.fact.object)}, got ${JSON.stringify(r.predicted.trim())}\n`);
    }
  }
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
    .option("--json", 'print one JSON object {"overall", "languages", "relations", "facts"}')
    .option("--quiet", "no progress display")
    .action(async (flags: EvalFlags) => {
      const failures = Number(flags.failures ?? "0");
      if (!Number.isInteger(failures) || failures < 0) throw new CliError(`--failures must be a non-negative integer, not ${JSON.stringify(flags.failures)}`);
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
      const progress = createProgress("eval", seeds.facts.length, { quiet: flags.quiet, unit: " facts" });
      try {
        const results = await evaluateFacts(model, seeds.facts, { onProgress: (done) => progress.update(done) });
        progress.stop();
        const summary = summarize(results);
        if (flags.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else printTable(summary, results, failures);
      } catch (err) {
        progress.stop();
        if (err instanceof ModelError || err instanceof PromptError) throw new CliError(err.message);
        throw err;
      } finally {
        model.dispose();
      }
    });
}
