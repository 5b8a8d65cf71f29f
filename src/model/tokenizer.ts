// Tokenization goes through @huggingface/tokenizers (same ids as transformers); this wrapper only
// resolves the special tokens the knowledge-neuron code needs ([MASK] for masked LMs, EOS for
// causal LMs, the "blank" of AMIG's baseline).
import { Tokenizer } from "@huggingface/tokenizers";
import type { JsonObject, TokenizerFiles } from "./checkpoint.ts";
import { ModelError } from "./errors.ts";

export interface EncodeOptions {
  /** [CLS] ... [SEP] for BERT; GPT-2 adds nothing either way. Default true, as in transformers. */
  addSpecialTokens?: boolean;
}

export interface TextTokenizer {
  encode(text: string, options?: EncodeOptions): number[];
  /** cleanUpSpaces false: exact text (no " ." → "." clean-up, whatever tokenizer_config says). */
  decode(ids: readonly number[], options?: { skipSpecialTokens?: boolean; cleanUpSpaces?: boolean }): string;
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  /** Masked LMs: the mask token string (e.g. "[MASK]") and its id. */
  readonly maskToken: string | undefined;
  readonly maskId: number | undefined;
  /** Causal LMs: the end-of-text token string and id. */
  readonly eosToken: string | undefined;
  readonly eosId: number | undefined;
}

/** A special token is stored as "text" or as an AddedToken object {content: "text", ...}. */
function specialToken(files: TokenizerFiles, key: string): string | undefined {
  for (const source of [files.tokenizerConfig, files.specialTokensMap] as JsonObject[]) {
    const v = source[key];
    if (typeof v === "string") return v;
    if (v && typeof v === "object" && typeof (v as { content?: unknown }).content === "string") {
      return (v as { content: string }).content;
    }
  }
  return undefined;
}

export function createTokenizer(
  files: TokenizerFiles,
  defaults: { maskToken?: string; eosToken?: string; eosId?: number },
): TextTokenizer {
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(files.tokenizerJson, files.tokenizerConfig);
  } catch (err) {
    throw new ModelError("bad-tokenizer", `cannot build the tokenizer from tokenizer.json: ${(err as Error).message}`);
  }
  const resolve = (key: string, fallback: string | undefined): { token?: string; id?: number } => {
    const token = specialToken(files, key) ?? fallback;
    const id = token === undefined ? undefined : tok.token_to_id(token);
    return id === undefined ? {} : { token, id };
  };
  const mask = defaults.maskToken === undefined ? {} : resolve("mask_token", defaults.maskToken);
  let eos = defaults.eosToken === undefined ? {} : resolve("eos_token", defaults.eosToken);
  if (eos.id === undefined && defaults.eosId !== undefined) eos = { id: defaults.eosId, token: tok.id_to_token(defaults.eosId) };

  return {
    encode: (text, options) => tok.encode(text, { add_special_tokens: options?.addSpecialTokens ?? true }).ids,
    decode: (ids, options) =>
      tok.decode([...ids], {
        skip_special_tokens: options?.skipSpecialTokens ?? false,
        ...(options?.cleanUpSpaces === undefined ? {} : { clean_up_tokenization_spaces: options.cleanUpSpaces }),
      }),
    idToToken: (id) => tok.id_to_token(id),
    tokenToId: (token) => tok.token_to_id(token),
    maskToken: mask.token,
    maskId: mask.id,
    eosToken: eos.token,
    eosId: eos.id,
  };
}

/** The tokenizer files a checkpoint folder may hold, in the order they are described. */
const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt", "vocab.json", "merges.txt"];

/** What tokenizes a checkpoint: tokenizer.json's model type, lower-cased (wordpiece, bpe, unigram), and its files present. */
export async function describeTokenizer(dir: string): Promise<{ kind: string; files: string[] }> {
  const { readFile, access } = await import("node:fs/promises");
  const { join } = await import("node:path");
  const files: string[] = [];
  for (const f of TOKENIZER_FILES) if (await access(join(dir, f)).then(() => true, () => false)) files.push(f);
  let kind = "unknown";
  if (files.includes("tokenizer.json")) {
    const json = JSON.parse(await readFile(join(dir, "tokenizer.json"), "utf8")) as { model?: { type?: string } };
    kind = json.model?.type?.toLowerCase() ?? kind;
  }
  return { kind, files };
}
