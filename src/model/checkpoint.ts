// A Hugging Face checkpoint folder: config, weights (safetensors, possibly sharded) and tokenizer
// files. Parameter names are normalised here so the architectures ask for one spelling only.
import fs from "node:fs";
import path from "node:path";
import { readConfig, type ModelConfig } from "./config.ts";
import { ModelError } from "./errors.ts";
import { openSafetensors, openShardedSafetensors, type HostTensor, type TensorSource } from "./safetensors.ts";

export type JsonObject = Record<string, unknown>;

export interface TokenizerFiles {
  tokenizerJson: JsonObject;
  tokenizerConfig: JsonObject;
  specialTokensMap: JsonObject;
}

/** Weights addressed by canonical names: no `bert.`/`transformer.` prefix, LayerNorm weight/bias. */
export interface Weights {
  has(name: string): boolean;
  /** Reads a tensor and checks its shape; a missing tensor or a wrong shape throws ModelError. */
  get(name: string, shape: number[]): HostTensor;
}

export interface Checkpoint {
  dir: string;
  config: ModelConfig;
  weights: Weights;
  tokenizer: TokenizerFiles;
}

export const PYTORCH_CONVERSION_HINT = [
  "Convert it to safetensors on a machine with Python, torch and safetensors (pip install torch safetensors):",
  "  import torch; from safetensors.torch import save_file",
  '  sd = torch.load("pytorch_model.bin", map_location="cpu")',
  '  save_file({k: v.clone().contiguous() for k, v in sd.items()}, "model.safetensors", metadata={"format": "pt"})',
  "(or with transformers: AutoModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)).",
].join("\n");

function readJson(file: string, required: boolean): JsonObject {
  if (!fs.existsSync(file)) {
    if (required) throw new ModelError("missing-file", `${file} does not exist`);
    return {};
  }
  try {
    const v: unknown = JSON.parse(fs.readFileSync(file, "utf8"));
    if (!v || typeof v !== "object" || Array.isArray(v)) throw new Error("not a JSON object");
    return v as JsonObject;
  } catch (err) {
    throw new ModelError("bad-config", `cannot parse ${file}: ${(err as Error).message}`);
  }
}

function openWeights(dir: string): TensorSource {
  const single = path.join(dir, "model.safetensors");
  const index = path.join(dir, "model.safetensors.index.json");
  if (fs.existsSync(single)) return openSafetensors(single);
  if (fs.existsSync(index)) return openShardedSafetensors(index);
  const pytorch = ["pytorch_model.bin", "pytorch_model.bin.index.json"].find((f) => fs.existsSync(path.join(dir, f)));
  if (pytorch) {
    throw new ModelError(
      "pytorch-only",
      `${dir} has only ${pytorch} (PyTorch pickle), which cannot be read safely from JavaScript.\n${PYTORCH_CONVERSION_HINT}`,
    );
  }
  throw new ModelError("missing-file", `${dir} has no model.safetensors (nor model.safetensors.index.json)`);
}

function canonicalName(modelType: ModelConfig["modelType"], stored: string): string {
  let name = stored;
  if (modelType === "bert" && name.startsWith("bert.")) name = name.slice("bert.".length);
  if (modelType === "gpt2" && name.startsWith("transformer.")) name = name.slice("transformer.".length);
  // TF-era BERT checkpoints call the LayerNorm parameters gamma and beta
  return name.replace(/LayerNorm\.gamma$/, "LayerNorm.weight").replace(/LayerNorm\.beta$/, "LayerNorm.bias");
}

function canonicalWeights(source: TensorSource, modelType: ModelConfig["modelType"], dir: string): Weights {
  const byCanonical = new Map<string, string>();
  for (const stored of source.names()) byCanonical.set(canonicalName(modelType, stored), stored);
  return {
    has: (name) => byCanonical.has(name),
    get(name, shape) {
      const stored = byCanonical.get(name);
      if (stored === undefined) {
        throw new ModelError("missing-tensor", `the checkpoint in ${dir} lacks the tensor ${name} (a ${modelType} parameter)`);
      }
      const t = source.read(stored);
      if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw new ModelError("bad-tensor", `tensor ${stored} has shape [${t.shape}], expected [${shape}] from config.json`);
      }
      return t;
    },
  };
}

export function openCheckpoint(dir: string): Checkpoint {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new ModelError("missing-file", `model folder ${dir} does not exist`);
  }
  const configFile = path.join(dir, "config.json");
  if (!fs.existsSync(configFile)) throw new ModelError("missing-file", `${dir} has no config.json`);
  const config = readConfig(configFile);
  const weights = canonicalWeights(openWeights(dir), config.modelType, dir);
  const tokenizerFile = path.join(dir, "tokenizer.json");
  if (!fs.existsSync(tokenizerFile)) {
    throw new ModelError(
      "missing-file",
      `${dir} has no tokenizer.json (the "fast" tokenizer format). Create it with transformers: ` +
        `AutoTokenizer.from_pretrained(dir).save_pretrained(dir)`,
    );
  }
  return {
    dir,
    config,
    weights,
    tokenizer: {
      tokenizerJson: readJson(tokenizerFile, true),
      tokenizerConfig: readJson(path.join(dir, "tokenizer_config.json"), false),
      specialTokensMap: readJson(path.join(dir, "special_tokens_map.json"), false),
    },
  };
}
