"""The bridge to Hugging Face `transformers`: a minigpt model as a GPT-2 folder, and a GPT-2 folder as minigpt.

    from minigpt.hf import export_gpt2, import_gpt2
    export_gpt2(model, "runs/gpt2_course_base")        # config.json + model.safetensors
    hf = transformers.GPT2LMHeadModel.from_pretrained("runs/gpt2_course_base", local_files_only=True)  # offline
    back = import_gpt2("runs/gpt2_course_base")        # a minigpt GPT again, the same function

minigpt's GPT *is* GPT-2's architecture (pre-LayerNorm blocks, exact GELU, learned absolute positions, a head tied
to the token embeddings), so the two compute the same function once the weights are copied. One difference of
storage: GPT-2 keeps its linear layers as `Conv1D`, whose weight is the transpose of `nn.Linear`'s.

    minigpt                          GPT-2 (transformers)
    wte, wpe                         transformer.wte, transformer.wpe
    blocks.i.ln_1, ln_2              transformer.h.i.ln_1, ln_2
    blocks.i.attn.qkv   (3C, C)      transformer.h.i.attn.c_attn   (C, 3C)  transposed
    blocks.i.attn.proj  (C, C)       transformer.h.i.attn.c_proj   (C, C)   transposed
    blocks.i.mlp.fc     (4C, C)      transformer.h.i.mlp.c_fc      (C, 4C)  transposed
    blocks.i.mlp.proj   (C, 4C)      transformer.h.i.mlp.c_proj    (4C, C)  transposed
    ln_f                             transformer.ln_f
    lm_head (tied to wte)            lm_head (tied to wte)

`transformers` and `safetensors` are optional (requirements-hf.txt); this module imports them only when called.
Nothing is fetched from a hub: configs are built here, folders are local.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .config import GPTConfig
from .model import GPT

# GPT-2 settings minigpt's architecture fixes: an imported config must have them, an exported one gets them.
GPT2_FIXED = {"activation_function": "gelu", "layer_norm_epsilon": 1e-5, "tie_word_embeddings": True,
              "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False, "reorder_and_upcast_attn": False,
              "add_cross_attention": False}
_TRANSPOSED = ("attn.qkv", "attn.proj", "mlp.fc", "mlp.proj")  # nn.Linear here, Conv1D there
_HF_NAME = {"attn.qkv": "attn.c_attn", "attn.proj": "attn.c_proj", "mlp.fc": "mlp.c_fc", "mlp.proj": "mlp.c_proj"}


def require_transformers():
    """-> the transformers module, or an ImportError that says how to install the optional packages."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the course never reaches a hub
    try:
        import transformers
    except ImportError:
        raise ImportError("this needs the optional packages transformers, peft and safetensors: "
                          "pip install -r requirements-hf.txt") from None
    return transformers


def gpt2_config(config: GPTConfig):
    """minigpt's config as a transformers.GPT2Config; a config GPT-2 cannot express raises ValueError."""
    if not config.bias:
        raise ValueError("GPT-2 has biases in every Linear and LayerNorm; a minigpt config with bias=False cannot be "
                         "exported as GPT-2 (train it with bias=True).")
    transformers = require_transformers()
    return transformers.GPT2Config(
        vocab_size=config.vocab_size, n_positions=config.block_size, n_embd=config.n_embd, n_layer=config.n_layer,
        n_head=config.n_head, n_inner=4 * config.n_embd, resid_pdrop=config.dropout, embd_pdrop=config.dropout,
        attn_pdrop=config.dropout, bos_token_id=config.vocab_size - 1, eos_token_id=config.vocab_size - 1,
        **GPT2_FIXED)


def minigpt_config(hf_config) -> GPTConfig:
    """A transformers GPT2Config as minigpt's config; one minigpt cannot express raises ValueError."""
    if getattr(hf_config, "model_type", None) != "gpt2":
        raise ValueError(f"this is a {getattr(hf_config, 'model_type', '?')!r} model; minigpt imports GPT-2 only.")
    wrong = {k: getattr(hf_config, k, None) for k, v in GPT2_FIXED.items() if getattr(hf_config, k, v) != v}
    n_inner = getattr(hf_config, "n_inner", None)
    if n_inner not in (None, 4 * hf_config.n_embd):
        wrong["n_inner"] = n_inner
    if wrong:
        raise ValueError(f"minigpt cannot express these GPT-2 settings: {wrong}; it needs {GPT2_FIXED} and an MLP "
                         f"4 x n_embd wide (another activation or an untied head is another model).")
    return GPTConfig(vocab_size=hf_config.vocab_size, block_size=hf_config.n_positions, n_layer=hf_config.n_layer,
                     n_head=hf_config.n_head, n_embd=hf_config.n_embd, dropout=hf_config.resid_pdrop, bias=True)


def to_gpt2_state_dict(model: GPT) -> dict:
    """minigpt's weights under GPT-2's names and layouts (Conv1D weights transposed). lm_head is tied: left out."""
    out = {}
    for name, tensor in model.state_dict().items():
        if name == "lm_head.weight":
            continue
        hf = name.replace("blocks.", "h.")
        for ours in _TRANSPOSED:
            if f".{ours}." in name:
                hf = hf.replace(ours, _HF_NAME[ours])
                if name.endswith(".weight"):
                    tensor = tensor.t()
        out[f"transformer.{hf}"] = tensor.detach().contiguous()
    return out


