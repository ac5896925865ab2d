"""Prefix-tuning (Li & Liang, 2021): P learned key/value vectors in front of every layer's attention.

The base model never changes. For each layer l the prefix holds P keys and P values, each (H, P, D), that
every real token can attend to; minigpt's attention takes them as extra key/value slots.

Training goes through a reparameterization, as in the paper: a small MLP turns P embeddings into the whole
matrix (direct optimization of the matrix was less stable there). After training the MLP is folded away:
we keep only the matrix it computes, P x (n_layer·2·n_embd) numbers.
"""
import torch
import torch.nn as nn

# Where the real tokens are numbered, a choice every prefix makes (and its file records):
#   "from_zero"     minigpt's rule: the P slots carry no position, real tokens are 0, 1, 2, ... (the model keeps its
#                   whole block_size for real tokens)
#   "after_prefix"  PEFT's rule (and the paper's code): the prefix takes positions 0..P-1, as a real context would,
#                   and real tokens are P, P+1, ... A model pretrained with learned absolute positions never saw a
#                   token at position 0 with keys before it, so for it this rule is the in-distribution one.
POSITIONS = ("from_zero", "after_prefix")


def check_positions(positions):
    if positions not in POSITIONS:
        raise ValueError(f"positions={positions!r}: use 'from_zero' (real tokens numbered from 0) or 'after_prefix' "
                         f"(the prefix takes positions 0..P-1, as in PEFT).")
    return positions


def matrix_to_slots(matrix, config, batch_size):
    """(P, n_layer·2·n_embd) matrix -> per layer (k, v), each (B, H, P, D), expanded over the batch (no copy)."""
    P = matrix.size(0)
    L, H, D = config.n_layer, config.n_head, config.head_dim
    kv = matrix.view(P, L, 2, H, D).permute(1, 2, 3, 0, 4)  # (L, 2, H, P, D)
    return [(kv[l, 0].expand(batch_size, H, P, D), kv[l, 1].expand(batch_size, H, P, D)) for l in range(L)]


def slots_to_matrix(slots):
    """Inverse of matrix_to_slots for one row: per layer (k, v) (1, H, P, D) -> (P, n_layer·2·n_embd)."""
    kv = torch.stack([torch.stack([k[0], v[0]]) for k, v in slots])  # (L, 2, H, P, D)
    L, _, H, P, D = kv.shape
    return kv.permute(3, 0, 1, 2, 4).reshape(P, L * 2 * H * D)


class PrefixTuning(nn.Module):
    """P key/value vectors per layer, through an MLP while training (reparam="mlp") or as a plain matrix.

    slots(base, batch_size) -> per layer (k, v), each (B, H, P, D), ready for GPT.forward(slots=...).
    """

    method = "prefix"

    def __init__(self, config, prefix_len=10, reparam="mlp", hidden=512, dropout=0.0, positions="from_zero"):
        super().__init__()
        self.positions = check_positions(positions)
        if prefix_len < 1:
            raise ValueError(f"prefix_len={prefix_len} must be >= 1 (no prefix at all is just the base model).")
        if reparam not in ("mlp", "matrix"):
            raise ValueError(f"reparam={reparam!r}: use 'mlp' (the paper's training setup) or 'matrix' (direct).")
        self.config = config
        self.prefix_len, self.reparam, self.hidden = prefix_len, reparam, hidden
        width = config.n_layer * 2 * config.n_embd  # every layer's key and value, for one prefix position
        if reparam == "mlp":
            # Embedding(P, C) -> Linear(C, hidden) -> Tanh -> Linear(hidden, n_layer·2·C), as in the paper
            self.embedding = nn.Parameter(torch.randn(prefix_len, config.n_embd) * 0.02)
            self.mlp = nn.Sequential(nn.Linear(config.n_embd, hidden), nn.Tanh(), nn.Linear(hidden, width))
        else:
            self.matrix = nn.Parameter(torch.randn(prefix_len, width) * 0.02)
        self.dropout = nn.Dropout(dropout)  # prefix dropout (P-tuning v2 uses 0.1); identity in eval()

    def compute_matrix(self):
        """(P, n_layer·2·n_embd): the keys and values of every layer, before dropout."""
        return self.mlp(self.embedding) if self.reparam == "mlp" else self.matrix

    def slots(self, base=None, batch_size=1):
        matrix = self.dropout(self.compute_matrix())
        return matrix_to_slots(matrix, self.config, batch_size)

    def position_offset(self):
        """The position of the first real token: 0, or P when the prefix takes positions 0..P-1."""
        return self.prefix_len if self.positions == "after_prefix" else 0

    @torch.no_grad()
    def folded(self):
        """A matrix-only copy: the MLP's output, computed once. Same slots, a fraction of the parameters."""
        matrix = self.compute_matrix()
        out = PrefixTuning(self.config, self.prefix_len, reparam="matrix", dropout=self.dropout.p, positions=self.positions)
        out = out.to(device=matrix.device, dtype=matrix.dtype)
        out.matrix.copy_(matrix)
        return out.train(self.training)

    def init_from_tokens(self, base, token_ids, steps=300, lr=1e-2, verbose=False):
        """Start from the keys/values the frozen model gives the last P tokens of a real text.

        token_ids: 1-D list/tensor of at least P tokens (e.g. the task name). "from_zero": the keys/values of those
        tokens read in the context of the whole text. "after_prefix": of the last P tokens read alone from position
        0, so the prefix is exactly the KV cache of a real P-token text, and real tokens continue at position P.
        With the MLP, its output is fitted to those keys/values by a few hundred Adam steps on the mean squared
        error (as the paper's code does). Returns the final fitting error (0.0 for a matrix).
        """
        ids = torch.as_tensor(token_ids, dtype=torch.long).flatten()
        if ids.numel() < self.prefix_len:
            raise ValueError(f"init text has {ids.numel()} tokens; prefix_len={self.prefix_len} needs at least that many. "
                             f"Use a longer text or repeat it.")
        device = next(base.parameters()).device
        was_training = base.training
        base.eval()
        context = ids[-self.prefix_len:] if self.positions == "after_prefix" else ids[-base.config.block_size:]
        with torch.no_grad():
            kv = base(context.to(device)[None]).kv  # per layer (1, H, T, D)
        base.train(was_training)
        target = slots_to_matrix([(k[:, :, -self.prefix_len:], v[:, :, -self.prefix_len:]) for k, v in kv])
        if self.reparam == "matrix":
            with torch.no_grad():
                self.matrix.copy_(target)
            return 0.0
        opt = torch.optim.Adam(self.parameters(), lr=lr)
        for _ in range(steps):
            loss = torch.mean((self.compute_matrix() - target) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if verbose:
            print(f"prefix init: fitted the MLP to real-token keys/values, MSE {loss.item():.2e} "
                  f"(target variance {target.var().item():.2e})")
        return loss.item()
