#!/usr/bin/python3
"""Static log-probability attribution (ALGORITHMS.md §13.1) in float64 PyTorch, with the
independent BERT/GPT-2 of models.py, as the reference for test/static-attribution.test.ts.

    /usr/bin/python3 tools/golden/static_scores.py --case gpt2-tied-f32 --case bert-tied-f32 \\
        --out test/fixtures/golden/static-scores.json

For each case the prompts of test/fixtures/golden/<case>/golden.json are used, the target being the
prompt's top-1 and its 5th most likely token. GPT-2: h = the residual after attention at the last
position, m = GELU(c_fc output), v = rows of c_proj; ln_f with the σ of the real final state.
BERT (the logit-lens adaptation): h = the FFN input h1 at the mask, m = GELU output, v = columns of
output.dense; the layer's output LayerNorm with the σ of the real h1 + FFN(act), then the MLM head.
Centring, γ and β are kept; only σ is fixed.
"""
import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from attribute import Checkpoint, Prompt  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")


def fixed_ln(z, gamma, beta, sigma):
    return (z - z.mean(-1, keepdim=True)) / sigma * gamma + beta


def static_scores(ck, ids, pos, target):
    pr = Prompt(ck, ids, pos)
    net, P = ck.net, ck.P
    out = []
    with torch.no_grad():
        for l in range(ck.n_layers):
            if ck.model_type == "gpt2":
                h = pr.mid[l][0]
                m = net.gelu(pr.acts[l])
                V = P[f"transformer.h.{l}.mlp.c_proj.weight"]  # [F, D]
                top = ck.n_layers - 1
                final = net.ffn_out(top, pr.mid[top], pr.acts[top][None])[0]
                eps = net.eps
                sigma = torch.sqrt(final.var(unbiased=False) + eps)
                g, b = P["transformer.ln_f.weight"], P["transformer.ln_f.bias"]
                W = P.get("lm_head.weight", P["transformer.wte.weight"])
                readout = lambda z: fixed_ln(z, g, b, sigma) @ W.T  # noqa: E731
            else:
                p = f"bert.encoder.layer.{l}."
                h = pr.res[l][0]
                m = pr.acts[l]
                V = P[p + "output.dense.weight"].T  # [F, D]
                real = m @ P[p + "output.dense.weight"].T + P[p + "output.dense.bias"] + h
                sigma = torch.sqrt(real.var(unbiased=False) + net.eps)
                g, b = P[p + "output.LayerNorm.weight"], P[p + "output.LayerNorm.bias"]
                readout = lambda z, g=g, b=b, sigma=sigma: net.head(fixed_ln(z, g, b, sigma))  # noqa: E731
            lp = lambda z: torch.log_softmax(readout(z), dim=-1)[..., target]  # noqa: E731
            out.append((lp(h[None] + m[:, None] * V) - lp(h[None])).tolist())
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--case", action="append", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    items = []
    for case in a.case:
        d = os.path.join(ROOT, "test", "fixtures", "golden", case)
        ck = Checkpoint(d)
        golden = json.load(open(os.path.join(d, "golden.json")))
        for pr in golden["prompts"]:
            order = sorted(range(len(pr["probs"])), key=lambda i: -pr["probs"][i])
            for target in (order[0], order[4]):
                items.append({"case": case, "ids": pr["inputIds"], "position": pr["position"], "target": target,
                              "scores": static_scores(ck, pr["inputIds"], pr["position"], target)})
    with open(a.out, "w") as f:
        json.dump({"items": items}, f)


if __name__ == "__main__":
    main()
