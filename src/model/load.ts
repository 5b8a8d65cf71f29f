// loadModel: backend + checkpoint + architecture + tokenizer -> LanguageModel.
import { prefersPretransposedWeights, useBackend, type BackendName } from "./backend.ts";
import { Bert } from "./bert.ts";
import { openCheckpoint } from "./checkpoint.ts";
import type { ModelConfig } from "./config.ts";
import { ModelError } from "./errors.ts";
import { Gpt2 } from "./gpt2.ts";
import type { LanguageModel } from "./language-model.ts";
import { resolveModelDir } from "./resolve.ts";
import { createTokenizer } from "./tokenizer.ts";
import { TransformerModel } from "./transformer-model.ts";

export interface LoadOptions {
  /** wasm (default), cpu or tensorflow; default $KN_BACKEND, else wasm. Process-wide in tfjs. */
  backend?: BackendName | string;
}

/** `model` is a checkpoint folder or a name that resolveModelDir knows (models/<name>). */
export async function loadModel(model: string, options: LoadOptions = {}): Promise<LanguageModel> {
  const dir = resolveModelDir(model);
  const checkpoint = openCheckpoint(dir); // before the backend: file errors need no tfjs
  const { config } = checkpoint;
  if (config.hidden % config.nHeads !== 0) {
    throw new ModelError("bad-config", `${dir}/config.json: hidden size ${config.hidden} is not divisible by ${config.nHeads} heads`);
  }
  const backend = await useBackend(options.backend);
  checkFitsBackend(config, backend, dir);
  if (config.modelType === "bert") {
    const tokenizer = createTokenizer(checkpoint.tokenizer, { maskToken: "[MASK]" });
    if (tokenizer.maskId === undefined) {
      throw new ModelError("bad-tokenizer", `${dir}: the tokenizer has no mask token, which a masked LM needs`);
    }
    return new TransformerModel(new Bert(config, checkpoint.weights), config, tokenizer, dir, backend);
  }
  const tokenizer = createTokenizer(checkpoint.tokenizer, { eosToken: "<|endoftext|>", eosId: config.eosTokenId });
  return new TransformerModel(new Gpt2(config, checkpoint.weights), config, tokenizer, dir, backend);
}

/** WebAssembly memory is 32-bit: everything must fit in 4 GiB. */
const WASM_MEMORY_BYTES = 4 * 2 ** 30;

/**
 * Refuses, with advice, a model that cannot fit in the wasm backend's memory (it would otherwise
 * die with a bare "Aborted()" half-way through a pass, e.g. for mGPT 1.3B). On wasm every weight
 * matrix of a dense layer lives four times: W and the pre-transposed Wᵀ, and XNNPACK's packed copy
 * of each (made on first use, kept while the tensor lives).
 */
function checkFitsBackend(config: ModelConfig, backend: BackendName, dir: string): void {
  if (backend !== "wasm") return;
  const { hidden: d, ffnWidth: f, nLayers: L, vocabSize: V } = config;
  const copies = prefersPretransposedWeights(backend) ? 4 : 2;
  const dense = L * (4 * d * d + 2 * d * f) * copies;
  const outputLayer = V * d * (copies + (config.tieWordEmbeddings ? 0 : 1)); // + the input table when untied
  const bytes = 4 * (dense + outputLayer + config.maxPositions * d);
  // leave a fifth for activations, prompt caches and gradients
  if (bytes > 0.8 * WASM_MEMORY_BYTES) {
    throw new ModelError(
      "unsupported-model",
      `${dir}: its weights need about ${(bytes / 2 ** 30).toFixed(1)} GiB on the wasm backend, which has 4 GiB of memory. ` +
        `Use --backend tensorflow (npm install @tensorflow/tfjs-node) or --backend cpu (slow).`,
    );
  }
}
