// kn predict: what a model puts at the [MASK] (masked LM) or next (causal LM) position of one
// prompt. A quick check that a checkpoint loads and behaves before attributing anything.
import type { Command } from "commander";
import { type LanguageModel, ModelError } from "../../model/index.ts";
import { CliError } from "../errors.ts";
import { loadModelForCli } from "../load-model.ts";
import { BACKEND_HELP } from "../options.ts";

interface PredictFlags {
  model: string;
  text: string;
  top: string;
  backend?: string;
  json?: boolean;
}

export interface Prediction {
  /** Token ids of the prompt, special tokens included. */
  inputIds: number[];
  /** The position read: the first mask token (masked LM) or the last token (causal LM). */
  position: number;
  top: Array<{ id: number; token: string; prob: number }>;
}

export async function predict(model: LanguageModel, text: string, top: number): Promise<Prediction> {
  const tok = model.tokenizer;
  const inputIds = tok.encode(text);
  if (inputIds.length === 0) throw new CliError("the text gives no tokens");
  if (model.architecture === "masked" && (tok.maskId === undefined || !inputIds.includes(tok.maskId))) {
    throw new CliError(`a masked LM needs the mask token ${tok.maskToken ?? "[MASK]"} in --text`);
  }
  const position = model.targetPosition(inputIds);
  const probs = await model.probabilities(inputIds, { position });
  const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a] || a - b);
  return {
    inputIds,
    position,
    top: order.slice(0, top).map((id) => ({ id, token: tok.idToToken(id) ?? `<${id}>`, prob: probs[id] })),
  };
}

function printTable(model: LanguageModel, text: string, p: Prediction): void {
  const tok = model.tokenizer;
  const out = process.stdout;
  out.write(`model    ${model.dir} (${model.modelType}, ${model.architecture} LM, ${model.backend} backend)\n`);
  out.write(`text     ${JSON.stringify(text)}\n`);
  out.write(`tokens   ${p.inputIds.map((id) => tok.idToToken(id) ?? id).join(" ")}\n`);
  out.write(`position ${p.position} (${model.architecture === "masked" ? "mask token" : "next token after the last"})\n\n`);
  out.write(`${"rank".padStart(4)}  ${"prob".padStart(8)}  ${"id".padStart(7)}  token\n`);
  p.top.forEach((t, i) => {
    out.write(`${String(i + 1).padStart(4)}  ${t.prob.toFixed(6).padStart(8)}  ${String(t.id).padStart(7)}  ${t.token}  ${JSON.stringify(tok.decode([t.id]))}\n`);
  });
}

export function register(program: Command): void {
  program
    .command("predict")
    .description("Show a model's top predictions at the [MASK] (masked LM) or next-token (causal LM) position")
    .requiredOption("--model <dir|name>", "checkpoint folder, or a name under models/ (e.g. demo-mbert, demo-mgpt)")
    .requiredOption("--text <text>", 'prompt; masked LMs need the mask token, e.g. "Paris is the capital of [MASK] ."')
    .option("--top <n>", "how many predictions", "20")
    .option("--backend <name>", BACKEND_HELP)
    .option("--json", "print one JSON object {inputIds, position, top: [{id, token, prob}]}")
    .action(async (flags: PredictFlags) => {
      if (!flags.text.trim()) throw new CliError("--text is empty");
      const top = Number(flags.top);
      if (!Number.isInteger(top) || top < 1) throw new CliError(`--top must be a positive integer, not ${JSON.stringify(flags.top)}`);
      const model = await loadModelForCli(flags.model, flags.backend);
      try {
        const prediction = await predict(model, flags.text, top);
        if (flags.json) process.stdout.write(`${JSON.stringify(prediction)}\n`);
        else printTable(model, flags.text, prediction);
      } catch (err) {
        if (err instanceof ModelError) throw new CliError(err.message);
        throw err;
      } finally {
        model.dispose();
      }
    });
}
