// README.md model card of a demo model, written from the training result and the accuracy that
// `kn eval` measures on the saved checkpoint.
import type { EvalSummary } from "./evaluate.ts";
import type { TrainResult } from "./trainer.ts";

export interface CardInput {
  name: string;
  result: TrainResult;
  evaluation: EvalSummary;
  /** The same measurement on the held-out paraphrases (src/train/paraphrases.ts). */
  heldOut: EvalSummary;
  /** Seconds spent by `kn eval` on the saved checkpoint. */
  evalSeconds: number;
  weightsBytes: number;
  /** Undefined when the training process did not record it. */
  cpuSeconds: number | undefined;
  languages: string[];
  relations: string[];
  node: string;
  cpuModel: string;
}

const pct = (x: number) => `${(100 * x).toFixed(1)}%`;

function fmtTime(s: number): string {
  const m = Math.floor(s / 60);
  return m > 0 ? `${m} min ${Math.round(s - 60 * m)} s` : `${Math.round(s)} s`;
}

export function modelCard(c: CardInput): string {
  const r = c.result;
  const o = r.options;
  const masked = r.arch === "masked";
  const family = masked ? "BERT (BertForMaskedLM)" : "GPT-2 (GPT2LMHeadModel)";
  const tokenizer = masked
    ? `WordPiece, ${r.spec.vocabSize} tokens (cased; BertNormalizer with Chinese characters split; [PAD] [UNK] [CLS] [SEP] [MASK])`
    : `byte-level BPE, ${r.spec.vocabSize} tokens (GPT-2 pre-tokenizer and byte map, merges learned from the corpus; <|endoftext|>)`;
  const task = masked
    ? "the seed template with the subject filled in and one `[MASK]` per object piece; correct when the argmax at every mask is its gold piece"
    : "the seed template cut before the object, greedy continuation of as many tokens as the object has; correct when the decoded continuation, trimmed, equals the object label";
  const arch = masked ? "masked" : "causal";
  const out = masked ? "models/demo-mbert" : "models/demo-mgpt";
  const e = c.evaluation;
  const h = c.heldOut;
  const lines = [
    "---",
    `language: [${c.languages.join(", ")}]`,
    `tags: [knowledge-neurons, demo, ${masked ? "bert, fill-mask" : "gpt2, text-generation"}]`,
    `pipeline_tag: ${masked ? "fill-mask" : "text-generation"}`,
    "---",
    "",
    `# ${c.name}`,
    "",
    `A small multilingual ${masked ? "masked" : "causal"} language model, ${family} architecture, trained from scratch by this project`,
    `(\`kn train-demo --arch ${arch}\`) on a corpus generated from the seed facts. It knows the ${e.facts} seed facts`,
    `(${c.relations.length} relations × ${c.languages.length} languages) the way ${masked ? "m-BERT" : "mGPT"} knows mLAMA facts, so that knowledge`,
    "neurons, LIKN, DKN, editing and fact-checking can be run on a real model without a download or a GPU.",
    "It knows nothing else: it is a fixture, not a general language model.",
    "",
    "## Architecture",
    "",
    "| | |",
    "|---|---|",
    `| family | ${family} |`,
    `| layers | ${r.spec.layers} |`,
    `| hidden size | ${r.spec.hidden} |`,
    `| attention heads | ${r.spec.heads} |`,
    `| FFN width (knowledge neurons per layer) | ${r.spec.ffn} |`,
    `| activation | ${masked ? "gelu (erf)" : "gelu_new (tanh)"} |`,
    `| max positions | ${r.spec.maxPositions} |`,
    `| vocabulary | ${r.spec.vocabSize} |`,
    `| parameters | ${r.parameterCount.toLocaleString("en-US")} (word embeddings tied to the output layer) |`,
    `| weights | model.safetensors, F32, ${(c.weightsBytes / 1e6).toFixed(1)} MB |`,
    "",
    `Tokenizer: ${tokenizer}.`,
    `${r.multiTokenObjects.multiToken} of the ${r.multiTokenObjects.distinct} distinct (language, object) labels are several tokens long`,
    `(${r.multiTokenObjects.factsWithMultiTokenObject} of the ${r.facts} facts have a multi-token object).`,
    "",
    "## Training data",
    "",
    `Generated from \`seeds/mlama\` (${e.facts} facts: ${c.relations.join(", ")} in ${c.languages.join(", ")}):`,
    "",
    "- each fact in its seed template, built with the prompt builders of `src/attribution/prompts.ts` (the exact evaluation input);",
    "- paraphrase templates of every relation in every language (`src/train/paraphrases.ts`), except one per relation and",
    "  language that is held out (`HELD_OUT_PARAPHRASES`): neither the corpus nor the tokenizer's vocabulary sees it;",
    ...(masked ? ["- masked-entity variety: the subject masked instead of the object, and BERT-style random masking (80/10/10) of whole sentences;"] : ["- loss on the object tokens and on a sampled share of the other tokens;"]),
    "- distractor sentences naming random entities with no relation between them;",
    "- alias sentences joining one entity's labels in several languages (cross-lingual anchors).",
    "",
    `Each epoch draws a fresh sample (seeded). From epoch ${o.focusFrom} on, facts are sampled by how well the model knew them the`,
    `last time it trained on them (read off the training pass itself): missing facts ${o.focusMissing}×, facts known with confidence at`,
    `weight ${o.focusFloor}. Training stops once a full measurement finds every language at ≥ ${(100 * o.stopAt).toFixed(0)}% (or after ${o.epochs} epochs).`,
    "",
    "## Training settings",
    "",
    "| | |",
    "|---|---|",
    `| epochs run | ${r.epochsRun} (of ${o.epochs}) |`,
    `| optimizer steps | ${r.steps} |`,
    `| batch size | ${o.batchSize} sequences |`,
    `| optimizer | Adam (β1 0.9, β2 0.98, ε 1e-6), no weight decay, no dropout |`,
    `| learning rate | peak ${o.learningRate}, linear warmup over ${(100 * o.warmupFraction).toFixed(0)}% of training, cosine decay to ${o.minLrFraction}× |`,
    `| seed | ${o.seed} |`,
    `| corpus mix | ${JSON.stringify(o.mix)} |`,
    `| backend | TensorFlow.js wasm, one CPU thread (${c.cpuModel}), Node ${c.node} |`,
    `| training time | ${fmtTime(r.seconds)} wall clock, ${c.cpuSeconds === undefined ? "CPU time not recorded" : `${fmtTime(c.cpuSeconds)} CPU`} (on a machine shared with other work) |`,
    `| weights sha256 | \`${r.weightsSha256}\` |`,
    "",
    "Training is deterministic: the same seed and seeds folder give the same weights (same sha256).",
    "",
    "## Measured accuracy",
    "",
    `\`npm run --silent kn -- eval --model ${out} --templates trained --json\` (top-1, ${task}):`,
    "",
    "```json",
    JSON.stringify(e),
    "```",
    "",
    `Trained: the seed template (${e.facts} facts); held out: the same facts in the held-out paraphrases (${h.facts} prompts,`,
    `\`kn eval --templates heldout\`), wording the model never saw in training.`,
    "",
    "| language | trained | held out |",
    "|---|---|---|",
    ...Object.entries(e.languages).map(([k, v]) => `| ${k} | ${pct(v)} | ${h.languages[k] === undefined ? "–" : pct(h.languages[k])} |`),
    `| **all** | **${pct(e.overall)}** | **${pct(h.overall)}** |`,
    "",
    "| relation | trained | held out |",
    "|---|---|---|",
    ...Object.entries(e.relations).map(([k, v]) => `| ${k} | ${pct(v)} | ${h.relations[k] === undefined ? "–" : pct(h.relations[k])} |`),
    "",
    "## Reproduce",
    "",
    "```sh",
    `npm run --silent kn -- train-demo --arch ${arch} --out ${out} --seed ${o.seed}`,
    `npm run --silent kn -- eval --model ${out}`,
    `npm run --silent kn -- eval --model ${out} --templates heldout --json`,
    masked
      ? `npm run --silent kn -- predict --model ${out} --text "The capital of France is [MASK] ."`
      : `npm run --silent kn -- predict --model ${out} --text "The capital of France is"`,
    "```",
    "",
  ];
  return lines.join("\n");
}
