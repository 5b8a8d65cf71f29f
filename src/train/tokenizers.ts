// Builds the demo models' tokenizers from their training corpus, written in the Hugging Face
// tokenizers JSON format and loaded back through @huggingface/tokenizers like any downloaded one:
//   masked LM: WordPiece (BertNormalizer cased, BertPreTokenizer, [CLS] $A [SEP]); the vocabulary
//              is learned the way HF's WordPieceTrainer does it (BPE merges over "##" pieces).
//   causal LM: byte-level BPE (GPT-2 pre-tokenizer regex and byte-to-unicode map), merges learned
//              from the corpus, <|endoftext|> as the only special token.
// Both vocabularies are capped so that rare entity names stay several pieces long.
import { Tokenizer } from "@huggingface/tokenizers";

export type JsonObject = Record<string, unknown>;

export const BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] as const;
export const GPT2_EOS = "<|endoftext|>";

export interface TokenizerBundle {
  tokenizerJson: JsonObject;
  tokenizerConfig: JsonObject;
  specialTokensMap: JsonObject;
}

function addedToken(id: number, content: string): JsonObject {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true };
}

// ---------------------------------------------------------------------------------------------
// BPE merge learning shared by both trainers

interface MergeResult {
  /** New tokens in the order they were created. */
  tokens: string[];
  /** Pairs merged, in order. */
  merges: [string, string][];
}

/**
 * Learns BPE merges over words given as symbol sequences, until `budget` new tokens exist or no
 * pair occurs at least `minFrequency` times. Ties break on the pair text, so the result is
 * deterministic. `join` builds the merged symbol (WordPiece drops the "##" of the right part).
 */
function learnMerges(
  words: Map<string, number>,
  split: (word: string) => string[],
  join: (a: string, b: string) => string,
  budget: number,
  existing: Set<string>,
  minFrequency: number,
): MergeResult {
  const seqs: string[][] = [];
  const counts: number[] = [];
  for (const [w, c] of [...words.entries()].sort((x, y) => (x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : 0))) {
    seqs.push(split(w));
    counts.push(c);
  }
  const SEP = "\u0000";
  const pairCount = new Map<string, number>();
  const pairWords = new Map<string, Set<number>>();
  const addWord = (i: number, sign: 1 | -1) => {
    const s = seqs[i];
    for (let k = 0; k + 1 < s.length; k++) {
      const key = s[k] + SEP + s[k + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * counts[i]);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(i);
      }
    }
  };
  for (let i = 0; i < seqs.length; i++) addWord(i, 1);

  const tokens: string[] = [];
  const merges: [string, string][] = [];
  const known = new Set(existing);
  while (tokens.length < budget) {
    let best: string | null = null;
    let bestCount = 0;
    for (const [key, c] of pairCount) {
      if (c > bestCount || (c === bestCount && best !== null && c > 0 && key < best)) {
        best = key;
        bestCount = c;
      }
    }
    if (best === null || bestCount < minFrequency) break;
    const [a, b] = best.split(SEP);
    const merged = join(a, b);
    merges.push([a, b]);
    if (!known.has(merged)) {
      known.add(merged);
      tokens.push(merged);
    }
    const affected = [...(pairWords.get(best) ?? [])].sort((x, y) => x - y);
    for (const i of affected) {
      addWord(i, -1);
      const s = seqs[i];
      const out: string[] = [];
      for (let k = 0; k < s.length; k++) {
        if (k + 1 < s.length && s[k] === a && s[k + 1] === b) {
          out.push(merged);
          k++;
        } else out.push(s[k]);
      }
      seqs[i] = out;
      addWord(i, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
    for (const [key, c] of pairCount) if (c <= 0) pairCount.delete(key);
  }
  return { tokens, merges };
}

// ---------------------------------------------------------------------------------------------
// WordPiece (BERT)

export function bertTokenizerJson(vocab: readonly string[]): JsonObject {
  const vocabObj: Record<string, number> = {};
  vocab.forEach((t, i) => (vocabObj[t] = i));
  const id = (t: string) => vocabObj[t];
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: BERT_SPECIALS.map((t) => addedToken(id(t), t)),
    normalizer: { type: "BertNormalizer", clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: false },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: "[CLS]", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "[SEP]", type_id: 0 } }],
      pair: [
        { SpecialToken: { id: "[CLS]", type_id: 0 } },
        { Sequence: { id: "A", type_id: 0 } },
        { SpecialToken: { id: "[SEP]", type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } },
        { SpecialToken: { id: "[SEP]", type_id: 1 } },
      ],
      special_tokens: Object.fromEntries(["[CLS]", "[SEP]"].map((t) => [t, { id: t, ids: [id(t)], tokens: [t] }])),
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: "[UNK]", continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab: vocabObj },
  };
}

export function bertTokenizerConfig(maxLength: number): JsonObject {
  const decoder: Record<string, JsonObject> = {};
  BERT_SPECIALS.forEach((t, i) => (decoder[String(i)] = { content: t, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true }));
  return {
    added_tokens_decoder: decoder,
    clean_up_tokenization_spaces: true,
    cls_token: "[CLS]",
    do_basic_tokenize: true,
    do_lower_case: false,
    mask_token: "[MASK]",
    model_max_length: maxLength,
    never_split: null,
    pad_token: "[PAD]",
    sep_token: "[SEP]",
    strip_accents: null,
    tokenize_chinese_chars: true,
    tokenizer_class: "BertTokenizer",
    unk_token: "[UNK]",
  };
}

