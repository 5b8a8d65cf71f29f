// loadModel: backend + checkpoint + architecture + tokenizer -> LanguageModel.
import { useBackend, type BackendName } from "./backend.ts";
import { Bert } from "./bert.ts";
import { openCheckpoint } from "./checkpoint.ts";
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
