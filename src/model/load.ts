// loadModel: backend + checkpoint + architecture + tokenizer -> LanguageModel.
import { prefersPretransposedWeights, useBackend, type BackendName } from "./backend.ts";
import { Bert } from "./bert.ts";
import { openCheckpoint } from "./checkpoint.ts";
import { ModelError } from "./errors.ts";
import { Gpt2 } from "./gpt2.ts";
import type { LanguageModel } from "./language-model.ts";
import { resolveModelDir } from "./resolve.ts";
import { createTokenizer } from "./tokenizer.ts";
import type { ModelConfig } from "./config.ts";
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
 * Refuses, with advice, a model that cannot fit in the backend's memory (the wasm backend
 * otherwise dies with a bare "Aborted()" half-way through loading, e.g. for mGPT 1.3B).
 */
function checkFitsBackend(config: ModelConfig, backend: BackendName, dir: string): void {
  if (backend !== "wasm") return;
  const { hidden: d, ffnWidth: f, nLayers: L, vocabSize: V } = config;
  const copies = prefersPretransposedWeights(backend) ? 2 : 1; // dense layers keep a transposed copy
  const dense = L * (4 * d * d + 2 * d * f) * copies;
  const embeddings = V * d * (config.tieWordEmbeddings ? 2 : 3);
  const bytes = 4 * (dense + embeddings + config.maxPositions * d);
  // leave a quarter for activations, caches and gradients
  if (bytes > 0.75 * WASM_MEMORY_BYTES) {
    throw new ModelError(
      "unsupported-model",
      `${dir}: about ${(bytes / 2 ** 30).toFixed(1)} GiB of float32 weights do not fit in the wasm backend's 4 GiB memory. ` +
        `Use --backend tensorflow (npm install @tensorflow/tfjs-node) or --backend cpu (slow).`,
    );
  }
}
