import type { Command } from "commander";
import { attributeFact, TARGET_MODES, type TargetMode } from "../../attribution/fact-attribution.ts";
import { isMethod, METHODS, type Method } from "../../attribution/integrated-gradients.ts";
import { attributionModel } from "../../attribution/model-port.ts";
import { PromptError } from "../../attribution/prompts.ts";
import { selectKnowledgeNeurons, tauFor } from "../../attribution/selection.ts";
import { CliError } from "../errors.ts";
import { loadModelForCli } from "../load-model.ts";
import { positiveInt, BACKEND_HELP, ROW_BUDGET_HELP, rowBudgetOption } from "../options.ts";

interface AttributeFlags {
  model: string;
  text: string;
  target: string;
  method: string;
  steps: string;
  rowBudget?: string;
  language: string;
  targetMode: string;
  tau?: string;
  backend?: string;
  json?: boolean;
}


/**
 * `--text` is the prompt as a person writes it: for a masked LM it contains the mask token where
 * the object goes; for a causal LM it is the text the object continues. It becomes a template
 * with an empty subject so the same prompt builders as the indexer apply.
 */
function templateFromText(text: string, architecture: "masked" | "causal", maskToken: string | undefined): string {
  if (!text.trim()) throw new CliError("--text is empty");
  // The object follows after a space, unless the text ends in one or in an elided "l'", "d'".
  if (architecture === "causal") return `[X]${text}${/[\s'’ʼ]$/u.test(text) ? "" : " "}[Y]`;
  const count = maskToken ? text.split(maskToken).length - 1 : 0;
  if (count !== 1) throw new CliError(`a masked-LM prompt must contain the mask token ${maskToken ?? "[MASK]"} exactly once (found ${count})`);
  return `[X]${text.replace(maskToken!, "[Y]")}`;
}

export function register(program: Command): void {
  program
    .command("attribute")
    .description("Attribute a prompt's object to every FFN neuron (AMIG / IG) and select the knowledge neurons")
    .requiredOption("--model <dir|name>", "checkpoint folder or model name (demo-mbert, demo-mgpt)")
    .requiredOption("--text <prompt>", "masked LM: text with the mask token in the object slot; causal LM: the text to continue")
    .requiredOption("--target <object>", "the object whose probability is explained")
    .option("--method <method>", `one of ${METHODS.join(", ")}`, "amig-compat")
    .option("--steps <n>", "Riemann steps N", "20")
    .option("--row-budget <tokens>", ROW_BUDGET_HELP)
    .option("--language <code>", "language of the prompt (spacing of the object for causal LMs; default tau)", "en")
    .option("--target-mode <mode>", `${TARGET_MODES.join(" | ")}: how multi-piece objects are handled`, "clean")
    .option("--tau <x>", "selection threshold relative to the maximum (default: en 0.3, zh 0.2, others 0.3)")
    .option("--backend <name>", BACKEND_HELP)
    .option("--json", "print one JSON object")
    .action(async (flags: AttributeFlags) => {
      if (!isMethod(flags.method)) throw new CliError(`unknown --method ${JSON.stringify(flags.method)} (expected ${METHODS.join(", ")})`);
      if (!(TARGET_MODES as readonly string[]).includes(flags.targetMode)) throw new CliError(`unknown --target-mode ${JSON.stringify(flags.targetMode)}`);
      const method: Method = flags.method;
      const steps = positiveInt(flags.steps, "steps");
      const rowBudget = rowBudgetOption(flags.rowBudget);
      const tau = flags.tau === undefined ? tauFor(flags.language) : Number(flags.tau);
      if (!(tau >= 0 && tau <= 1)) throw new CliError(`--tau must be between 0 and 1 (got ${JSON.stringify(flags.tau)})`);
      if (!flags.target.trim()) throw new CliError("--target is empty");

      const lm = await loadModelForCli(flags.model, flags.backend, rowBudget);
      const model = attributionModel(lm);
      const template = templateFromText(flags.text, lm.architecture, lm.tokenizer.maskToken);
      let result;
      try {
        result = await attributeFact(model, { template, subject: "", object: flags.target, language: flags.language }, {
          method,
          steps,
          targetMode: flags.targetMode as TargetMode,
        });
      } catch (err) {
        if (err instanceof PromptError) throw new CliError(err.message);
        throw err;
      }
      const kn = selectKnowledgeNeurons(result.scores, tau);
      const out = {
        model: lm.dir,
        inputIds: result.inputIds,
        position: result.positions[0],
        positions: result.positions,
        targetIds: result.targetIds,
        method,
        steps,
        targetMode: flags.targetMode,
        targetProbs: result.targetProbs,
        goldProb: result.goldProb,
        predictedIds: result.predictedIds,
        predictedText: result.predictedText,
        tau,
        knowledgeNeurons: kn.map((n) => [n.layer, n.unit, n.score]),
        scores: result.scores.map((row) => Array.from(row)),
      };
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(out)}\n`);
      } else {
        process.stdout.write(
          `prompt ids ${JSON.stringify(out.inputIds)}, target ${JSON.stringify(out.targetIds)} at ${JSON.stringify(out.positions)}\n` +
            `P(target) = ${result.goldProb.toExponential(3)}; model predicts ${JSON.stringify(result.predictedText)}\n` +
            `${kn.length} knowledge neurons (${method}, N=${steps}, tau=${tau}):\n` +
            kn.slice(0, 30).map((n) => `  layer ${String(n.layer).padStart(2)} unit ${String(n.unit).padStart(5)}  ${n.score.toExponential(4)}`).join("\n") +
            (kn.length > 30 ? `\n  ... ${kn.length - 30} more (use --json)` : "") +
            "\n",
        );
      }
      lm.dispose();
    });
}
