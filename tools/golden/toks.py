"""Toy vocabularies and minimal, independent Python tokenizers (no `tokenizers` package).

* BERT: BertNormalizer (clean_text, CJK spacing, no lowercasing / accent stripping) +
  BertPreTokenizer (whitespace + punctuation split) + WordPiece greedy longest-match-first.
* GPT-2: byte-level BPE (bytes_to_unicode mapping, GPT-2 pre-tokenization regex approximated
  with Python `re`, merges applied by rank).

Also writes tokenizer.json / tokenizer_config.json / special_tokens_map.json in the layout that
Hugging Face `tokenizers` / `transformers` write.
"""
import re
import unicodedata
from collections import Counter

# --------------------------------------------------------------------------- corpus

CORPUS = [
    "Paris is the capital of France .",
    "Berlin is the capital of Germany .",
    "Rome is the capital of Italy .",
    "Madrid is the capital of Spain .",
    "London is the capital of England .",
    "Tokyo is the capital of Japan .",
    "Beijing is the capital of China .",
    "Vienna is the capital of Austria .",
    "The capital of Alsace is Strasbourg .",
    "Einstein was born in Ulm .",
    "Mozart was born in Salzburg .",
    "Goethe was born in Frankfurt .",
    "Victor Hugo was born in Besançon .",
    "The official language of France is French .",
    "The official language of Germany is German .",
    "The official language of China is Chinese .",
    "Paris est la capitale de la France .",
    "Le français est parlé en France .",
    "Strasbourg est une ville française .",
    "Berlin ist die Hauptstadt von Deutschland .",
    "München liegt in Bayern .",
    "Die Hauptstadt von Österreich ist Wien .",
    "巴黎是法国的首都。",
    "柏林是德国的首都。",
    "东京是日本的首都。",
    "北京是中国的首都。",
    "Shakespeare wrote Hamlet in English .",
    "Dante wrote poems in Italian .",
    "The river Rhine flows through Germany and the Netherlands .",
    "La Seine traverse Paris .",
    "Der Rhein fließt durch Köln .",
    "Zürich ist eine Stadt in der Schweiz .",
    "上海是中国最大的城市。",
    "莎士比亚是英国作家。",
]

# --------------------------------------------------------------------------- BERT

BERT_SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

# words stored only as pieces (so that they split into several WordPiece tokens)
BERT_SPLIT = {
    "Strasbourg": ["Stras", "##bourg"],
    "Hauptstadt": ["Haupt", "##stadt"],
    "Deutschland": ["Deutsch", "##land"],
    "Berlin": ["Ber", "##lin"],
    "Salzburg": ["Salz", "##burg"],
    "Besançon": ["Besan", "##çon"],
}
# extra decoy pieces: greedy longest-match-first must not pick these
BERT_EXTRA = ["Hau", "##st", "##adt", "Deut", "##sch", "##bo", "##urg", "Be", "##li", "Str"]


def _is_whitespace(ch):
    if ch in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(ch) == "Zs"


def _is_control(ch):
    if ch in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs")


def _is_punct(ch):
    cp = ord(ch)
    if (33 <= cp <= 47) or (58 <= cp <= 64) or (91 <= cp <= 96) or (123 <= cp <= 126):
        return True
    return unicodedata.category(ch).startswith("P")


def _is_chinese(cp):
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def bert_pretokenize(text):
    out = []
    for ch in text:
        if ord(ch) == 0 or ord(ch) == 0xFFFD or _is_control(ch):
            continue
        out.append(" " if _is_whitespace(ch) else ch)
    text = "".join(" " + c + " " if _is_chinese(ord(c)) else c for c in out)
    words = []
    for w in text.split():
        cur = ""
        for ch in w:
            if _is_punct(ch):
                if cur:
                    words.append(cur)
                    cur = ""
                words.append(ch)
            else:
                cur += ch
        if cur:
            words.append(cur)
    return words


def wordpiece(word, vocab, unk="[UNK]", max_chars=100):
    if len(word) > max_chars:
        return [unk]
    pieces, start = [], 0
    while start < len(word):
        end, cur = len(word), None
        while start < end:
            sub = word[start:end]
            if start > 0:
                sub = "##" + sub
            if sub in vocab:
                cur = sub
                break
            end -= 1
        if cur is None:
            return [unk]
        pieces.append(cur)
        start = end
    return pieces


def build_bert_vocab():
    words = []
    for s in CORPUS:
        for w in bert_pretokenize(s):
            if w not in words:
                words.append(w)
    chars = sorted({c for w in words for c in w})
    tokens = list(BERT_SPECIALS)
    tokens += chars
    tokens += ["##" + c for c in chars if not _is_chinese(ord(c)) and not _is_punct(c)]
    for w in words:
        for p in BERT_SPLIT.get(w, [w]):
            if p not in tokens:
                tokens.append(p)
    for p in BERT_EXTRA:
        if p not in tokens:
            tokens.append(p)
    for w in BERT_SPLIT:  # the split words themselves must not be whole tokens
        assert w not in tokens, w
    return {t: i for i, t in enumerate(tokens)}


def bert_encode(text, vocab):
    """[CLS] + WordPiece(text) + [SEP]; special tokens in the text are matched first."""
    ids = [vocab["[CLS]"]]
    pat = "(" + "|".join(re.escape(s) for s in BERT_SPECIALS) + ")"
    for seg in re.split(pat, text):
        if seg in BERT_SPECIALS:
            ids.append(vocab[seg])
            continue
        for w in bert_pretokenize(seg):
            ids.extend(vocab[p] for p in wordpiece(w, vocab))
    ids.append(vocab["[SEP]"])
    return ids


