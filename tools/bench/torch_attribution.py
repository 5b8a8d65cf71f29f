#!/usr/bin/python3
"""PyTorch side of `npm run bench:attribution`: tools/golden/attribute.py's attribution (the same
algorithm and caching as the TypeScript engine, see tools/golden/ATTRIBUTION.md), run over a list
of prompts in one process so the checkpoint is loaded once.

    /usr/bin/python3 tools/bench/torch_attribution.py --model DIR --prompts FILE.json \\
        [--method amig-compat] [--steps 20] [--dtype float32] [--threads 1] [--rounds 1] [--device cpu|cuda|auto]

FILE.json: [{"arch": "masked"|"causal", "ids": [...], "pieces": [...]}, ...]. One warm-up
attribution (steps 2, first prompt) is not timed. Prints one JSON object: torch version,
threads, load seconds, per-prompt mean wall and CPU seconds (process time, all threads) over
the rounds, the time spent per phase (unpatched pass, blanked baseline, patched gradient passes) and the scores of the last round
(flattened [layer][unit], 6 significant digits) for the equivalence check.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tools", "golden"))
import attribute as A  # noqa: E402

PHASES = {k: {"wall": 0.0, "cpu": 0.0} for k in ("prepare", "baseline", "gradients")}
SYNC = [lambda: None]  # torch.cuda.synchronize on a GPU: kernels run asynchronously


def timed(phase, fn):
    def wrapper(*args, **kwargs):
        SYNC[0]()
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            SYNC[0]()
            PHASES[phase]["wall"] += time.perf_counter() - t0
            PHASES[phase]["cpu"] += time.process_time() - c0
    return wrapper


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompts", required=True)
    ap.add_argument("--method", default="amig-compat", choices=A.METHODS)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--dtype", default="float32", choices=sorted(A.TORCH_DTYPES))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="cpu, cuda, or auto (cuda when available)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    device = ("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device
    if device.startswith("cuda"):
        SYNC[0] = torch.cuda.synchronize
    with open(a.prompts, encoding="utf-8") as f:
        prompts = json.load(f)
    t0 = time.perf_counter()
    ck = A.Checkpoint(a.model, A.TORCH_DTYPES[a.dtype], device=device)
    load_s = time.perf_counter() - t0
    A.attribute(ck, prompts[0]["arch"], prompts[0]["ids"], prompts[0]["pieces"], [a.method], 2)  # warm-up
    # module globals, looked up by A.attribute at call time
    A.Prompt = timed("prepare", A.Prompt)
    A.blank_baseline = timed("baseline", A.blank_baseline)
    A.gradient_sum = timed("gradients", A.gradient_sum)
    seconds = [0.0] * len(prompts)
    cpu = [0.0] * len(prompts)
    scores = [None] * len(prompts)
    for _ in range(max(1, a.rounds)):
        for i, p in enumerate(prompts):
            SYNC[0]()
            t0, c0 = time.perf_counter(), time.process_time()
            out, _, _, _ = A.attribute(ck, p["arch"], p["ids"], p["pieces"], [a.method], a.steps)
            SYNC[0]()
            seconds[i] += time.perf_counter() - t0
            cpu[i] += time.process_time() - c0
            scores[i] = out[a.method]
    rounds = max(1, a.rounds)
    print(json.dumps({
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "device": torch.cuda.get_device_name(0) if device.startswith("cuda") else "cpu",
        "load_s": load_s,
        "seconds": [s / rounds for s in seconds],
        "cpu_seconds": [s / rounds for s in cpu],
        "phases": {k: {m: t / rounds for m, t in v.items()} for k, v in PHASES.items()},
        "scores": [[float(f"{v:.6g}") for v in s.reshape(-1).tolist()] for s in scores],
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
