#!/usr/bin/python3
"""Cross-checks of the generator against code it does not share (and finite differences):

* the hand-written BERT/GPT-2 blocks (models.py) against torch.nn.TransformerEncoderLayer
  (post-LN for BERT, norm_first for GPT-2, torch's own MultiheadAttention), in float64, using
  the weights read back from the written checkpoints;
* the BF16 rounding of st_io against torch's float32 -> bfloat16 conversion.

    /usr/bin/python3 tools/golden/selftest.py [test/fixtures/golden]
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import generate  # noqa: E402
import models  # noqa: E402
import st_io  # noqa: E402


def load(case_dir):
    cfg = json.load(open(os.path.join(case_dir, "config.json")))
    W = {}
    for fn in sorted(os.listdir(case_dir)):
        if fn.endswith(".safetensors"):
            W.update({k: torch.from_numpy(v.copy()) for k, v in st_io.read_file(os.path.join(case_dir, fn)).items()})
    return cfg, W


def canon(W, arch):
    P = {}
    for k, v in W.items():
        k2 = k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
        if arch == "gpt2" and not k2.startswith(("transformer.", "lm_head.")):
            k2 = "transformer." + k2
        if ".attn.bias" in k2 or ".attn.masked_bias" in k2:
            continue
        P[k2] = v
    return P


def torch_layer(d, heads, ffn, eps, act, norm_first):
    layer = torch.nn.TransformerEncoderLayer(d, heads, ffn, dropout=0.0, activation=act, layer_norm_eps=eps,
                                             batch_first=True, norm_first=norm_first).double().eval()
    return layer


def bert_ref(P, cfg, ids):
    d, L = cfg["hidden_size"], cfg["num_hidden_layers"]
    eps = cfg["layer_norm_eps"]
    T = ids.shape[1]
    ln = lambda x, n: torch.nn.functional.layer_norm(x, (d,), P[n + ".weight"], P[n + ".bias"], eps)
    x = P["bert.embeddings.word_embeddings.weight"][ids] + P["bert.embeddings.position_embeddings.weight"][:T] \
        + P["bert.embeddings.token_type_embeddings.weight"][0]
    x = ln(x, "bert.embeddings.LayerNorm")
    for l in range(L):
        p = f"bert.encoder.layer.{l}."
        m = torch_layer(d, cfg["num_attention_heads"], cfg["intermediate_size"], eps,
                        lambda t: torch.nn.functional.gelu(t), False)
        with torch.no_grad():
            m.self_attn.in_proj_weight.copy_(torch.cat([P[p + f"attention.self.{n}.weight"] for n in ("query", "key", "value")]))
            m.self_attn.in_proj_bias.copy_(torch.cat([P[p + f"attention.self.{n}.bias"] for n in ("query", "key", "value")]))
            m.self_attn.out_proj.weight.copy_(P[p + "attention.output.dense.weight"])
            m.self_attn.out_proj.bias.copy_(P[p + "attention.output.dense.bias"])
            m.norm1.weight.copy_(P[p + "attention.output.LayerNorm.weight"])
            m.norm1.bias.copy_(P[p + "attention.output.LayerNorm.bias"])
            m.linear1.weight.copy_(P[p + "intermediate.dense.weight"])
            m.linear1.bias.copy_(P[p + "intermediate.dense.bias"])
            m.linear2.weight.copy_(P[p + "output.dense.weight"])
            m.linear2.bias.copy_(P[p + "output.dense.bias"])
            m.norm2.weight.copy_(P[p + "output.LayerNorm.weight"])
            m.norm2.bias.copy_(P[p + "output.LayerNorm.bias"])
            x = m(x)
    t = torch.nn.functional.gelu(x @ P["cls.predictions.transform.dense.weight"].T + P["cls.predictions.transform.dense.bias"])
    t = ln(t, "cls.predictions.transform.LayerNorm")
    W = P.get("cls.predictions.decoder.weight", P["bert.embeddings.word_embeddings.weight"])
    return t @ W.T + P["cls.predictions.bias"]


def gpt2_ref(P, cfg, ids):
    d, L = cfg["n_embd"], cfg["n_layer"]
    eps = cfg["layer_norm_epsilon"]
    ffn = cfg["n_inner"] or 4 * d
    T = ids.shape[1]
    x = P["transformer.wte.weight"][ids] + P["transformer.wpe.weight"][:T]
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # True = not allowed
    for l in range(L):
        p = f"transformer.h.{l}."
        m = torch_layer(d, cfg["n_head"], ffn, eps, lambda t: torch.nn.functional.gelu(t, approximate="tanh"), True)
        with torch.no_grad():
            m.self_attn.in_proj_weight.copy_(P[p + "attn.c_attn.weight"].T)
            m.self_attn.in_proj_bias.copy_(P[p + "attn.c_attn.bias"])
            m.self_attn.out_proj.weight.copy_(P[p + "attn.c_proj.weight"].T)
            m.self_attn.out_proj.bias.copy_(P[p + "attn.c_proj.bias"])
            m.norm1.weight.copy_(P[p + "ln_1.weight"])
            m.norm1.bias.copy_(P[p + "ln_1.bias"])
            m.linear1.weight.copy_(P[p + "mlp.c_fc.weight"].T)
            m.linear1.bias.copy_(P[p + "mlp.c_fc.bias"])
            m.linear2.weight.copy_(P[p + "mlp.c_proj.weight"].T)
            m.linear2.bias.copy_(P[p + "mlp.c_proj.bias"])
            m.norm2.weight.copy_(P[p + "ln_2.weight"])
            m.norm2.bias.copy_(P[p + "ln_2.bias"])
            x = m(x, src_mask=mask)
    x = torch.nn.functional.layer_norm(x, (d,), P["transformer.ln_f.weight"], P["transformer.ln_f.bias"], eps)
    return x @ P.get("lm_head.weight", P["transformer.wte.weight"]).T


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/golden"
    worst = 0.0
    for case in generate.CASES:
        cfg, W = load(os.path.join(root, case["name"]))
        P = canon(W, case["arch"])
        golden = json.load(open(os.path.join(root, case["name"], "golden.json")))
        for pr in golden["prompts"]:
            ids = torch.tensor([pr["inputIds"]])
            if case["arch"] == "bert":
                a, b = models.bert_forward(P, cfg, ids), bert_ref(P, cfg, ids)
            else:
                a, b = models.gpt2_forward(P, cfg, ids), gpt2_ref(P, cfg, ids)
            diff = float((a - b).abs().max() / b.abs().max())
            probs = torch.softmax(b[0, pr["position"]], -1)
            dp = float((probs - torch.tensor(pr["probs"], dtype=torch.float64)).abs().max())
            worst = max(worst, diff, dp)
            print(f"{case['name']:<28} logits rel diff {diff:.1e}  golden probs diff {dp:.1e}  {pr['text']!r}")
        # finite-difference check of one gradient row (central differences, a few units)
        pr = golden["prompts"][-1]
        g = pr["gradient"]
        fwd = models.bert_forward if case["arch"] == "bert" else models.gpt2_forward
        ids, pos = torch.tensor([pr["inputIds"]]), pr["position"]

        def p_of(row):
            def hook(l, x):
                if l != g["layer"]:
                    return x
                x = x.clone()
                x[0, pos] = row
                return x
            return float(torch.softmax(fwd(P, cfg, ids, hook)[0, pos], -1)[g["targetId"]])

        row = torch.tensor(g["rows"][1], dtype=torch.float64)
        grad = torch.tensor(g["grads"][1], dtype=torch.float64)
        assert abs(p_of(row) - g["probs"][1]) < 1e-15
        h, err = 1e-5, 0.0
        for u in [int(grad.abs().argmax()), 0, 17, 63, 127]:
            e = torch.zeros_like(row)
            e[u] = h
            fd = (p_of(row + e) - p_of(row - e)) / (2 * h)
            err = max(err, abs(fd - float(grad[u])) / float(grad.abs().max()))
        print(f"{case['name']:<28} finite-difference gradient rel err {err:.1e}")
        assert err < 1e-6
    # BF16 rounding vs torch
    x = torch.randn(100000, dtype=torch.float32, generator=torch.Generator().manual_seed(0)) * 3
    x = torch.cat([x, torch.tensor([1.00390625, 1.01171875, -1.00390625, 3.0e-39], dtype=torch.float32)])  # ties
    ours = st_io.f32_to_bf16_bits(x.numpy())
    theirs = x.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    assert np.array_equal(ours, theirs), "bf16 rounding differs from torch"
    print("bf16 rounding matches torch;", "worst diff", f"{worst:.1e}")
    assert worst < 1e-12


if __name__ == "__main__":
    main()
