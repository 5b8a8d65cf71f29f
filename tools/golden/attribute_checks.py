#!/usr/bin/python3
"""Sanity checks of attribute.py on the six golden cases (the prompts of attribution.json):

1. fast path == full forward with a patching hook (models.py), all methods;
2. amig-ig completeness: Σ_i A_i ≈ P(x) − P(b̄) per piece and layer, at N = 400 and N = 2000
   (the left Riemann sum's error is O(1/N): it shrinks ~5x from 400 to 2000; the check asks
   < 1 % at 2000); ig likewise against P(x) − P(0) (informative: ig's k/(N−1) points with a 1/N
   weight are also only O(1/N) accurate, and its path from 0 is far longer);
3. amig-compat == amig-ig ⊙ x / (x − b̄) elementwise, per piece (checked as compat·(x − b̄) = amig-ig·x);
4. batching (B = N, 1, 7) does not change the scores;
5. float32 vs float64 (what a float32 engine can reach) and the knowledge-neuron threshold margin:
   min |score − τ·max| / max over all entries of every fixture item;
6. attribution.json matches a fresh float64 computation (and is byte-identical when rewritten).

    /usr/bin/python3 tools/golden/attribute_checks.py [--root test/fixtures/golden]
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attribute as A  # noqa: E402
import generate  # noqa: E402

torch.set_num_threads(1)


def rel(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def completeness(ck, arch, ids, pieces, N):
    """Per piece and layer: (rel. error, Σ A, P(x) − P(b̄)) for amig-ig; the worst errors of amig-ig and ig."""
    _, _, _, parts = A.attribute(ck, arch, ids, pieces, ["ig", "amig-ig"], N, batch=200, keep_parts=True)
    c_amig, c_ig = [], []
    for p in parts:
        pr, y = p["prompt"], p["target"]
        for l in range(ck.n_layers):
            x, b = p["x"][l], p["b"][l]
            with torch.no_grad():
                pb = float(pr.patched_probs(l, b[None], y)[0])
                p0 = float(pr.patched_probs(l, torch.zeros_like(x)[None], y)[0])
            s_amig = float(((x - b) * p["G"]["amig"][l] / N).sum())
            s_ig = float((x * p["G"]["ig"][l] / N).sum())
            c_amig.append((abs(s_amig - (p["Px"] - pb)) / abs(p["Px"] - pb), s_amig, p["Px"] - pb))
            c_ig.append((abs(s_ig - (p["Px"] - p0)) / abs(p["Px"] - p0), s_ig, p["Px"] - p0))
    return c_amig, max(c[0] for c in c_amig), max(c[0] for c in c_ig)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="test/fixtures/golden")
    a = ap.parse_args()
    worst = dict(ref=0.0, compl400=0.0, compl=0.0, compl_ig400=0.0, compl_ig=0.0, compat=0.0, batch=0.0,
                 f32=0.0, fixture=0.0)
    min_margin = (1.0, None)
    ok = True
    for case in generate.CASES:
        d = os.path.join(a.root, case["name"])
        fx = json.load(open(os.path.join(d, "attribution.json")))
        ck = A.Checkpoint(d, torch.float64)
        ck32 = A.Checkpoint(d, torch.float32)
        prompts, seen = [], set()
        for it in fx["items"]:
            key = (tuple(it["ids"]), tuple(it["pieces"]))
            if key not in seen:
                seen.add(key)
                prompts.append(it)
        lines = []
        for pr in prompts:
            arch, ids, pieces = pr["arch"], pr["ids"], pr["pieces"]
            tag = f"S={len(pieces)}"
            fast, _, _, parts = A.attribute(ck, arch, ids, pieces, A.METHODS, 20, keep_parts=True)
            ref, _, _, _ = A.attribute(ck, arch, ids, pieces, A.METHODS, 20, reference=True)
            d_ref = max(rel(fast[m], ref[m]) for m in A.METHODS)
            d_batch = 0.0
            for B in (1, 7):
                sb, _, _, _ = A.attribute(ck, arch, ids, pieces, A.METHODS, 20, batch=B)
                d_batch = max(d_batch, max(rel(sb[m], fast[m]) for m in A.METHODS))
            s32, _, _, _ = A.attribute(ck32, arch, ids, pieces, A.METHODS, 20)
            d32 = max(rel(s32[m], fast[m]) for m in A.METHODS)
            # 3. compat vs amig-ig elementwise, per piece
            d_compat = 0.0
            for p in parts:
                G = torch.stack(p["G"]["amig"])
                x, b = p["x"], p["b"]
                compat, amigig = x * G / 20, (x - b) * G / 20
                lhs, rhs = (compat * (x - b)).numpy(), (amigig * x).numpy()
                d_compat = max(d_compat, rel(lhs, rhs))
                # and with the division, where x - b̄ is not tiny
                m = (x - b).abs() > 1e-8 * float((x - b).abs().max())
                d_compat = max(d_compat, rel((amigig * x / (x - b))[m].numpy(), compat[m].numpy()))
            # 2. completeness at N = 400 and 2000, per piece and layer
            comp = {NC: completeness(ck, arch, ids, pieces, NC) for NC in (400, 2000)}
            c_amig, e_amig, e_ig = comp[2000]
            worst["compl400"] = max(worst["compl400"], comp[400][1])
            worst["compl_ig400"] = max(worst["compl_ig400"], comp[400][2])
            # 5./6. fixture values and threshold margins
            d_fix = 0.0
            for it in fx["items"]:
                if it["ids"] == ids and it["pieces"] == pieces:
                    s = fast[it["method"]]
                    d_fix = max(d_fix, rel(np.array(it["scores"]), s))
                    want = [[l, u] for l, u, _ in A.knowledge_neurons(s, it["tau"])]
                    assert [[l, u] for l, u, _ in it["knowledgeNeurons"]] == want
                    mx = s.max()
                    if mx > 0:
                        marg = float(np.abs(s - it["tau"] * mx).min() / mx)
                        if marg < 1e-3:
                            lines.append(f"    NOTE {it['method']}: an entry lies {marg:.1e}·max from tau·max")
                        if marg < min_margin[0]:
                            min_margin = (marg, f"{case['name']} {it['method']} {tag}")
                        kn32 = [[l, u] for l, u, _ in A.knowledge_neurons(s32[it["method"]], it["tau"])]
                        if kn32 != want:
                            lines.append(f"    NOTE float32 knowledge neurons differ for {it['method']}")
            worst["ref"] = max(worst["ref"], d_ref)
            worst["batch"] = max(worst["batch"], d_batch)
            worst["compat"] = max(worst["compat"], d_compat)
            worst["compl"] = max(worst["compl"], e_amig)
            worst["compl_ig"] = max(worst["compl_ig"], e_ig)
            worst["f32"] = max(worst["f32"], d32)
            worst["fixture"] = max(worst["fixture"], d_fix)
            lines.append(f"  {tag} T={len(ids)}: fast/ref {d_ref:.1e}  batch {d_batch:.1e}  compat {d_compat:.1e}  "
                         f"completeness amig-ig {comp[400][1]:.2%} (N=400) {e_amig:.2%} (N=2000), ig {comp[400][2]:.1%} / {e_ig:.2%}  f32 {d32:.1e}  fixture {d_fix:.1e}")
            for (e, s, want) in c_amig:
                lines.append(f"      N=2000 amig-ig Σ={s:+.6e}  P(x)-P(b̄)={want:+.6e}  rel err {e:.3%}")
        print(case["name"])
        print("\n".join(lines))
    print("worst: " + "  ".join(f"{k} {v:.2e}" for k, v in worst.items()))
    print(f"smallest knowledge-neuron threshold margin |s - tau*max|/max: {min_margin[0]:.2e} ({min_margin[1]})")
    ok = (worst["ref"] < 1e-12 and worst["batch"] < 1e-12 and worst["compat"] < 1e-12 and worst["compl"] < 0.01
          and worst["compl400"] / worst["compl"] > 3
          and worst["fixture"] < 1e-8)
    print("ALL OK" if ok else "SOME CHECKS FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
