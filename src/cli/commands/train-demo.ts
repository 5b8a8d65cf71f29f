// kn train-demo: trains a built-in demo model from scratch on the seed facts (TensorFlow.js,
// wasm backend, one CPU thread), saves it as a Hugging Face checkpoint folder, measures its
// seed-fact accuracy through the model runtime (as `kn eval` does) and writes its model card.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import { loadModel, ModelError, PROJECT_ROOT } from "../../model/index.ts";
import { evaluateFacts, summarize } from "../../train/evaluate.ts";
import { modelCard } from "../../train/model-card.ts";
import { withTemplates } from "../../data/template-sets.ts";
import { loadSeeds } from "../../train/seeds.ts";
import { defaultOptions, trainDemo, type TrainDemoOptions, type TrainResult } from "../../train/trainer.ts";
import { CliError } from "../errors.ts";
import { createProgress } from "../progress.ts";
import { DEFAULT_SEEDS_DIR, parseList } from "./eval.ts";

interface TrainFlags {
  arch: string;
  out?: string;
  seeds: string;
  seed: string;
  languages?: string;
  epochs?: string;
  batchSize?: string;
  lr?: string;
  hidden?: string;
  layers?: string;
  heads?: string;
  ffn?: string;
  vocabSize?: string;
  maxSteps?: string;
  skipEval?: boolean;
  cardOnly?: boolean;
  quiet?: boolean;
}

function intFlag(name: string, value: string | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new CliError(`--${name} must be an integer >= ${min}, not ${JSON.stringify(value)}`);
  return n;
}

export function register(program: Command): void {
  program
    .command("train-demo")
    .description("Train a demo model (masked: BERT, causal: GPT-2) from scratch on the seed facts and save it as a Hugging Face checkpoint")
    .requiredOption("--arch <masked|causal>", "masked (BERT architecture, WordPiece) or causal (GPT-2 architecture, byte-level BPE)")
    .option("--out <dir>", "output folder (default: models/demo-mbert or models/demo-mgpt)")
    .option("--seeds <dir>", "facts in the mLAMA layout", DEFAULT_SEEDS_DIR)
    .option("--seed <n>", "random seed (same seed, same weights)", "42")
    .option("--languages <list>", "comma-separated languages (default: every seed language)")
    .option("--epochs <n>", "maximum epochs")
    .option("--batch-size <n>", "sequences per optimizer step")
    .option("--lr <x>", "peak learning rate")
    .option("--hidden <n>", "hidden size")
    .option("--layers <n>", "transformer layers")
    .option("--heads <n>", "attention heads")
    .option("--ffn <n>", "FFN width")
    .option("--vocab-size <n>", "tokenizer vocabulary size")
    .option("--max-steps <n>", "stop after this many optimizer steps (quick checks)")
    .option("--skip-eval", "do not measure accuracy or write README.md after training")
    .option("--card-only", "no training: measure the model already in --out and rewrite its README.md from its training_log.json")
    .option("--quiet", "no progress display")
    .action(async (flags: TrainFlags) => {
      if (flags.arch !== "masked" && flags.arch !== "causal") throw new CliError(`--arch must be masked or causal, not ${JSON.stringify(flags.arch)}`);
      const arch = flags.arch;
      const name = arch === "masked" ? "demo-mbert" : "demo-mgpt";
      const outDir = path.resolve(flags.out ?? path.join(PROJECT_ROOT, "models", name));
      if (!fs.existsSync(flags.seeds)) throw new CliError(`seeds folder ${flags.seeds} does not exist`);
      const options: TrainDemoOptions = { ...defaultOptions(arch), seedsDir: flags.seeds, outDir };
      options.seed = intFlag("seed", flags.seed, 0) ?? options.seed;
      options.languages = parseList(flags.languages);
      options.epochs = intFlag("epochs", flags.epochs, 1) ?? options.epochs;
      options.batchSize = intFlag("batch-size", flags.batchSize, 1) ?? options.batchSize;
      options.hidden = intFlag("hidden", flags.hidden, 8) ?? options.hidden;
      options.layers = intFlag("layers", flags.layers, 1) ?? options.layers;
      options.heads = intFlag("heads", flags.heads, 1) ?? options.heads;
      options.ffn = intFlag("ffn", flags.ffn, 8) ?? 4 * options.hidden;
      options.vocabSize = intFlag("vocab-size", flags.vocabSize, 300) ?? options.vocabSize;
      options.maxSteps = intFlag("max-steps", flags.maxSteps, 1);
      if (flags.lr !== undefined) {
        const lr = Number(flags.lr);
        if (!(lr > 0 && lr < 1)) throw new CliError(`--lr must be a number between 0 and 1, not ${JSON.stringify(flags.lr)}`);
        options.learningRate = lr;
      }
      if (options.hidden % options.heads !== 0) throw new CliError(`--hidden ${options.hidden} is not divisible by --heads ${options.heads}`);

      const log = (line: string) => {
        if (!flags.quiet) process.stderr.write(`${line}\n`);
      };
      if (flags.cardOnly) {
        const logFile = path.join(outDir, "training_log.json");
        if (!fs.existsSync(logFile)) throw new CliError(`${logFile} does not exist: train the model first`);
        const logged = JSON.parse(fs.readFileSync(logFile, "utf8")) as TrainResult & { cpuSeconds?: number };
        const summary = await writeCard(outDir, { ...options, ...logged.options }, logged, logged.cpuSeconds, flags.quiet, log);
        process.stdout.write(`${JSON.stringify(summary)}\n`);
        return;
      }
      const progress = createProgress(`train ${name}`, 1, { quiet: flags.quiet, unit: " steps" });
      const cpu0 = process.cpuUsage();
      let result;
      try {
        result = await trainDemo({
          ...options,
          log,
          onStep: (p) => {
            progress.setTotal(p.totalSteps);
            progress.update(
              p.step,
              `epoch ${p.epoch}/${options.epochs} loss ${p.loss.toFixed(3)} acc ${(100 * p.accuracy).toFixed(1)}% lr ${p.learningRate.toExponential(1)}`,
            );
          },
          onEval: (e) => {
            const langs = Object.entries(e.languages)
              .map(([k, v]) => `${k} ${(100 * v).toFixed(1)}`)
              .join(" ");
            log(`\nepoch ${e.epoch}: seed-fact accuracy ${(100 * e.overall).toFixed(1)}% (${langs})`);
          },
        });
      } finally {
        progress.stop();
      }
      const cpu = process.cpuUsage(cpu0);
      log(
        `trained in ${result.seconds.toFixed(0)} s (${result.steps} steps, ${result.epochsRun} epochs); ` +
          `training-time accuracy ${(100 * result.finalTrainingAccuracy.overall).toFixed(1)}%; weights sha256 ${result.weightsSha256}`,
      );
      if (flags.skipEval) return;

      const summary = await writeCard(outDir, options, result, (cpu.user + cpu.system) / 1e6, flags.quiet, log);
      process.stdout.write(`${JSON.stringify(summary)}\n`);
    });
}

