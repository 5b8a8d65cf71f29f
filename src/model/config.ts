// config.json of a Hugging Face checkpoint, narrowed to the two families this project runs.
import fs from "node:fs";
import { ModelError } from "./errors.ts";

/** erf GELU (BERT "gelu"), tanh GELU (GPT-2 "gelu_new"), or ReLU. */
export type Activation = "gelu" | "gelu_tanh" | "relu";

interface CommonConfig {
  vocabSize: number;
  hidden: number;
  nLayers: number;
  nHeads: number;
  ffnWidth: number;
  maxPositions: number;
  layerNormEps: number;
  activation: Activation;
  tieWordEmbeddings: boolean;
}

export interface BertConfig extends CommonConfig {
  modelType: "bert";
  typeVocabSize: number;
}

export interface Gpt2Config extends CommonConfig {
  modelType: "gpt2";
  scaleAttnWeights: boolean;
  scaleAttnByInverseLayerIdx: boolean;
  eosTokenId: number | undefined;
}

export type ModelConfig = BertConfig | Gpt2Config;

const BERT_ARCHITECTURES = ["BertForMaskedLM", "BertLMHeadModel", "BertForPreTraining"];
const GPT2_ARCHITECTURES = ["GPT2LMHeadModel"];

const ACTIVATIONS: Record<string, Activation> = {
  gelu: "gelu",
  gelu_new: "gelu_tanh",
  gelu_pytorch_tanh: "gelu_tanh",
  gelu_fast: "gelu_tanh",
  relu: "relu",
};

type Json = Record<string, unknown>;

function num(cfg: Json, key: string, file: string, fallback?: number): number {
  const v = cfg[key];
  if (typeof v === "number" && Number.isFinite(v)) return v;
  if ((v === undefined || v === null) && fallback !== undefined) return fallback;
  throw new ModelError("bad-config", `${file}: "${key}" must be a number (got ${JSON.stringify(v)})`);
}

function activation(name: unknown, file: string): Activation {
  const a = typeof name === "string" ? ACTIVATIONS[name] : undefined;
  if (!a) {
    throw new ModelError(
      "unsupported-model",
      `${file}: activation ${JSON.stringify(name)} is not supported (supported: ${Object.keys(ACTIVATIONS).join(", ")})`,
    );
  }
  return a;
}

function checkArchitectures(cfg: Json, allowed: string[], file: string): void {
  const archs = cfg.architectures;
  if (!Array.isArray(archs) || archs.length === 0) return; // old configs omit it; model_type decides
  if (!archs.some((a) => allowed.includes(String(a)))) {
    throw new ModelError(
      "unsupported-model",
      `${file}: architecture ${archs.join(", ")} has no language-modelling head this runtime can use (supported: ${allowed.join(", ")})`,
    );
  }
}

export function parseConfig(raw: unknown, file = "config.json"): ModelConfig {
  if (!raw || typeof raw !== "object" || Array.isArray(raw)) throw new ModelError("bad-config", `${file} is not a JSON object`);
  const cfg = raw as Json;
  const tie = cfg.tie_word_embeddings === undefined ? true : cfg.tie_word_embeddings !== false;
  if (cfg.model_type === "bert") {
    checkArchitectures(cfg, BERT_ARCHITECTURES, file);
    if (cfg.is_decoder === true) {
      throw new ModelError("unsupported-model", `${file}: BERT with is_decoder=true (causal attention) is not supported`);
    }
    const pet = cfg.position_embedding_type;
    if (pet !== undefined && pet !== "absolute") {
      throw new ModelError("unsupported-model", `${file}: position_embedding_type ${JSON.stringify(pet)} is not supported`);
    }
    const hidden = num(cfg, "hidden_size", file);
    return {
      modelType: "bert",
      vocabSize: num(cfg, "vocab_size", file),
      hidden,
      nLayers: num(cfg, "num_hidden_layers", file),
      nHeads: num(cfg, "num_attention_heads", file),
      ffnWidth: num(cfg, "intermediate_size", file, 4 * hidden),
      maxPositions: num(cfg, "max_position_embeddings", file, 512),
      typeVocabSize: num(cfg, "type_vocab_size", file, 2),
      layerNormEps: num(cfg, "layer_norm_eps", file, 1e-12),
      activation: activation(cfg.hidden_act ?? "gelu", file),
      tieWordEmbeddings: tie,
    };
  }
  if (cfg.model_type === "gpt2") {
    checkArchitectures(cfg, GPT2_ARCHITECTURES, file);
    const hidden = num(cfg, "n_embd", file);
    return {
      modelType: "gpt2",
      vocabSize: num(cfg, "vocab_size", file),
      hidden,
      nLayers: num(cfg, "n_layer", file),
      nHeads: num(cfg, "n_head", file),
      ffnWidth: num(cfg, "n_inner", file, 4 * hidden),
      maxPositions: num(cfg, "n_positions", file, 1024),
      layerNormEps: num(cfg, "layer_norm_epsilon", file, 1e-5),
      activation: activation(cfg.activation_function ?? "gelu_new", file),
      tieWordEmbeddings: tie,
      scaleAttnWeights: cfg.scale_attn_weights !== false,
      scaleAttnByInverseLayerIdx: cfg.scale_attn_by_inverse_layer_idx === true,
      eosTokenId: typeof cfg.eos_token_id === "number" ? cfg.eos_token_id : undefined,
    };
  }
  throw new ModelError(
    "unsupported-model",
    `${file}: model_type ${JSON.stringify(cfg.model_type)} is not supported (supported: bert, gpt2)`,
  );
}

export function readConfig(file: string): ModelConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new ModelError("bad-config", `cannot parse ${file}: ${(err as Error).message}`);
  }
  return parseConfig(raw, file);
}
