"""minigpt: a small GPT written to be read. Public API:

    from minigpt import GPT, GPTConfig, preset, generate
    model = GPT(preset("tiny", vocab_size=2049))
    logits, loss, kv = model(idx, targets)              # idx (B, T); kv: per layer (k, v) (B, H, T, D)
    logits, loss, kv = model(idx, slots=kv, pos_offset=T)  # extra key/value slots: a cache or a prefix
    out = generate(model, idx, 50, temperature=0.8, top_k=50, generator=torch.Generator().manual_seed(0))
"""
import os

# Before torch loads: idle OpenMP threads sleep instead of spinning, which keeps a 2-core laptop usable when
# something else runs beside training (measured: a step up to 6x slower without it on a busy machine).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .attention import CausalSelfAttention, causal_mask, scaled_dot_product_attention
from .config import PRESETS, GPTConfig, preset
from .generate import generate, sample_next
from .model import GPT, GPTOutput
from .utils import pick_device, set_seed

__all__ = [
    "GPT", "GPTConfig", "GPTOutput", "PRESETS", "preset", "generate", "sample_next",
    "scaled_dot_product_attention", "causal_mask", "CausalSelfAttention", "pick_device", "set_seed",
]
