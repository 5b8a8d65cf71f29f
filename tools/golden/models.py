"""Independent float64 BERT (post-LN, masked LM) and GPT-2 (pre-LN, causal LM) forwards.

Parameters are dicts keyed by *canonical* Hugging Face names (BERT: `bert.` prefix and
LayerNorm weight/bias; GPT-2: `transformer.` prefix, `lm_head.weight` only when untied).

`hook(layer, act)` sees the FFN activation of every layer as a [B, T, d_ff] tensor and returns
the tensor the rest of the network uses (BERT: after GELU; GPT-2: c_fc output before GELU).

`opts` exists for the sensitivity study only (golden values always use the defaults):
  gelu: "erf" | "tanh" | "relu" | None (model default), attn_scale: bool, eps: float | None.

`Bert` / `Gpt2` expose the same computation in pieces (embeddings, attention half of a block, FFN
input, FFN output, head) so that attribute.py can cache the unpatched prompt once and run only
what a patched activation changes; `bert_forward` / `gpt2_forward` are compositions of the
pieces (identical arithmetic).
"""
import math

import torch


def gelu_erf(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def gelu_tanh(x):  # HF "gelu_new"
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


GELUS = {"erf": gelu_erf, "tanh": gelu_tanh, "relu": torch.relu}


def layer_norm(x, w, b, eps):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def _attention(q, k, v, n_head, scale, causal, div=1.0):
    """q [B, Tq, D], k/v [B, Tk, D]. Causal: query i (absolute position Tk - Tq + i) sees keys <= it."""
    B, Tq, D = q.shape
    Tk = k.shape[1]
    hd = D // n_head

    def split(t):
        return t.reshape(t.shape[0], t.shape[1], n_head, hd).permute(0, 2, 1, 3)  # [B, H, T, hd]

    q, k, v = split(q), split(k), split(v)
    scores = q @ k.transpose(-1, -2)
    if scale:
        scores = scores / math.sqrt(hd)
    if div != 1.0:  # GPT-2 scale_attn_by_inverse_layer_idx
        scores = scores / div
    if causal:
        mask = torch.ones(Tq, Tk, dtype=torch.bool, device=q.device).tril(diagonal=Tk - Tq)
        scores = scores.masked_fill(~mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    ctx = probs @ v  # [B, H, Tq, hd]
    return ctx.permute(0, 2, 1, 3).reshape(B, Tq, D)


class Bert:
    """Post-LN BERT encoder + MLM head. Block l: res = attn(l, x); act = ffn_in(l, res);
    x' = ffn_out(l, res, act). ffn_out and head are position-wise."""

    def __init__(self, P, cfg, opts=None):
        opts = opts or {}
        self.P, self.cfg = P, cfg
        self.eps = opts.get("eps") or cfg["layer_norm_eps"]
        self.gelu = GELUS[opts.get("gelu") or "erf"]
        self.scale = opts.get("attn_scale", True)
        self.n_layers = cfg["num_hidden_layers"]

    def lin(self, x, name):
        return x @ self.P[name + ".weight"].T + self.P[name + ".bias"]

    def ln(self, x, name):
        return layer_norm(x, self.P[name + ".weight"], self.P[name + ".bias"], self.eps)

    def embed(self, ids):
        P = self.P
        T = ids.shape[1]
        x = P["bert.embeddings.word_embeddings.weight"][ids] + P["bert.embeddings.position_embeddings.weight"][:T] \
            + P["bert.embeddings.token_type_embeddings.weight"][0]
        return self.ln(x, "bert.embeddings.LayerNorm")

    def attn(self, l, x):
        p = f"bert.encoder.layer.{l}."
        ctx = _attention(self.lin(x, p + "attention.self.query"), self.lin(x, p + "attention.self.key"),
                         self.lin(x, p + "attention.self.value"), self.cfg["num_attention_heads"], self.scale, False)
        return self.ln(self.lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")

    def ffn_in(self, l, res):
        return self.gelu(self.lin(res, f"bert.encoder.layer.{l}.intermediate.dense"))

    def ffn_out(self, l, res, act):
        p = f"bert.encoder.layer.{l}."
        return self.ln(self.lin(act, p + "output.dense") + res, p + "output.LayerNorm")

    def head(self, x):
        P = self.P
        t = self.ln(self.gelu(self.lin(x, "cls.predictions.transform.dense")), "cls.predictions.transform.LayerNorm")
        W = P.get("cls.predictions.decoder.weight", P["bert.embeddings.word_embeddings.weight"])
        return t @ W.T + P["cls.predictions.bias"]


class Gpt2:
    """Pre-LN GPT-2. Block l: mid, k, v = attn(l, h[, past]); act = ffn_in(l, mid);
    h' = ffn_out(l, mid, act). With past = (k, v) of earlier positions, h holds only the new ones."""

    def __init__(self, P, cfg, opts=None):
        opts = opts or {}
        self.P, self.cfg = P, cfg
        self.eps = opts.get("eps") or cfg["layer_norm_epsilon"]
        self.gelu = GELUS[opts.get("gelu") or "tanh"]
        self.scale = opts.get("attn_scale", cfg["scale_attn_weights"])
        self.inv_layer = bool(cfg.get("scale_attn_by_inverse_layer_idx", False))
        self.D = cfg["n_embd"]
        self.n_layers = cfg["n_layer"]

    def conv1d(self, x, name):  # Conv1D: weight stored [in, out]
        return x @ self.P[name + ".weight"] + self.P[name + ".bias"]

    def ln(self, x, name):
        return layer_norm(x, self.P[name + ".weight"], self.P[name + ".bias"], self.eps)

    def embed(self, ids, start=0):
        P = self.P
        T = ids.shape[1]
        return P["transformer.wte.weight"][ids] + P["transformer.wpe.weight"][start:start + T]

    def attn(self, l, h, past=None):
        p = f"transformer.h.{l}."
        D = self.D
        qkv = self.conv1d(self.ln(h, p + "ln_1"), p + "attn.c_attn")
        q, k, v = qkv[..., :D], qkv[..., D : 2 * D], qkv[..., 2 * D :]
        if past is not None:
            B = h.shape[0]
            k = torch.cat([past[0].expand(B, -1, -1), k], dim=1)
            v = torch.cat([past[1].expand(B, -1, -1), v], dim=1)
        div = float(l + 1) if self.inv_layer else 1.0
        mid = h + self.conv1d(_attention(q, k, v, self.cfg["n_head"], self.scale, True, div), p + "attn.c_proj")
        return mid, k, v

    def ffn_in(self, l, mid):
        p = f"transformer.h.{l}."
        return self.conv1d(self.ln(mid, p + "ln_2"), p + "mlp.c_fc")

    def ffn_out(self, l, mid, act):
        return mid + self.conv1d(self.gelu(act), f"transformer.h.{l}.mlp.c_proj")

    def head(self, h):
        P = self.P
        h = self.ln(h, "transformer.ln_f")
        W = P.get("lm_head.weight", P["transformer.wte.weight"])
        return h @ W.T


def bert_forward(P, cfg, ids, hook=None, opts=None):
    """ids: LongTensor [B, T]. Returns MLM logits [B, T, V]."""
    m = Bert(P, cfg, opts)
    x = m.embed(ids)
    for l in range(m.n_layers):
        res = m.attn(l, x)
        act = m.ffn_in(l, res)
        if hook is not None:
            act = hook(l, act)
        x = m.ffn_out(l, res, act)
    return m.head(x)


def gpt2_forward(P, cfg, ids, hook=None, opts=None):
    """ids: LongTensor [B, T]. Returns next-token logits [B, T, V]."""
    m = Gpt2(P, cfg, opts)
    h = m.embed(ids)
    for l in range(m.n_layers):
        mid, _, _ = m.attn(l, h)
        act = m.ffn_in(l, mid)
        if hook is not None:
            act = hook(l, act)
        h = m.ffn_out(l, mid, act)
    return m.head(h)
