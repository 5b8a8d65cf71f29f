#!/usr/bin/python3
"""Writes test/fixtures/golden/<case>/attribution.json for the six golden cases (ATTRIBUTION.md).

    /usr/bin/python3 tools/golden/attribution_fixtures.py [--root test/fixtures/golden] [--prompts-dir DIR]

Prompts reuse golden.json (generate.py) with the generator's own tokenizers (toks.py):
* masked: a single-piece object prompt, the first of "Paris is the capital of [MASK] ." /
  "Le français est parlé en [MASK] ." (object "France") / "巴黎是[MASK]国的首都。" ("法") whose
  scores keep every entry at least MARGIN·max away from the knowledge-neuron threshold tau·max for
  all three methods (else the one with the largest margin), so that a float32 engine within the
  1e-4 tolerance finds the same neuron set; and "Die Hauptstadt von Deutschland ist [MASK] [MASK] ."
  with the two pieces of "Berlin";
* causal: likewise among the golden prompts whose object is one piece ("Paris is the capital of"
  + " France", ...), and "The capital of Alsace is" with the first two pieces of " Strasbourg".
N = 20, tau = 0.3, methods ig, amig-compat, amig-ig; float64, deterministic (byte-identical).
--prompts-dir also writes each case's prompt list (the --prompts format of attribute.py).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attribute  # noqa: E402
import generate  # noqa: E402
import toks  # noqa: E402


MARGIN = 5e-4


def case_prompts(case, golden, tok):
    """-> (single-piece candidates, multi-piece prompt), each {arch, ids, pieces}."""
    by_text = {p["text"]: p["inputIds"] for p in golden["prompts"]}
    if case["arch"] == "bert":
        vocab = tok["vocab"]
        single = []
        for i in (0, 2, 1):
            text, obj = generate.BERT_PROMPTS[i]
            pieces = [vocab[p] for p in toks.wordpiece(obj, vocab)]
            if len(pieces) == 1:
                single.append(dict(arch="masked", ids=by_text[text], pieces=pieces))
        text2, obj2 = generate.BERT_PROMPTS[3]
        p2 = [vocab[p] for p in toks.wordpiece(obj2, vocab)]
        ids2 = by_text[text2]
        assert len(p2) == 2 and ids2.count(vocab["[MASK]"]) == 2
        return single, dict(arch="masked", ids=ids2, pieces=p2)
    vocab, merges = tok["vocab"], tok["merges"]
    single = []
    for text, obj in generate.GPT2_PROMPTS:
        pieces = toks.gpt2_encode(obj, vocab, merges)
        if len(pieces) == 1:
            single.append(dict(arch="causal", ids=by_text[text], pieces=pieces))
    base, obj2 = generate.GPT2_TEACHER_FORCED
    p2 = toks.gpt2_encode(obj2, vocab, merges)[:2]
    ids2 = toks.gpt2_encode(base, vocab, merges)
    assert len(p2) == 2
    # golden.json's teacher-forced prompt is this prompt followed by the first piece
    tf = [p for p in golden["prompts"] if p["text"].startswith(base)][0]
    assert tf["inputIds"] == ids2 + p2[:1] and tf["gradient"]["targetId"] == p2[1]
    return single, dict(arch="causal", ids=ids2, pieces=p2)


def threshold_margin(ck, pr, tau=0.3, steps=20):
    """min over methods and entries of |score − tau·max| / max (1 when max <= 0)."""
    scores, _, _, _ = attribute.attribute(ck, pr["arch"], pr["ids"], pr["pieces"], attribute.METHODS, steps)
    out = 1.0
    for s in scores.values():
        mx = float(s.max())
        if mx > 0:
            out = min(out, float(np.abs(s - tau * mx).min() / mx))
    return out


def choose(ck, candidates):
    assert candidates
    best = None
    for pr in candidates:
        m = threshold_margin(ck, pr)
        if m >= MARGIN:
            return pr, m
        if best is None or m > best[1]:
            best = (pr, m)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="test/fixtures/golden")
    ap.add_argument("--prompts-dir", default=None)
    ap.add_argument("--case", action="append")
    a = ap.parse_args()
    tok = generate.build_tokenizers()
    for case in generate.CASES:
        if a.case and case["name"] not in a.case:
            continue
        d = os.path.join(a.root, case["name"])
        golden = json.load(open(os.path.join(d, "golden.json"), encoding="utf-8"))
        single, multi = case_prompts(case, golden, tok[case["arch"]])
        torch.set_num_threads(1)
        ck = attribute.Checkpoint(d, torch.float64)
        first, m1 = choose(ck, single)
        m2 = threshold_margin(ck, multi)
        prompts = [first, multi]
        if a.prompts_dir:
            os.makedirs(a.prompts_dir, exist_ok=True)
            with open(os.path.join(a.prompts_dir, case["name"] + ".json"), "w") as f:
                f.write(json.dumps(prompts) + "\n")
        out = os.path.join(d, "attribution.json")
        obj, size = attribute.write_fixture(d, prompts, out, case["name"])
        kn = [len(it["knowledgeNeurons"]) for it in obj["items"]]
        print(f"{case['name']}: {len(obj['items'])} items, {size / 1024:.0f} KiB, knowledge neurons per item {kn}, "
              f"threshold margins {m1:.1e} (single piece, ids {first['ids']}) {m2:.1e} (multi-piece)")
        assert size < 300_000


if __name__ == "__main__":
    main()
