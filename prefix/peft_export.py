"""A course prefix as a PEFT adapter: the folder `peft.PeftModel.from_pretrained(gpt2, folder)` loads.

    from minigpt.hf import export_gpt2
    from prefix.peft_export import export_peft
    export_gpt2(base, "runs/gpt2_base")
    export_peft(prefix, "runs/e2e_adapter")       # adapter_config.json + adapter_model.safetensors
    model = peft.PeftModel.from_pretrained(GPT2LMHeadModel.from_pretrained("runs/gpt2_base"), "runs/e2e_adapter")

How the course's names map onto PEFT's:

    course (prefix/)                          PEFT
    PrefixTuning, folded matrix (P, L·2·C)     PrefixTuningConfig(prefix_projection=False): "prompt_embeddings",
                                              the rows in the same layout (layer, key/value, head, dim)
    PrefixTuning(reparam="mlp", hidden=512)   prefix_projection=True, encoder_hidden_size=512 (a training-time
                                              detail: the course exports the folded matrix, which is all that runs)
    PromptTuning embeddings (P, C)            PromptTuningConfig: "prompt_embeddings" (P, C)
    prefix_len P                              num_virtual_tokens
    n_layer, n_head, n_embd                   num_layers, num_attention_heads, token_dim
    positions="after_prefix"                  PEFT's only rule: real tokens are numbered P, P+1, ...

A prefix trained with positions="from_zero" means something else under PEFT's rule (its real tokens would sit at
other positions), and no change of its numbers makes the two equal with learned absolute positions; exporting one
warns, and the adapter then gives other logits than the course did.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch

from .prefix_tuning import PrefixTuning
from .prompt_tuning import PromptTuning


def _require_peft():
    try:
        import peft
        import safetensors.torch
    except ImportError:
        raise ImportError("this needs the optional packages transformers, peft and safetensors: "
                          "pip install -r requirements-hf.txt") from None
    return peft, safetensors.torch


def peft_config(prefix, base_model_folder=None):
    """The PEFT config of a PrefixTuning or PromptTuning prefix (see the table at the top of this file)."""
    peft, _ = _require_peft()
    c = prefix.config
    common = dict(task_type="CAUSAL_LM", num_virtual_tokens=prefix.prefix_len, token_dim=c.n_embd,
                  num_layers=c.n_layer, num_attention_heads=c.n_head, num_transformer_submodules=1,
                  base_model_name_or_path=None if base_model_folder is None else str(base_model_folder))
    if isinstance(prefix, PrefixTuning):
        return peft.PrefixTuningConfig(prefix_projection=False, **common)
    if isinstance(prefix, PromptTuning):
        return peft.PromptTuningConfig(**common)
    raise TypeError(f"export_peft takes a PrefixTuning or PromptTuning, got {type(prefix).__name__}")


@torch.no_grad()
def export_peft(prefix, folder, base_model_folder=None) -> Path:
    """Write a PEFT adapter folder: adapter_config.json + adapter_model.safetensors. -> the folder."""
    _, st = _require_peft()
    if prefix.positions != "after_prefix":
        warnings.warn(f"this prefix numbers its real tokens from 0 (positions={prefix.positions!r}); PEFT numbers them "
                      f"after the prefix, so the adapter will not reproduce the course's logits. Train the prefix "
                      f"with positions='after_prefix' to export it exactly.", UserWarning, stacklevel=2)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    config = peft_config(prefix, base_model_folder)
    config.save_pretrained(folder)
    matrix = prefix.compute_matrix().detach().to("cpu", torch.float32).contiguous()  # (P, L·2·C) or (P, C)
    st.save_file({"prompt_embeddings": matrix}, str(folder / "adapter_model.safetensors"))
    meta = json.loads((folder / "adapter_config.json").read_text())
    if meta.get("num_virtual_tokens") != prefix.prefix_len:  # a PEFT version that stores its config otherwise
        raise RuntimeError(f"PEFT wrote an adapter config this export does not understand: {meta}")
    return folder
