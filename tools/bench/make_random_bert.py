#!/usr/bin/python3
"""A random BERT-base-shaped masked LM for `npm run bench:attribution` (only the timing matters).

    /usr/bin/python3 tools/bench/make_random_bert.py [--out .data/bench/bert-base-random] [--force]

Shape of bert-base: 12 layers, hidden 768, 12 heads, FFN 3072, 512 positions, vocabulary 30522
(tied decoder). Hugging Face layout: config.json, model.safetensors (F32, ~440 MB),
tokenizer.json (WordPiece, cased, no lower-casing), tokenizer_config.json,
special_tokens_map.json. The vocabulary is [PAD] [UNK] [CLS] [SEP] [MASK], the characters and
words of the mLAMA seed prompts (seeds/mlama/*: templates, subjects, objects), so that seed
prompts tokenize into whole words as in a real BERT, then "[unusedN]" fillers up to 30522.
Weights as transformers initializes them: N(0, 0.02), biases 0, LayerNorm 1 / 0; numpy
generator with a fixed seed, so the folder is the same on every run. Does nothing when the
folder is already complete (unless --force).
"""
import argparse
import glob
import json
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "golden"))
import st_io  # noqa: E402
import toks  # noqa: E402

LAYERS, HIDDEN, HEADS, FFN, NPOS, VOCAB = 12, 768, 12, 3072, 512, 30522
SEED = 20240607
STD = 0.02
FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
STAMP = "bench-random-bert v1"


def seed_texts():
    """Templates (with [X]/[Y] removed), subject and object labels of every seed language."""
    texts = []
    for lang_dir in sorted(glob.glob(os.path.join(ROOT, "seeds", "mlama", "*"))):
        for fn in sorted(os.listdir(lang_dir)):
            if not fn.endswith(".jsonl"):
                continue
            with open(os.path.join(lang_dir, fn), encoding="utf-8") as f:
                for line in f:
                    line = line.strip()
                    if not line:
                        continue
                    try:
                        rec = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    if "template" in rec:
                        texts.append(rec["template"].replace("[X]", " ").replace("[Y]", " "))
                    for k in ("sub_label", "obj_label"):
                        if isinstance(rec.get(k), str):
                            texts.append(rec[k])
    return texts


def build_vocab():
    words, seen = [], set()
    for t in seed_texts():
        for w in toks.bert_pretokenize(t):
            if w not in seen:
                seen.add(w)
                words.append(w)
    chars = sorted({c for w in words for c in w})
    tokens = list(toks.BERT_SPECIALS)
    tokens += chars
    tokens += ["##" + c for c in chars if not toks._is_chinese(ord(c)) and not toks._is_punct(c)]
    have = set(tokens)
    for w in words:
        if len(tokens) >= VOCAB:
            break
        if w not in have:
            have.add(w)
            tokens.append(w)
    n_real = len(tokens)
    i = 0
    while len(tokens) < VOCAB:
        t = f"[unused{i}]"
        i += 1
        if t not in have:
            tokens.append(t)
    return {t: i for i, t in enumerate(tokens)}, n_real


def config():
    return {
        "architectures": ["BertForMaskedLM"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": HIDDEN,
        "initializer_range": STD,
        "intermediate_size": FFN,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": NPOS,
        "model_type": "bert",
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "type_vocab_size": 2,
        "vocab_size": VOCAB,
        "_generated_by": STAMP,
    }


def tensors():
    """[(name, "F32", shape, raw bytes)] in state-dict order."""
    rng = np.random.default_rng(SEED)
    out = []

    def normal(name, *shape):
        a = rng.standard_normal(shape, dtype=np.float32) * np.float32(STD)
        out.append((name, "F32", list(shape), a.astype("<f4").tobytes()))

    def const(name, value, *shape):
        out.append((name, "F32", list(shape), np.full(shape, value, dtype="<f4").tobytes()))

    def lin(name, o, i):
        normal(name + ".weight", o, i)
        const(name + ".bias", 0.0, o)

    def ln(name):
        const(name + ".weight", 1.0, HIDDEN)
        const(name + ".bias", 0.0, HIDDEN)

    normal("bert.embeddings.word_embeddings.weight", VOCAB, HIDDEN)
    normal("bert.embeddings.position_embeddings.weight", NPOS, HIDDEN)
    normal("bert.embeddings.token_type_embeddings.weight", 2, HIDDEN)
    ln("bert.embeddings.LayerNorm")
    for l in range(LAYERS):
        p = f"bert.encoder.layer.{l}."
        lin(p + "attention.self.query", HIDDEN, HIDDEN)
        lin(p + "attention.self.key", HIDDEN, HIDDEN)
        lin(p + "attention.self.value", HIDDEN, HIDDEN)
        lin(p + "attention.output.dense", HIDDEN, HIDDEN)
        ln(p + "attention.output.LayerNorm")
        lin(p + "intermediate.dense", FFN, HIDDEN)
        lin(p + "output.dense", HIDDEN, FFN)
        ln(p + "output.LayerNorm")
    lin("cls.predictions.transform.dense", HIDDEN, HIDDEN)
    ln("cls.predictions.transform.LayerNorm")
    const("cls.predictions.bias", 0.0, VOCAB)
    return out


def complete(out, stamp=STAMP, files=FILES):
    """The folder holds every file and its config.json says it was written by `stamp`."""
    try:
        with open(os.path.join(out, "config.json"), encoding="utf-8") as f:
            if json.load(f).get("_generated_by") != stamp:
                return False
    except (OSError, ValueError):
        return False
    return all(os.path.exists(os.path.join(out, fn)) for fn in files)


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(ROOT, ".data", "bench", "bert-base-random"))
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    if complete(a.out) and not a.force:
        print(f"{a.out}: present", file=sys.stderr)
        return 0
    t0 = time.perf_counter()
    os.makedirs(a.out, exist_ok=True)
    vocab, n_real = build_vocab()
    tj, tc, sm = toks.bert_tokenizer_files(vocab)
    tmp = os.path.join(a.out, "model.safetensors.tmp")
    with open(tmp, "wb") as f:
        f.write(st_io.encode_file(tensors(), {"format": "pt"}))
    os.replace(tmp, os.path.join(a.out, "model.safetensors"))
    for fn, obj in (("tokenizer.json", tj), ("tokenizer_config.json", tc), ("special_tokens_map.json", sm)):
        write_json(os.path.join(a.out, fn), obj)
    write_json(os.path.join(a.out, "config.json"), config())  # last: marks the folder complete
    size = sum(os.path.getsize(os.path.join(a.out, fn)) for fn in FILES)
    print(f"{a.out}: {size / 2**20:.0f} MiB, vocab {len(vocab)} ({n_real} from the seed prompts), "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