export const BERT_SPECIAL_TOKENS_MAP: JsonObject = {
  cls_token: "[CLS]",
  mask_token: "[MASK]",
  pad_token: "[PAD]",
  sep_token: "[SEP]",
  unk_token: "[UNK]",
};

/** Words of the texts as BERT's normalizer and pre-tokenizer see them. */
function bertWords(texts: Iterable<string>): Map<string, number> {
  const probe = new Tokenizer(bertTokenizerJson([...BERT_SPECIALS]), bertTokenizerConfig(512));
  const words = new Map<string, number>();
  for (const text of texts) {
    const normalized = probe.normalizer ? probe.normalizer.normalize(text) : text;
    const pieces = probe.pre_tokenizer ? probe.pre_tokenizer.pre_tokenize(normalized) : normalized.split(/\s+/);
    for (const w of pieces) if (w) words.set(w, (words.get(w) ?? 0) + 1);
  }
  return words;
}

/**
 * WordPiece vocabulary of at most `vocabSize` entries: the special tokens, every character of the
 * corpus (word-initial and "##" continuation forms, so nothing in the corpus becomes [UNK]), then
 * BPE-learned pieces by frequency.
 */
export function trainWordPiece(texts: Iterable<string>, vocabSize: number): { vocab: string[]; alphabet: number } {
  const words = bertWords(texts);
  const alphabet = new Set<string>();
  const split = (w: string) => [...w].map((ch, i) => (i === 0 ? ch : `##${ch}`));
  for (const w of words.keys()) for (const s of split(w)) alphabet.add(s);
  const base = [...BERT_SPECIALS, ...[...alphabet].sort()];
  if (base.length > vocabSize) throw new Error(`vocabulary size ${vocabSize} is below the alphabet (${base.length} symbols)`);
  const { tokens } = learnMerges(
    words,
    split,
    (a, b) => a + (b.startsWith("##") ? b.slice(2) : b),
    vocabSize - base.length,
    new Set(base),
    2,
  );
  return { vocab: [...base, ...tokens], alphabet: alphabet.size };
}

// ---------------------------------------------------------------------------------------------
// Byte-level BPE (GPT-2)

/** GPT-2's byte -> printable unicode character map. */
export function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const map: string[] = new Array(256);
  bs.forEach((b, i) => (map[b] = String.fromCharCode(cs[i])));
  return map;
}

export function gpt2TokenizerJson(vocab: readonly string[], merges: readonly [string, string][]): JsonObject {
  const vocabObj: Record<string, number> = {};
  vocab.forEach((t, i) => (vocabObj[t] = i));
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [addedToken(vocabObj[GPT2_EOS], GPT2_EOS)],
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: vocabObj,
      merges: merges.map(([a, b]) => [a, b]),
    },
  };
}

export function gpt2TokenizerConfig(maxLength: number): JsonObject {
  return {
    add_bos_token: false,
    add_prefix_space: false,
    added_tokens_decoder: {},
    bos_token: GPT2_EOS,
    clean_up_tokenization_spaces: false,
    eos_token: GPT2_EOS,
    errors: "replace",
    model_max_length: maxLength,
    pad_token: null,
    tokenizer_class: "GPT2Tokenizer",
    unk_token: GPT2_EOS,
  };
}

export const GPT2_SPECIAL_TOKENS_MAP: JsonObject = { bos_token: GPT2_EOS, eos_token: GPT2_EOS, unk_token: GPT2_EOS };

/**
 * Byte-level BPE of at most `vocabSize` entries: the 256 byte symbols, merges learned from the
 * texts (each text is pre-tokenized on its own, as it will be encoded), then <|endoftext|>.
 */
export function trainByteLevelBpe(texts: Iterable<string>, vocabSize: number): { vocab: string[]; merges: [string, string][] } {
  const byteChars = bytesToUnicode();
  const probe = new Tokenizer(gpt2TokenizerJson([...byteChars, GPT2_EOS], []), gpt2TokenizerConfig(1024));
  const words = new Map<string, number>();
  for (const text of texts) {
    for (const w of probe.pre_tokenizer!.pre_tokenize(text)) if (w) words.set(w, (words.get(w) ?? 0) + 1);
  }
  const base = [...byteChars];
  const { tokens, merges } = learnMerges(words, (w) => [...w], (a, b) => a + b, vocabSize - base.length - 1, new Set(base), 2);
  const vocab = [...base, ...tokens, GPT2_EOS];
  addedTokenIdFix(vocab);
  return { vocab, merges };
}

function addedTokenIdFix(vocab: string[]): void {
  if (new Set(vocab).size !== vocab.length) throw new Error("duplicate tokens in the learned vocabulary");
}

/** Loads a bundle through @huggingface/tokenizers (the same library the model runtime uses). */
export function loadTokenizer(bundle: TokenizerBundle): Tokenizer {
  return new Tokenizer(bundle.tokenizerJson, bundle.tokenizerConfig);
}
