// Writes a trained demo model as an ordinary Hugging Face checkpoint folder: config.json,
// model.safetensors (F32), tokenizer.json, tokenizer_config.json, special_tokens_map.json.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import type { ArchSpec, NamedTensor } from "./models.ts";
import type { TokenizerBundle } from "./tokenizers.ts";

/** safetensors: 8-byte little-endian header length, JSON header (padded to 8 bytes), raw data. */
export function encodeSafetensors(tensors: readonly NamedTensor[], metadata: Record<string, string> = { format: "pt" }): Buffer {
  const sorted = [...tensors].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of sorted) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`tensor ${t.name}: shape [${t.shape}] does not match ${t.data.length} values`);
    header[t.name] = { dtype: "F32", shape: t.shape, data_offsets: [offset, offset + 4 * count] };
    offset += 4 * count;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const out = Buffer.alloc(8 + headerBytes.length + offset);
  out.writeBigUInt64LE(BigInt(headerBytes.length), 0);
  headerBytes.copy(out, 8);
  let pos = 8 + headerBytes.length;
  for (const t of sorted) {
    const bytes = Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (!isLittleEndian()) throw new Error("writing safetensors needs a little-endian host");
    bytes.copy(out, pos);
    pos += bytes.length;
  }
  return out;
}

function isLittleEndian(): boolean {
  return new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
}

export const TRANSFORMERS_VERSION = "4.44.2";

export function bertConfig(spec: ArchSpec, padId: number): Record<string, unknown> {
  return {
    architectures: ["BertForMaskedLM"],
    attention_probs_dropout_prob: 0.0,
    classifier_dropout: null,
    hidden_act: "gelu",
    hidden_dropout_prob: 0.0,
    hidden_size: spec.hidden,
    initializer_range: 0.02,
    intermediate_size: spec.ffn,
    layer_norm_eps: 1e-12,
    max_position_embeddings: spec.maxPositions,
    model_type: "bert",
    num_attention_heads: spec.heads,
    num_hidden_layers: spec.layers,
    pad_token_id: padId,
    position_embedding_type: "absolute",
    tie_word_embeddings: true,
    torch_dtype: "float32",
    transformers_version: TRANSFORMERS_VERSION,
    type_vocab_size: 2,
    use_cache: true,
    vocab_size: spec.vocabSize,
  };
}

export function gpt2Config(spec: ArchSpec, eosId: number): Record<string, unknown> {
  return {
    activation_function: "gelu_new",
    architectures: ["GPT2LMHeadModel"],
    attn_pdrop: 0.0,
    bos_token_id: eosId,
    embd_pdrop: 0.0,
    eos_token_id: eosId,
    initializer_range: 0.02,
    layer_norm_epsilon: 1e-5,
    model_type: "gpt2",
    n_ctx: spec.maxPositions,
    n_embd: spec.hidden,
    n_head: spec.heads,
    n_inner: spec.ffn,
    n_layer: spec.layers,
    n_positions: spec.maxPositions,
    reorder_and_upcast_attn: false,
    resid_pdrop: 0.0,
    scale_attn_by_inverse_layer_idx: false,
    scale_attn_weights: true,
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: "cls_index",
    summary_use_proj: true,
    tie_word_embeddings: true,
    torch_dtype: "float32",
    transformers_version: TRANSFORMERS_VERSION,
    use_cache: true,
    vocab_size: spec.vocabSize,
  };
}

const json = (v: unknown) => JSON.stringify(v, null, 2) + "\n";

export function writeTokenizerFiles(dir: string, bundle: TokenizerBundle): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(bundle.tokenizerJson) + "\n");
  fs.writeFileSync(path.join(dir, "tokenizer_config.json"), json(bundle.tokenizerConfig));
  fs.writeFileSync(path.join(dir, "special_tokens_map.json"), json(bundle.specialTokensMap));
}

/** Writes config.json and model.safetensors; returns the sha256 of the weights file. */
export function writeWeights(dir: string, config: Record<string, unknown>, tensors: readonly NamedTensor[]): string {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "config.json"), json(config));
  const bytes = encodeSafetensors(tensors);
  fs.writeFileSync(path.join(dir, "model.safetensors"), bytes);
  return createHash("sha256").update(bytes).digest("hex");
}