/**
 * Measures the saved model through the model runtime (as `kn eval` and the attribution engine load
 * it) on the trained and the held-out templates, writes README.md (the model card) and adds the
 * measurements to training_log.json. `cpuSeconds` is undefined when the training process did not
 * record it (a card rewritten with --card-only after a run that stopped before its card).
 */
async function writeCard(
  outDir: string,
  options: Pick<TrainDemoOptions, "seedsDir" | "languages">,
  result: TrainResult,
  cpuSeconds: number | undefined,
  quiet: boolean | undefined,
  log: (line: string) => void,
) {
  const evalStarted = Date.now();
  let model;
  try {
    model = await loadModel(outDir);
  } catch (err) {
    if (err instanceof ModelError) throw new CliError(`the saved model does not load: ${err.message}`);
    throw err;
  }
  const seeds = await loadSeeds(options.seedsDir, { languages: options.languages });
  const heldOutFacts = withTemplates(seeds.facts, "heldout", (f) => f.relation);
  const evalProgress = createProgress("eval", seeds.facts.length + heldOutFacts.length, { quiet, unit: " prompts" });
  let summary;
  let heldOut;
  try {
    summary = summarize(await evaluateFacts(model, seeds.facts, { onProgress: (d) => evalProgress.update(d) }));
    heldOut = summarize(await evaluateFacts(model, heldOutFacts, { onProgress: (d) => evalProgress.update(seeds.facts.length + d) }));
  } finally {
    evalProgress.stop();
    model.dispose();
  }
  const card = modelCard({
    name: path.basename(outDir),
    result,
    evaluation: summary,
    heldOut,
    evalSeconds: (Date.now() - evalStarted) / 1000,
    weightsBytes: fs.statSync(path.join(outDir, "model.safetensors")).size,
    cpuSeconds,
    languages: seeds.languages,
    relations: seeds.relations,
    node: process.versions.node,
    cpuModel: `${os.cpus()[0]?.model ?? "unknown CPU"}, ${os.cpus().length} cores`,
  });
  fs.writeFileSync(path.join(outDir, "README.md"), card);
  const logFile = path.join(outDir, "training_log.json");
  const logJson = JSON.parse(fs.readFileSync(logFile, "utf8")) as Record<string, unknown>;
  fs.writeFileSync(logFile, JSON.stringify({ ...logJson, cpuSeconds, evaluation: summary, evaluationHeldOut: heldOut }, null, 2) + "\n");
  log(`held-out paraphrases: ${JSON.stringify(heldOut)}`);
  return summary;
}
