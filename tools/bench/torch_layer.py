"""One BERT-base encoder layer in PyTorch: the reference timing for tools/bench/model.ts.

Same shapes and the same work as the TypeScript bench: forward, and forward + gradient with
respect to the layer input (weights frozen), float32, eval mode. Prints one JSON object.
Run with Debian's /usr/bin/python3 (python3-torch).
"""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=20)
    ap.add_argument("--seq", type=int, default=16)
    ap.add_argument("--hidden", type=int, default=768)
    ap.add_argument("--ffn", type=int, default=3072)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="0: torch's default")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    d, f, h = a.hidden, a.ffn, a.heads
    dh = d // h

    def lin(o: int, i: int):
        return torch.randn(o, i) * 0.02, torch.zeros(o)

    wq, bq = lin(d, d)
    wk, bk = lin(d, d)
    wv, bv = lin(d, d)
    wo, bo = lin(d, d)
    wi, bi = lin(f, d)
    wf, bf = lin(d, f)
    g1, be1, g2, be2 = torch.ones(d), torch.zeros(d), torch.ones(d), torch.zeros(d)

    def layer(x: torch.Tensor) -> torch.Tensor:
        b, t, _ = x.shape
        split = lambda y: y.view(b, t, h, dh).transpose(1, 2)
        q, k, v = split(F.linear(x, wq, bq)), split(F.linear(x, wk, bk)), split(F.linear(x, wv, bv))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(dh), dim=-1) @ v
        h1 = F.layer_norm(F.linear(att.transpose(1, 2).reshape(b, t, d), wo, bo) + x, (d,), g1, be1, 1e-12)
        act = F.gelu(F.linear(h1, wi, bi))
        return F.layer_norm(F.linear(act, wf, bf) + h1, (d,), g2, be2, 1e-12)

    x = torch.randn(a.batch, a.seq, d)

    def forward() -> None:
        with torch.no_grad():
            layer(x)

    def forward_backward() -> None:
        xr = x.clone().requires_grad_(True)
        layer(xr).sum().backward()

    def timed(fn) -> float:
        fn()  # warm-up
        t0 = time.perf_counter()
        for _ in range(a.reps):
            fn()
        return (time.perf_counter() - t0) / a.reps * 1000

    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "forward_ms": timed(forward),
        "forward_backward_ms": timed(forward_backward),
        "reps": a.reps,
    }))


if __name__ == "__main__":
    main()