def from_gpt2_state_dict(state: dict) -> dict:
    """The inverse of to_gpt2_state_dict: GPT-2's weights under minigpt's names (lm_head tied to wte)."""
    out = {}
    for hf, tensor in state.items():
        if not hf.startswith("transformer.") or hf.endswith(".attn.bias") or hf.endswith(".attn.masked_bias"):
            continue  # lm_head.weight is wte; attn.bias/masked_bias are old causal-mask buffers, not weights
        name = hf[len("transformer."):].replace("h.", "blocks.", 1) if hf.startswith("transformer.h.") else hf[12:]
        for ours, theirs in _HF_NAME.items():
            if f".{theirs}." in name:
                name = name.replace(theirs, ours)
                if name.endswith(".weight"):
                    tensor = tensor.t()
        out[name] = tensor.contiguous()
    out["lm_head.weight"] = out["wte.weight"]
    return out


def to_gpt2(model: GPT):
    """A transformers.GPT2LMHeadModel computing the same function as `model` (its dtype), in eval mode."""
    transformers = require_transformers()
    hf = transformers.GPT2LMHeadModel(gpt2_config(model.config)).to(next(model.parameters()).dtype)
    missing, unexpected = hf.load_state_dict(to_gpt2_state_dict(model), strict=False)
    missing = [k for k in missing if k != "lm_head.weight" and not k.endswith((".attn.bias", ".attn.masked_bias"))]
    if missing or unexpected:  # a transformers version that renamed its weights: say so, never load half a model
        raise RuntimeError(f"GPT-2's weights have other names in this transformers version: missing {missing[:4]}, "
                           f"unexpected {unexpected[:4]}")
    hf.tie_weights()
    return hf.eval()


def export_gpt2(model: GPT, folder) -> Path:
    """Write `model` as a GPT-2 folder (config.json + model.safetensors) that GPT2LMHeadModel.from_pretrained loads."""
    folder = Path(folder)
    to_gpt2(model).save_pretrained(folder, safe_serialization=True)
    return folder


def import_gpt2(folder, device="cpu") -> GPT:
    """A GPT-2 folder (config.json + weights) as a minigpt GPT in eval mode, in float32."""
    transformers = require_transformers()
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(f"{folder} has no config.json: give the folder export_gpt2 (or save_pretrained) wrote.")
    hf = transformers.GPT2LMHeadModel.from_pretrained(folder, dtype=torch.float32, local_files_only=True)
    model = GPT(minigpt_config(hf.config))
    model.load_state_dict(from_gpt2_state_dict(hf.state_dict()))
    return model.to(device).eval()


# ----------------------------------------------------------------------------------------------
# The tokenizer as a tokenizer.json (the `tokenizers` library's format, which PreTrainedTokenizerFast loads)

def _byte_to_char() -> dict[int, str]:
    """GPT-2's printable stand-in for each byte: tokenizer.json stores byte-level tokens as such strings."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in printable:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return chars


def _merge_of(token: bytes, ranks: dict[bytes, int]) -> tuple[bytes, bytes]:
    """The two tokens whose merge made `token`: BPE on its bytes with the merges older than it, stopped at two."""
    parts = [bytes([b]) for b in token]
    while len(parts) > 2:
        pairs = [(ranks.get(a + b, len(ranks)), i) for i, (a, b) in enumerate(zip(parts, parts[1:]))]
        rank, i = min(pairs)
        if rank >= ranks[token]:
            raise ValueError(f"token {token!r} cannot be made from older merges: not a BPE vocabulary")
        parts[i:i + 2] = [parts[i] + parts[i + 1]]
    return parts[0], parts[1]


def export_tokenizer(encoding, folder) -> Path:
    """Write the course's byte-level BPE as folder/tokenizer.json (+ the small files PreTrainedTokenizerFast reads):
    the same pre-split pattern (GPT-2's), the same vocabulary and merges, <|endoftext|> as its special token."""
    require_transformers()
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from .tokenizer import EOT, GPT2_SPLIT_PATTERN

    if getattr(encoding, "_pat_str", GPT2_SPLIT_PATTERN) != GPT2_SPLIT_PATTERN:
        raise ValueError("tokenizer.json's byte-level pre-tokenizer splits text with GPT-2's pattern; this encoding "
                         "uses another, so the ids would differ.")
    n = encoding.n_vocab - 1  # the ranks, then <|endoftext|>
    ranks = {encoding.decode_single_token_bytes(i): i for i in range(n)}
    if encoding.encode_single_token(EOT) != n or sorted(ranks.values()) != list(range(n)):
        raise ValueError("export_tokenizer expects ranks 0..n-1 followed by <|endoftext|> (the course's layout)")
    char = _byte_to_char()
    spell = lambda token: "".join(char[b] for b in token)  # noqa: E731
    vocab = {spell(token): i for token, i in ranks.items()}
    merges = [tuple(spell(p) for p in _merge_of(token, ranks)) for token, _ in sorted(ranks.items(), key=lambda x: x[1])
              if len(token) > 1]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([EOT])
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    transformers = require_transformers()
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOT, bos_token=EOT, unk_token=None)
    fast.save_pretrained(folder)
    return folder
