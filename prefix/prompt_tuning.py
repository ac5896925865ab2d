"""Prompt tuning (Lester et al., 2021): P soft token embeddings in front of the input, and nothing else.

This is the paper's "embedding-only" ablation. It fits the same slot machinery: because the soft tokens
come first and attention is causal, their keys/values in every layer do not depend on the real tokens.
So we run the frozen model once over the P soft embeddings, keep each layer's keys/values, and hand them
to the real tokens as slots. The difference from prefix-tuning is what is free to learn: here only the
P input vectors; the keys/values in every layer are whatever the frozen model makes of them.
"""
import torch
import torch.nn as nn

from .prefix_tuning import check_positions


class PromptTuning(nn.Module):
    method = "prompt"

    def __init__(self, config, prefix_len=10, init_std=0.02, positions="from_zero"):
        super().__init__()
        self.positions = check_positions(positions)
        if prefix_len < 1:
            raise ValueError(f"prefix_len={prefix_len} must be >= 1.")
        self.config, self.prefix_len = config, prefix_len
        self.embeddings = nn.Parameter(torch.randn(prefix_len, config.n_embd) * init_std)  # (P, C)

    def slots(self, base, batch_size=1):
        """Run the frozen blocks over the soft tokens -> per layer (k, v) (B, H, P, D). "from_zero": the soft tokens
        carry no position; "after_prefix": they sit at positions 0..P-1, exactly soft tokens at the input."""
        x = self.embeddings[None]  # (1, P, C)
        if self.positions == "after_prefix":
            x = x + base.wpe.weight[:self.prefix_len]
        _, kv = base.hidden_states(x)  # per layer (1, H, P, D)
        return [(k.expand(batch_size, -1, -1, -1), v.expand(batch_size, -1, -1, -1)) for k, v in kv]

    def position_offset(self):
        return self.prefix_len if self.positions == "after_prefix" else 0

    def compute_matrix(self):
        return self.embeddings

    def folded(self):
        return self  # already as small as it gets

    @torch.no_grad()
    def init_from_tokens(self, base, token_ids, **_):
        """Start from the embeddings of the last P tokens of a real text."""
        ids = torch.as_tensor(token_ids, dtype=torch.long).flatten()
        if ids.numel() < self.prefix_len:
            raise ValueError(f"init text has {ids.numel()} tokens; prefix_len={self.prefix_len} needs at least that many.")
        self.embeddings.copy_(base.wte.weight[ids[-self.prefix_len:].to(base.wte.weight.device)])
        return 0.0
