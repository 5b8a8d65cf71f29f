#!/usr/bin/python3
"""Knowledge-neuron attributions (ig, amig-compat, amig-ig; clean mode) in PyTorch, as specified in
tools/golden/ATTRIBUTION.md, with the independent BERT/GPT-2 of models.py.

One prompt (prints one JSON object, the fixture item plus "seconds"):

    /usr/bin/python3 tools/golden/attribute.py --model DIR --arch masked|causal --ids 2,45,... \\
        --pieces 17,23 --method amig-compat --steps 20 [--tau 0.3] [--dtype float64|float32] \\
        [--batch B] [--repeat R] [--threads K] [--blank-id ID] [--reference]

Fixture for any checkpoint folder (same format as test/fixtures/golden/<case>/attribution.json):

    /usr/bin/python3 tools/golden/attribute.py --fixture-for DIR --prompts FILE.json --out FILE \\
        [--case NAME] [--steps 20] [--tau 0.3] [--methods ig,amig-compat,amig-ig]

FILE.json is a JSON list of {"arch": "masked"|"causal", "ids": [...], "pieces": [...]}; each
prompt gives one item per method, in float64, single-threaded (byte-identical on re-runs).

The checkpoint folder is read as the TypeScript loader reads it: config.json, model.safetensors or
model.safetensors.index.json (+ shards), F32/F16/BF16/F64, parameter names with or without the
`bert.` / `transformer.` prefix, LayerNorm gamma/beta or weight/bias, tie_word_embeddings
(default true: the decoder / lm_head is the word-embedding matrix). The blank token of AMIG's
baseline is [MASK] (masked) or EOS (causal), resolved from tokenizer_config.json /
special_tokens_map.json / tokenizer.json like src/model/tokenizer.ts (causal fallback:
config.eos_token_id); --blank-id overrides it.

Efficiency (the bench compares against the TypeScript engine, which does the same): per piece one
unpatched pass caches what every layer needs, one batched pass of the T blanked inputs gives b̄
for all layers, and each batch of path points runs only what the patched activation changes:
BERT: the FFN output of layer l at π, then the full layers above (attention spreads the change);
GPT-2: π is the last position, so only position π is recomputed in the layers above, attending
to the cached keys/values of the earlier positions. --reference instead runs the full forward of
models.py with a patching hook (slow; used by the sanity checks).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
import st_io  # noqa: E402

METHODS = ("ig", "amig-compat", "amig-ig")
ACTIVATIONS = {"gelu": "erf", "gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu_fast": "tanh", "relu": "relu"}
TORCH_DTYPES = {"float64": torch.float64, "float32": torch.float32}


class AttributionError(Exception):
    pass


# --------------------------------------------------------------------------- checkpoint loading

def _read_json(path, required=True):
    if not os.path.exists(path):
        if required:
            raise AttributionError(f"{path} does not exist")
        return {}
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _weight_files(d):
    single = os.path.join(d, "model.safetensors")
    if os.path.exists(single):
        return [single]
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        wm = _read_json(index)["weight_map"]
        return [os.path.join(d, f) for f in sorted(set(wm.values()))]
    raise AttributionError(f"{d} has no model.safetensors (nor model.safetensors.index.json)")


def _canonical(model_type, name):
    """Stored name -> the name models.py uses (bert./transformer. prefix, LayerNorm weight/bias)."""
    if name.endswith("LayerNorm.gamma"):
        name = name[: -len("gamma")] + "weight"
    elif name.endswith("LayerNorm.beta"):
        name = name[: -len("beta")] + "bias"
    if model_type == "bert":
        if name.startswith(("embeddings.", "encoder.", "pooler.")):
            name = "bert." + name
    elif not name.startswith(("transformer.", "lm_head.")):
        name = "transformer." + name
    return name


def _special_id(d, key, fallback):
    """Token string from tokenizer_config.json, then special_tokens_map.json (string or
    {"content": ...}), else `fallback`; its id from tokenizer.json (added tokens, then the vocab)."""
    token = None
    for fn in ("tokenizer_config.json", "special_tokens_map.json"):
        v = _read_json(os.path.join(d, fn), required=False).get(key)
        if isinstance(v, str):
            token = v
        elif isinstance(v, dict) and isinstance(v.get("content"), str):
            token = v["content"]
        if token is not None:
            break
    token = token if token is not None else fallback
    tj = _read_json(os.path.join(d, "tokenizer.json"), required=False)
    for t in tj.get("added_tokens", []):
        if t.get("content") == token:
            return int(t["id"])
    vocab = (tj.get("model") or {}).get("vocab")
    if isinstance(vocab, dict) and token in vocab:
        return int(vocab[token])
    return None


class Checkpoint:
    def __init__(self, d, dtype=torch.float64, blank_id=None, device="cpu"):
        """device: where the weights live and the attribution runs (the GPU benchmark uses "cuda")."""
        self.dir = d
        self.device = torch.device(device)
        cfg = dict(_read_json(os.path.join(d, "config.json")))
        mt = cfg.get("model_type")
        if mt not in ("bert", "gpt2"):
            raise AttributionError(f"{d}: model_type {mt!r} is not supported (bert, gpt2)")
        self.model_type = mt
        self.arch = "masked" if mt == "bert" else "causal"
        np_dtype = np.float64 if dtype == torch.float64 else np.float32
        W = {}
        for fn in _weight_files(d):
            W.update(st_io.read_file(fn, np_dtype))
        tied = cfg.get("tie_word_embeddings", True) is not False
        P = {}
        for name, arr in list(W.items()):
            c = _canonical(mt, name)
            if mt == "bert" and (c.startswith(("bert.pooler.", "cls.seq_relationship.")) or c.endswith("position_ids")):
                continue
            if mt == "gpt2" and (c.endswith(".attn.bias") or c.endswith(".attn.masked_bias")):
                continue
            P[c] = torch.from_numpy(np.ascontiguousarray(arr)).to(dtype=dtype, device=self.device)
            del W[name]  # one host copy at a time: the 1.3 B benchmark model is 5.7 GB
        if mt == "bert":
            if "cls.predictions.bias" not in P and "cls.predictions.decoder.bias" in P:
                P["cls.predictions.bias"] = P["cls.predictions.decoder.bias"]
            P.pop("cls.predictions.decoder.bias", None)
            if tied:
                P.pop("cls.predictions.decoder.weight", None)
            elif "cls.predictions.decoder.weight" not in P:
                raise AttributionError(f"{d}: tie_word_embeddings is false but cls.predictions.decoder.weight is missing")
            if cfg.get("is_decoder") is True:
                raise AttributionError(f"{d}: BERT with is_decoder=true is not supported")
            if cfg.get("position_embedding_type", "absolute") != "absolute":
                raise AttributionError(f"{d}: position_embedding_type {cfg['position_embedding_type']!r} is not supported")
            cfg.setdefault("layer_norm_eps", 1e-12)
            act = cfg.get("hidden_act", "gelu")
            self.n_layers = cfg["num_hidden_layers"]
        else:
            if tied:
                P.pop("lm_head.weight", None)
            elif "lm_head.weight" not in P:
                raise AttributionError(f"{d}: tie_word_embeddings is false but lm_head.weight is missing")
            cfg.setdefault("layer_norm_epsilon", 1e-5)
            cfg["scale_attn_weights"] = cfg.get("scale_attn_weights", True) is not False
            act = cfg.get("activation_function", "gelu_new")
            self.n_layers = cfg["n_layer"]
        if act not in ACTIVATIONS:
            raise AttributionError(f"{d}: activation {act!r} is not supported")
        self.opts = {"gelu": ACTIVATIONS[act]}
        self.cfg, self.P, self.dtype = cfg, P, dtype
        self.net = models.Bert(P, cfg, self.opts) if mt == "bert" else models.Gpt2(P, cfg, self.opts)
        self.vocab_size = cfg["vocab_size"]
        if blank_id is None:
            if mt == "bert":
                blank_id = _special_id(d, "mask_token", "[MASK]")
            else:
                blank_id = _special_id(d, "eos_token", "<|endoftext|>")
                if blank_id is None and isinstance(cfg.get("eos_token_id"), int):
                    blank_id = cfg["eos_token_id"]
        if blank_id is None:
            raise AttributionError(f"{d}: cannot resolve the {'[MASK]' if mt == 'bert' else 'EOS'} token id (use --blank-id)")
        self.blank_id = int(blank_id)

    def forward(self, ids, hook=None):
        fwd = models.bert_forward if self.model_type == "bert" else models.gpt2_forward
        return fwd(self.P, self.cfg, ids, hook, self.opts)


# --------------------------------------------------------------------------- the patched model

class Prompt:
    """Unpatched pass over one input, with what patched passes reuse."""

    def __init__(self, ck, ids, pos):
        self.ck, self.pos, self.T = ck, pos, len(ids)
        net = ck.net
        t = torch.tensor([ids], dtype=torch.long, device=ck.device)
        self.acts = []  # [L] tensors [F]: layer activation at pos
        with torch.no_grad():
            if ck.model_type == "bert":
                self.res, self.out = [], []
                x = net.embed(t)
                for l in range(net.n_layers):
                    res = net.attn(l, x)
                    act = net.ffn_in(l, res)
                    x = net.ffn_out(l, res, act)
                    self.res.append(res[:, pos])  # [1, D]
                    self.out.append(x)  # [1, T, D]
                    self.acts.append(act[0, pos])
                logits = net.head(x[:, pos])
            else:
                if pos != self.T - 1:
                    raise AttributionError("GPT-2 reads the last position")
                self.past, self.mid = [], []
                h = net.embed(t)
                for l in range(net.n_layers):
                    mid, k, v = net.attn(l, h)
                    act = net.ffn_in(l, mid)
                    h = net.ffn_out(l, mid, act)
                    self.past.append((k[:, :pos], v[:, :pos]))
                    self.mid.append(mid[:, pos])  # [1, D]
                    self.acts.append(act[0, pos])
                logits = net.head(h[:, pos])
        self.probs = torch.softmax(logits[0], dim=-1)

    def patched_probs(self, l, Z, target):
        """P(target) at pos with the layer-l activation at pos replaced by each row of Z [B, F]."""
        net, pos = self.ck.net, self.pos
        B = Z.shape[0]
        if self.ck.model_type == "bert":
            y = net.ffn_out(l, self.res[l], Z)  # [B, D], position-wise
            if l == net.n_layers - 1:
                logits = net.head(y)
            else:
                o = self.out[l].expand(B, -1, -1)
                x = torch.cat([o[:, :pos], y[:, None], o[:, pos + 1:]], dim=1)
                for m in range(l + 1, net.n_layers):
                    res = net.attn(m, x)
                    x = net.ffn_out(m, res, net.ffn_in(m, res))
                logits = net.head(x[:, pos])
        else:
            x = net.ffn_out(l, self.mid[l], Z)[:, None]  # [B, 1, D]
            for m in range(l + 1, net.n_layers):
                mid, _, _ = net.attn(m, x, self.past[m])
                x = net.ffn_out(m, mid, net.ffn_in(m, mid))
            logits = net.head(x[:, 0])
        return torch.softmax(logits, dim=-1)[:, target]

    def patched_probs_reference(self, ids, l, Z, target):
        """Same as patched_probs through the full forward of models.py with a patching hook."""
        pos, B = self.pos, Z.shape[0]
        t = torch.tensor([ids], dtype=torch.long, device=Z.device).repeat(B, 1)
        sel = torch.zeros(1, len(ids), 1, dtype=torch.bool, device=Z.device)
        sel[0, pos, 0] = True

        def hook(m, a):
            return torch.where(sel, Z[:, None, :], a) if m == l else a

        return torch.softmax(self.ck.forward(t, hook)[:, pos], dim=-1)[:, target]


def blank_baseline(ck, ids, pos):
    """b̄ for every layer: [L, F], mean over the T inputs with token j replaced by the blank id,
    read at pos, in one batched pass."""
    T = len(ids)
    t = torch.tensor([ids], dtype=torch.long, device=ck.device).repeat(T, 1)
    t[torch.arange(T), torch.arange(T)] = ck.blank_id
    net = ck.net
    out = []
    with torch.no_grad():
        x = net.embed(t)
        for l in range(net.n_layers):
            if ck.model_type == "bert":
                res = net.attn(l, x)
            else:
                res, _, _ = net.attn(l, x)
            act = net.ffn_in(l, res)
            out.append(act[:, pos].mean(dim=0))
            if l < net.n_layers - 1:
                x = net.ffn_out(l, res, act)
    return torch.stack(out)


def path_points(method, x, b, N):
    k = torch.arange(N, dtype=x.dtype, device=x.device)
    if method == "ig":
        return (k / (N - 1))[:, None] * x
    return b + (k / N)[:, None] * (x - b)


def gradient_sum(prompt, ids, l, Z, target, batch, reference=False):
    """Σ_k ∇P(z_k) over the rows of Z, in batches of `batch` rows."""
    G = torch.zeros(Z.shape[1], dtype=Z.dtype, device=Z.device)
    for s in range(0, Z.shape[0], batch):
        z = Z[s:s + batch].detach().clone().requires_grad_(True)
        p = prompt.patched_probs_reference(ids, l, z, target) if reference else prompt.patched_probs(l, z, target)
        (g,) = torch.autograd.grad(p.sum(), z)
        G += g.sum(dim=0)
    return G


def piece_inputs(arch, ids, pieces, blank_id):
    """[(input ids, position, target)] per piece (ATTRIBUTION.md, clean mode)."""
    ids, pieces = list(ids), list(pieces)
    if not pieces:
        raise AttributionError("no pieces")
    if arch == "masked":
        masks = [i for i, t in enumerate(ids) if t == blank_id]
        if len(masks) < len(pieces):
            raise AttributionError(f"{len(pieces)} pieces but {len(masks)} [MASK] tokens (id {blank_id}) in the prompt")
        return [(ids, masks[s], y) for s, y in enumerate(pieces)]
    if arch == "causal":
        out = []
        for s, y in enumerate(pieces):
            inp = ids + pieces[:s]
            out.append((inp, len(inp) - 1, y))
        return out
    raise AttributionError(f"arch {arch!r}")


def attribute(ck, arch, ids, pieces, methods, steps, batch=None, reference=False, keep_parts=False):
    """Scores [L, F] (float64 numpy) per method, summed over pieces; plus positions, targetProbs
    and, with keep_parts, per piece {x, b, G per method, P(x)}."""
    want = {"masked": "bert", "causal": "gpt2"}[arch]
    if want != ck.model_type:
        raise AttributionError(f"arch {arch} does not fit model_type {ck.model_type}")
    for m in methods:
        if m not in METHODS:
            raise AttributionError(f"method {m!r} (supported: {', '.join(METHODS)})")
    if "ig" in methods and steps < 2:
        raise AttributionError("ig needs steps >= 2")
    N = int(steps)
    B = int(batch or N)
    L = ck.n_layers
    scores = {m: None for m in methods}
    positions, target_probs, parts = [], [], []
    for inp, pos, y in piece_inputs(arch, ids, pieces, ck.blank_id):
        prompt = Prompt(ck, inp, pos)
        positions.append(pos)
        target_probs.append(float(prompt.probs[y]))
        bbar = blank_baseline(ck, inp, pos) if any(m != "ig" for m in methods) else None
        part = {"x": [], "b": bbar, "G": {}, "Px": float(prompt.probs[y]), "prompt": prompt, "ids": inp, "target": y}
        grads = {}  # path ig / amig (amig-compat and amig-ig share the points)
        for m in methods:
            path = "ig" if m == "ig" else "amig"
            if path not in grads:
                grads[path] = [gradient_sum(prompt, inp, l,
                                            path_points(path, prompt.acts[l], None if bbar is None else bbar[l], N),
                                            y, B, reference) for l in range(L)]
            rows = []
            for l in range(L):
                x = prompt.acts[l]
                mult = x - bbar[l] if m == "amig-ig" else x
                rows.append(mult * grads[path][l] / N)
            A = torch.stack(rows).double()
            scores[m] = A if scores[m] is None else scores[m] + A
        if keep_parts:
            part["x"] = torch.stack(prompt.acts)
            part["G"] = grads
            parts.append(part)
    out = {m: scores[m].cpu().numpy() for m in methods}
    return out, positions, target_probs, parts


def knowledge_neurons(scores, tau):
    """[[layer, unit, score]] with score > tau·max (strict), by score descending; [] if max <= 0."""
    mx = float(scores.max())
    if not mx > 0:
        return []
    thr = tau * mx
    sel = [(int(l), int(u), float(scores[l, u])) for l, u in zip(*np.nonzero(scores > thr))]
    sel.sort(key=lambda t: (-t[2], t[0], t[1]))
    return [list(t) for t in sel]


# --------------------------------------------------------------------------- output

def r9(v):
    """Round to 9 significant digits (the fixtures' tolerance is 1e-4 relative to the max)."""
    v = float(v)
    if not math.isfinite(v):
        raise AttributionError(f"non-finite value {v}")
    r = float(f"{v:.9g}")
    return 0.0 if r == 0 else r


def make_item(arch, ids, pieces, positions, method, steps, tau, target_probs, scores):
    return {
        "arch": arch,
        "ids": [int(i) for i in ids],
        "pieces": [int(p) for p in pieces],
        "positions": positions,
        "method": method,
        "steps": int(steps),
        "tau": tau,
        "targetProbs": [r9(p) for p in target_probs],
        "scores": [[r9(v) for v in row] for row in scores.tolist()],
        "knowledgeNeurons": [[l, u, r9(s)] for l, u, s in knowledge_neurons(scores, tau)],
    }


def _scalar(x):
    if isinstance(x, float):
        return repr(x)
    return json.dumps(x, ensure_ascii=False)


def dumps(obj, level=0):
    """JSON with flat lists on one line (compact diffs, small files); deterministic."""
    pad, pad1 = " " * level, " " * (level + 1)
    if isinstance(obj, dict):
        return "{\n" + ",\n".join(pad1 + json.dumps(k) + ": " + dumps(v, level + 1) for k, v in obj.items()) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(not isinstance(x, (dict, list)) for x in obj):
            return "[" + ", ".join(_scalar(x) for x in obj) + "]"
        if not obj:
            return "[]"
        return "[\n" + ",\n".join(pad1 + dumps(x, level + 1) for x in obj) + "\n" + pad + "]"
    return _scalar(obj)


def fixture(ck, case, prompts, methods=METHODS, steps=20, tau=0.3):
    items = []
    for pr in prompts:
        scores, positions, tps, _ = attribute(ck, pr["arch"], pr["ids"], pr["pieces"], methods, steps)
        # text/target/language, when given, let a test replay the prompt through `kn attribute`
        cli = {k: pr[k] for k in ("text", "target", "language") if k in pr}
        for m in methods:
            items.append({**make_item(pr["arch"], pr["ids"], pr["pieces"], positions, m, steps, tau, tps, scores[m]), **cli})
    return {"case": case, "items": items}


def write_fixture(model_dir, prompts, out, case=None, methods=METHODS, steps=20, tau=0.3):
    torch.set_num_threads(1)  # byte-identical re-runs
    ck = Checkpoint(model_dir, torch.float64)
    case = case or os.path.basename(os.path.normpath(model_dir))
    obj = fixture(ck, case, prompts, methods, steps, tau)
    text = dumps(obj) + "\n"
    with open(out, "w", encoding="utf-8") as f:
        f.write(text)
    return obj, len(text.encode("utf-8"))


def _ints(s):
    return [int(v) for v in s.split(",") if v.strip() != ""]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="checkpoint folder (HF layout)")
    ap.add_argument("--arch", choices=["masked", "causal"])
    ap.add_argument("--ids", type=_ints)
    ap.add_argument("--pieces", type=_ints)
    ap.add_argument("--method", choices=METHODS, default="amig-compat")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--tau", type=float, default=0.3)
    ap.add_argument("--dtype", choices=sorted(TORCH_DTYPES), default="float64")
    ap.add_argument("--batch", type=int, default=None, help="path points per forward/backward (default: steps)")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's; fixtures: 1)")
    ap.add_argument("--blank-id", type=int, default=None)
    ap.add_argument("--reference", action="store_true", help="full forward + hook for every path batch (slow)")
    ap.add_argument("--fixture-for", metavar="DIR", help="write an attribution.json for this checkpoint folder")
    ap.add_argument("--prompts", metavar="FILE", help="with --fixture-for: JSON list of {arch, ids, pieces}")
    ap.add_argument("--out", metavar="FILE", help="with --fixture-for: output file")
    ap.add_argument("--case", help="with --fixture-for: the case name (default: the folder name)")
    ap.add_argument("--methods", default=",".join(METHODS), help="with --fixture-for")
    a = ap.parse_args(argv)
    try:
        if a.fixture_for:
            if not a.prompts or not a.out:
                ap.error("--fixture-for needs --prompts and --out")
            prompts = _read_json(a.prompts)
            obj, size = write_fixture(a.fixture_for, prompts, a.out, a.case, tuple(a.methods.split(",")), a.steps, a.tau)
            print(f"{a.out}: {len(obj['items'])} items, {size / 1024:.0f} KiB", file=sys.stderr)
            return 0
        if not (a.model and a.arch and a.ids and a.pieces):
            ap.error("--model, --arch, --ids and --pieces are required")
        if a.threads:
            torch.set_num_threads(a.threads)
        ck = Checkpoint(a.model, TORCH_DTYPES[a.dtype], a.blank_id)
        times = []
        for _ in range(max(1, a.repeat)):
            t0 = time.perf_counter()
            scores, positions, tps, _ = attribute(ck, a.arch, a.ids, a.pieces, [a.method], a.steps, a.batch, a.reference)
            times.append(time.perf_counter() - t0)
        item = make_item(a.arch, a.ids, a.pieces, positions, a.method, a.steps, a.tau, tps, scores[a.method])
        item["seconds"] = sum(times) / len(times)
        print(json.dumps(item))
        return 0
    except AttributionError as e:
        print(f"attribute.py: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