def bert_tokenizer_files(vocab):
    added = [
        {"id": vocab[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
         "normalized": False, "special": True}
        for s in BERT_SPECIALS
    ]
    cls_id, sep_id = vocab["[CLS]"], vocab["[SEP]"]
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": False},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {
                "[CLS]": {"id": "[CLS]", "ids": [cls_id], "tokens": ["[CLS]"]},
                "[SEP]": {"id": "[SEP]", "ids": [sep_id], "tokens": ["[SEP]"]},
            },
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab},
    }
    cfg = {
        "added_tokens_decoder": {
            str(vocab[s]): {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                            "single_word": False, "special": True}
            for s in BERT_SPECIALS
        },
        "clean_up_tokenization_spaces": True,
        "cls_token": "[CLS]",
        "do_basic_tokenize": True,
        "do_lower_case": False,
        "extra_special_tokens": {},
        "mask_token": "[MASK]",
        "model_max_length": 512,
        "never_split": None,
        "pad_token": "[PAD]",
        "sep_token": "[SEP]",
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "tokenizer_class": "BertTokenizer",
        "unk_token": "[UNK]",
    }
    smap = {"cls_token": "[CLS]", "mask_token": "[MASK]", "pad_token": "[PAD]",
            "sep_token": "[SEP]", "unk_token": "[UNK]"}
    return tok, cfg, smap


# --------------------------------------------------------------------------- GPT-2

EOT = "<|endoftext|>"
N_MERGES = 110

# GPT-2 pattern  's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
# approximated with Python `re`: letters = [^\W\d_], numbers = \d (fine for the toy texts).
GPT2_PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [(b, chr(c)) for b, c in zip(bs, cs)]  # in GPT-2 vocabulary id order


BYTE_ORDER = bytes_to_unicode()
BYTE_ENC = dict(BYTE_ORDER)


def gpt2_pretokenize(text):
    return ["".join(BYTE_ENC[b] for b in m.encode("utf-8")) for m in GPT2_PAT.findall(text)]


def learn_bpe(freqs, n_merges, tie_key):
    """Byte-level BPE merges over {pre-token: count}: each round merges the most frequent pair
    (ties broken by the largest tie_key(pair))."""
    words = {w: list(w) for w in freqs}
    merges = []
    for _ in range(n_merges):
        pairs = Counter()
        for w, syms in words.items():
            for a, b in zip(syms, syms[1:]):
                pairs[(a, b)] += freqs[w]
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], tie_key(kv[0])))[0]
        merges.append(best)
        for w, syms in words.items():
            if len(syms) < 2:
                continue
            out, i = [], 0
            while i < len(syms):
                if i + 1 < len(syms) and (syms[i], syms[i + 1]) == best:
                    out.append(syms[i] + syms[i + 1])
                    i += 2
                else:
                    out.append(syms[i])
                    i += 1
            words[w] = out
    return merges


def train_bpe(n_merges):
    freqs = Counter()
    for s in CORPUS:
        # the corpus sentences are tokenized without their trailing " ." and also as continuations
        for t in gpt2_pretokenize(s) + gpt2_pretokenize(" " + s):
            freqs[t] += 1
    return learn_bpe(freqs, n_merges, lambda pair: [-ord(c) for c in pair[0] + " " + pair[1]])


def build_gpt2_vocab():
    merges = train_bpe(N_MERGES)
    tokens = [c for _, c in BYTE_ORDER]
    for a, b in merges:
        assert a + b not in tokens, (a, b)
        tokens.append(a + b)
    tokens.append(EOT)
    return {t: i for i, t in enumerate(tokens)}, merges


def bpe_word(word, ranks):
    syms = list(word)
    while len(syms) > 1:
        pairs = [(ranks.get((a, b), None), i) for i, (a, b) in enumerate(zip(syms, syms[1:]))]
        pairs = [p for p in pairs if p[0] is not None]
        if not pairs:
            break
        r = min(pairs)[0]
        first, second = [(a, b) for (a, b), k in ranks.items() if k == r][0]
        out, i = [], 0
        while i < len(syms):
            if i + 1 < len(syms) and syms[i] == first and syms[i + 1] == second:
                out.append(first + second)
                i += 2
            else:
                out.append(syms[i])
                i += 1
        syms = out
    return syms


def gpt2_encode(text, vocab, merges):
    ranks = {m: i for i, m in enumerate(merges)}
    ids = []
    for t in gpt2_pretokenize(text):
        ids.extend(vocab[p] for p in bpe_word(t, ranks))
    return ids


def gpt2_tokenizer_files(vocab, merges):
    eot = vocab[EOT]
    tok = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [{"id": eot, "content": EOT, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": True, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "ignore_merges": False, "vocab": vocab,
                  "merges": [a + " " + b for a, b in merges]},
    }
    cfg = {
        "add_bos_token": False,
        "add_prefix_space": False,
        "added_tokens_decoder": {str(eot): {"content": EOT, "lstrip": False, "normalized": True,
                                            "rstrip": False, "single_word": False, "special": True}},
        "bos_token": EOT,
        "clean_up_tokenization_spaces": False,
        "eos_token": EOT,
        "errors": "replace",
        "extra_special_tokens": {},
        "model_max_length": 1024,
        "pad_token": None,
        "tokenizer_class": "GPT2Tokenizer",
        "unk_token": EOT,
    }
    smap = {"bos_token": EOT, "eos_token": EOT, "unk_token": EOT}
    return tok, cfg, smap
