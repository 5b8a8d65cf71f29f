// loadModel: backend + checkpoint + architecture + tokenizer -> LanguageModel.
import { prefersPretransposedWeights, useBackend, type BackendName } from "./backend.ts";
import { Bert } from "./bert.ts";
import { openCheckpoint } from "./checkpoint.ts";
import type { ModelConfig } from "./config.ts";
import { ModelError } from "./errors.ts";
import { Gpt2 } from "./gpt2.ts";
import type { LanguageModel } from "./language-model.ts";
import { resolveModelDir } from "./resolve.ts";
import { deviceMemoryBytes, webgpuDevice } from "./webgpu.ts";
import { createTokenizer } from "./tokenizer.ts";
import { TransformerModel } from "./transformer-model.ts";

export interface LoadOptions {
  /** wasm, cpu, webgpu or tensorflow; default $KN_BACKEND, else wasm. Process-wide in tfjs. */
  backend?: BackendName | string;
  /** Tokens per batched pass (LanguageModel.rowBudget); default $KN_ROW_BUDGET, else the backend's (DEFAULT_ROW_BUDGET). */
  rowBudget?: number;
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
    return new TransformerModel(new Bert(config, checkpoint.weights), config, tokenizer, dir, backend, options.rowBudget);
  }
  const tokenizer = createTokenizer(checkpoint.tokenizer, { eosToken: "<|endoftext|>", eosId: config.eosTokenId });
  return new TransformerModel(new Gpt2(config, checkpoint.weights), config, tokenizer, dir, backend, options.rowBudget);
}

/** WebAssembly memory is 32-bit: everything must fit in 4 GiB. */
const WASM_MEMORY_BYTES = 4 * 2 ** 30;
const GiB = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/** float32 bytes of the weights when each dense matrix lives `denseCopies` times and the vocabulary table `vocabCopies` times. */
function weightBytes(config: ModelConfig, denseCopies: number, vocabCopies: number): number {
  const { hidden: d, ffnWidth: f, nLayers: L, vocabSize: V } = config;
  return 4 * (L * (4 * d * d + 2 * d * f) * denseCopies + V * d * vocabCopies + config.maxPositions * d);
}

/**
 * Refuses, with advice, a model that cannot fit on the backend, from config.json alone and so
 * before any weight is read (it would otherwise die half-way: wasm with a bare "Aborted()",
 * WebGPU with an out-of-memory error). WebGPU's per-binding limit is met by splitting the
 * vocabulary table (vocab-table.ts), so only the total counts there.
 */
function checkFitsBackend(config: ModelConfig, backend: BackendName, dir: string): void {
  if (backend === "wasm") {
    // every dense weight lives four times: W and the pre-transposed Wᵀ, and XNNPACK's packed copy
    // of each (made on first use, kept while the tensor lives); likewise the output layer, plus
    // the input table when untied
    const copies = prefersPretransposedWeights(backend) ? 4 : 2;
    const bytes = weightBytes(config, copies, copies + (config.tieWordEmbeddings ? 0 : 1));
    // leave a fifth for activations, prompt caches and gradients
    if (bytes > 0.8 * WASM_MEMORY_BYTES) {
      throw new ModelError(
        "unsupported-model",
        `${dir}: its weights need about ${GiB(bytes)} on the wasm backend, which has 4 GiB of memory. ` +
          `Use --backend webgpu (a GPU), --backend tensorflow (npm install @tensorflow/tfjs-node) or --backend cpu (slow).`,
      );
    }
  }
  if (backend === "webgpu") {
    const gpu = webgpuDevice();
    if (!gpu) return;
    const { adapter } = gpu;
    // the vocabulary table serves as input table and output layer (an untied output matrix is a second)
    const bytes = weightBytes(config, 1, config.tieWordEmbeddings ? 1 : 2);
    const memory = deviceMemoryBytes(adapter);
    if (memory !== undefined && bytes > 0.8 * memory) {
      throw new ModelError(
        "unsupported-model",
        `${dir}: its weights need about ${GiB(bytes)} on the webgpu backend, but the adapter ${adapter.name} has ${GiB(memory)}` +
          `${adapter.type === "cpu" ? " (host memory: it is a software adapter)" : ""}. Use a GPU with more memory.`,
      );
    }
  }
}
