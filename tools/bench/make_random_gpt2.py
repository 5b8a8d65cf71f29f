#!/usr/bin/python3
"""Random GPT-2-shaped causal LMs for the attribution benchmarks (only the timing matters).

    python3 tools/bench/make_random_gpt2.py --shape gpt2-medium|mgpt-1.3b [--out DIR] [--force]

Shapes (GPT2LMHeadModel, tied head, gelu_new, F32):
  gpt2-medium  24 layers, hidden 1024, 16 heads, FFN 4096, 1024 positions, vocabulary 50257 (355 M parameters, 1.4 GB)
  mgpt-1.3b    24 layers, hidden 2048, 16 heads, FFN 8192, 2048 positions, vocabulary 100000 (1.42 B parameters, 5.7 GB): mGPT's shape
Default folder: .data/bench/<shape>-random. Hugging Face layout with `transformer.` names. The
tokenizer is byte-level BPE: the 256 byte symbols, merges learned from the words of the mLAMA
seed prompts (seeds/mlama/*), so seed prompts tokenize into a few pieces per word as in a real
GPT-2, <|endoftext|>, then "<unusedN>" fillers up to the vocabulary size. Weights as transformers
initializes them: N(0, 0.02), biases 0, LayerNorm 1 / 0, from a fixed-seed numpy generator,
written tensor by tensor (the 5.7 GB file never sits in memory). Does nothing when the folder is
already complete (unless --force).
"""
import argparse
import json
import os
import sys
import time
from collections import Counter

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools", "golden"))
sys.path.insert(0, HERE)
import st_io  # noqa: E402
import toks  # noqa: E402
from make_random_bert import complete, seed_texts, write_json  # noqa: E402

SHAPES = {
    "gpt2-medium": dict(layers=24, hidden=1024, heads=16, ffn=4096, positions=1024, vocab=50257),
    "mgpt-1.3b": dict(layers=24, hidden=2048, heads=16, ffn=8192, positions=2048, vocab=100000),
}
SEED = 20240611
STD = 0.02
MERGES = 4000
FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
STAMP = "bench-random-gpt2 v1"
CHUNK = 1 << 24  # values per generated piece (64 MB of float32)


def learn_merges(n_merges):
    """Byte-level BPE merges over the seed words (each word counted with and without a leading space)."""
    freqs = Counter()
    for t in seed_texts():
        for w in toks.gpt2_pretokenize(t) + toks.gpt2_pretokenize(" " + t.strip()):
            freqs[w] += 1
    return toks.learn_bpe(freqs, n_merges, lambda pair: pair)


def cached_merges(cache_dir):
    """learn_merges(MERGES), computed once per machine (a minute of CPU) and kept beside the models."""
    path = os.path.join(cache_dir, f"seed-bpe-{MERGES}-{STAMP.replace(' ', '-')}.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            return [tuple(m) for m in json.load(fh)]
    merges = learn_merges(MERGES)
    os.makedirs(cache_dir, exist_ok=True)
    write_json(path, merges)
    return merges


def build_vocab(size, cache_dir):
    merges = cached_merges(cache_dir)
    tokens = [c for _, c in toks.BYTE_ORDER]
    have = set(tokens)
    kept = []
    for a, b in merges:
        if a + b not in have:
            have.add(a + b)
            tokens.append(a + b)
            kept.append((a, b))
    tokens.append(toks.EOT)
    i = 0
    while len(tokens) < size:
        tokens.append(f"<unused{i}>")
        i += 1
    return {t: k for k, t in enumerate(tokens)}, kept


def config(s, eos):
    return {
        "activation_function": "gelu_new",
        "architectures": ["GPT2LMHeadModel"],
        "bos_token_id": eos,
        "eos_token_id": eos,
        "initializer_range": STD,
        "layer_norm_epsilon": 1e-5,
        "model_type": "gpt2",
        "n_embd": s["hidden"],
        "n_head": s["heads"],
        "n_inner": s["ffn"],
        "n_layer": s["layers"],
        "n_positions": s["positions"],
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
        "vocab_size": s["vocab"],
        "_generated_by": STAMP,
    }


def tensors(s):
    """[(name, "F32", shape, chunks)] in state-dict order; chunks() generates the values lazily."""
    rng = np.random.default_rng(SEED)
    d, f, out = s["hidden"], s["ffn"], []

    def normal(name, *shape):
        def chunks():
            left = int(np.prod(shape))
            while left:
                n = min(left, CHUNK)
                yield (rng.standard_normal(n, dtype=np.float32) * np.float32(STD)).astype("<f4").tobytes()
                left -= n
        out.append((name, "F32", list(shape), chunks))

    def const(name, value, *shape):
        out.append((name, "F32", list(shape), lambda: iter([np.full(shape, value, dtype="<f4").tobytes()])))

    def ln(name):
        const(name + ".weight", 1.0, d)
        const(name + ".bias", 0.0, d)

    normal("transformer.wte.weight", s["vocab"], d)
    normal("transformer.wpe.weight", s["positions"], d)
    for l in range(s["layers"]):
        p = f"transformer.h.{l}."
        ln(p + "ln_1")
        normal(p + "attn.c_attn.weight", d, 3 * d)
        const(p + "attn.c_attn.bias", 0.0, 3 * d)
        normal(p + "attn.c_proj.weight", d, d)
        const(p + "attn.c_proj.bias", 0.0, d)
        ln(p + "ln_2")
        normal(p + "mlp.c_fc.weight", d, f)
        const(p + "mlp.c_fc.bias", 0.0, f)
        normal(p + "mlp.c_proj.weight", f, d)
        const(p + "mlp.c_proj.bias", 0.0, d)
    ln("transformer.ln_f")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES))
    ap.add_argument("--merges-only", metavar="DIR", help="only learn the tokenizer's merges into DIR (the cache `npm run bench:gpu` carries)")
    ap.add_argument("--out")
    ap.add_argument("--force", action="store_true")
    a = ap.parse_args()
    if a.merges_only:
        cached_merges(a.merges_only)
        return 0
    if not a.shape:
        ap.error("--shape is required")
    out = a.out or os.path.join(ROOT, ".data", "bench", f"{a.shape}-random")
    if complete(out, STAMP, FILES) and not a.force:
        print(f"{out}: present", file=sys.stderr)
        return 0
    s = SHAPES[a.shape]
    t0 = time.perf_counter()
    os.makedirs(out, exist_ok=True)
    vocab, merges = build_vocab(s["vocab"], os.path.dirname(os.path.abspath(out)))
    tj, tc, sm = toks.gpt2_tokenizer_files(vocab, merges)
    tc["model_max_length"] = s["positions"]
    tmp = os.path.join(out, "model.safetensors.tmp")
    st_io.write_file(tmp, tensors(s), {"format": "pt"})
    os.replace(tmp, os.path.join(out, "model.safetensors"))
    for fn, obj in (("tokenizer.json", tj), ("tokenizer_config.json", tc), ("special_tokens_map.json", sm)):
        write_json(os.path.join(out, fn), obj)
    write_json(os.path.join(out, "config.json"), config(s, vocab[toks.EOT]))  # last: marks the folder complete
    size = sum(os.path.getsize(os.path.join(out, fn)) for fn in FILES)
    print(f"{out}: {size / 2**20:.0f} MiB, vocab {len(vocab)} ({len(merges)} merges from the seed prompts), "
          f"{time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
