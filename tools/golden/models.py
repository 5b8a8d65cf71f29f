"""Independent float64 BERT (post-LN, masked LM) and GPT-2 (pre-LN, causal LM) forwards.

Parameters are dicts keyed by *canonical* Hugging Face names (BERT: `bert.` prefix and
LayerNorm weight/bias; GPT-2: `transformer.` prefix, `lm_head.weight` only when untied).

`hook(layer, act)` sees the FFN activation of every layer as a [B, T, d_ff] tensor and returns
the tensor the rest of the network uses (BERT: after GELU; GPT-2: c_fc output before GELU).

`opts` exists for the sensitivity study only (golden values always use the defaults):
  gelu: "erf" | "tanh" | None (model default), attn_scale: bool, eps: float | None.
"""
import math

import torch


def gelu_erf(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def gelu_tanh(x):  # HF "gelu_new"
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


GELUS = {"erf": gelu_erf, "tanh": gelu_tanh}


def layer_norm(x, w, b, eps):
    mean = x.mean(dim=-1, keepdim=True)
    var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def _attention(q, k, v, n_head, scale, causal):
    B, T, D = q.shape
    hd = D // n_head

    def split(t):
        return t.reshape(B, T, n_head, hd).permute(0, 2, 1, 3)  # [B, H, T, hd]

    q, k, v = split(q), split(k), split(v)
    scores = q @ k.transpose(-1, -2)
    if scale:
        scores = scores / math.sqrt(hd)
    if causal:
        mask = torch.ones(T, T, dtype=torch.bool).tril()
        scores = scores.masked_fill(~mask, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    ctx = probs @ v  # [B, H, T, hd]
    return ctx.permute(0, 2, 1, 3).reshape(B, T, D)


def bert_forward(P, cfg, ids, hook=None, opts=None):
    """ids: LongTensor [B, T]. Returns MLM logits [B, T, V]."""
    opts = opts or {}
    eps = opts.get("eps") or cfg["layer_norm_eps"]
    gelu = GELUS[opts.get("gelu") or "erf"]
    scale = opts.get("attn_scale", True)

    def lin(x, name):
        return x @ P[name + ".weight"].T + P[name + ".bias"]

    def ln(x, name):
        return layer_norm(x, P[name + ".weight"], P[name + ".bias"], eps)

    B, T = ids.shape
    E = P["bert.embeddings.word_embeddings.weight"]
    x = E[ids] + P["bert.embeddings.position_embeddings.weight"][:T] + P["bert.embeddings.token_type_embeddings.weight"][0]
    x = ln(x, "bert.embeddings.LayerNorm")
    for l in range(cfg["num_hidden_layers"]):
        p = f"bert.encoder.layer.{l}."
        ctx = _attention(lin(x, p + "attention.self.query"), lin(x, p + "attention.self.key"),
                         lin(x, p + "attention.self.value"), cfg["num_attention_heads"], scale, False)
        x = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        act = gelu(lin(x, p + "intermediate.dense"))
        if hook is not None:
            act = hook(l, act)
        x = ln(lin(act, p + "output.dense") + x, p + "output.LayerNorm")
    t = ln(gelu(lin(x, "cls.predictions.transform.dense")), "cls.predictions.transform.LayerNorm")
    W = P.get("cls.predictions.decoder.weight", E)
    return t @ W.T + P["cls.predictions.bias"]


def gpt2_forward(P, cfg, ids, hook=None, opts=None):
    """ids: LongTensor [B, T]. Returns next-token logits [B, T, V]."""
    opts = opts or {}
    eps = opts.get("eps") or cfg["layer_norm_epsilon"]
    gelu = GELUS[opts.get("gelu") or "tanh"]
    scale = opts.get("attn_scale", cfg["scale_attn_weights"])
    D = cfg["n_embd"]

    def conv1d(x, name):  # Conv1D: weight stored [in, out]
        return x @ P[name + ".weight"] + P[name + ".bias"]

    def ln(x, name):
        return layer_norm(x, P[name + ".weight"], P[name + ".bias"], eps)

    B, T = ids.shape
    h = P["transformer.wte.weight"][ids] + P["transformer.wpe.weight"][:T]
    for l in range(cfg["n_layer"]):
        p = f"transformer.h.{l}."
        qkv = conv1d(ln(h, p + "ln_1"), p + "attn.c_attn")
        q, k, v = qkv[..., :D], qkv[..., D : 2 * D], qkv[..., 2 * D :]
        h = h + conv1d(_attention(q, k, v, cfg["n_head"], scale, True), p + "attn.c_proj")
        act = conv1d(ln(h, p + "ln_2"), p + "mlp.c_fc")
        if hook is not None:
            act = hook(l, act)
        h = h + conv1d(gelu(act), p + "mlp.c_proj")
    h = ln(h, "transformer.ln_f")
    W = P.get("lm_head.weight", P["transformer.wte.weight"])
    return h @ W.T
