"""The GPT: token + position embeddings, pre-LayerNorm blocks, tied output head.

Positions, decided once and used everywhere (training, full recomputation, cached decoding):
    * extra key/value slots (a learned prefix, a soft prompt's keys) carry NO position;
    * real tokens are numbered from 0, whatever the number of slots before them,
      so the model always sees at most `block_size` real tokens, prefix or not;
    * during cached generation, new tokens continue from the number of real tokens already cached
      (`pos_offset`); the cached keys keep the positions they were computed with.
"""
import math
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import CausalSelfAttention
from .config import GPTConfig


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    """Pre-LayerNorm: x + attn(ln(x)), then x + mlp(ln(x)). The residual stream is never normalized."""

    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, slots=None, key_mask=None):
        a, kv = self.attn(self.ln_1(x), slots, key_mask)
        x = x + a
        x = x + self.mlp(self.ln_2(x))
        return x, kv


class GPTOutput(NamedTuple):
    logits: torch.Tensor  # (B, T, V)
    loss: torch.Tensor | None  # mean cross-entropy over targets != -100
    kv: list  # per layer (k, v), each (B, H, P+T, D): the slots + this call's keys/values, ready to cache


class GPT(nn.Module):
    def __init__(self, config: GPTConfig):
        super().__init__()
        config.validate()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)  # token embeddings
        self.wpe = nn.Embedding(config.block_size, config.n_embd)  # learned absolute positions 0..block_size-1
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # tied: one matrix reads tokens in and scores them out

        # GPT-2 init: N(0, 0.02); projections that write into the residual stream scaled by 1/sqrt(2·n_layer)
        # so the stream's variance does not grow with depth.
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module):
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_params(self, include_position=True) -> int:
        n = sum(p.numel() for p in self.parameters())  # the tied head is counted once
        return n if include_position else n - self.wpe.weight.numel()

    # -- the three stages of a forward pass, separate so prefix/ can reuse them ------------------------------

    def embed(self, idx, pos_offset=0):
        """(B, T) token ids -> (B, T, C) token + position embeddings; positions pos_offset..pos_offset+T-1.

        pos_offset: an int, or a (B,) tensor that gives each row its own first position (rows of different lengths
        decoded in one batch: minigpt.generate.generate_ragged).
        """
        B, T = idx.shape
        if T == 0:
            raise ValueError("got an empty sequence: give at least one token.")
        per_row = torch.is_tensor(pos_offset)
        if per_row and pos_offset.shape != (B,):
            raise ValueError(f"pos_offset must be an int or a ({B},) tensor (one first position per row), "
                             f"got shape {tuple(pos_offset.shape)}.")
        first = int(pos_offset.min()) if per_row else pos_offset
        last = int(pos_offset.max()) if per_row else pos_offset
        if first < 0:
            raise ValueError(f"pos_offset={first}: positions start at 0.")
        if last + T > self.config.block_size:
            raise ValueError(
                f"{T} tokens starting at position {last} go past block_size={self.config.block_size}: "
                f"crop the input to its last {self.config.block_size - last} tokens."
            )
        if idx.dtype != torch.long:
            raise TypeError(f"token ids must be torch.long, got {idx.dtype}; use idx.long().")
        lo, hi = int(idx.min()), int(idx.max())
        if lo < 0 or hi >= self.config.vocab_size:
            raise ValueError(f"token id {hi if hi >= self.config.vocab_size else lo} is outside the vocabulary "
                             f"[0, {self.config.vocab_size}); was the text encoded with the same tokenizer as the model?")
        steps = torch.arange(T, device=idx.device)
        pos = pos_offset.to(idx.device)[:, None] + steps if per_row else pos_offset + steps  # (B, T) or (T,)
        return self.drop(self.wte(idx) + self.wpe(pos))

    def hidden_states(self, x, slots=None, key_mask=None):
        """(B, T, C) embeddings -> the final hidden states (B, T, C): every block, then the final LayerNorm; and each
        layer's (k, v). slots: per layer (k, v) or None. lm_head turns the hidden states into logits."""
        if slots is not None and len(slots) != len(self.blocks):
            raise ValueError(f"got slots for {len(slots)} layers, the model has {len(self.blocks)}.")
        kv = []
        for i, block in enumerate(self.blocks):
            x, layer_kv = block(x, None if slots is None else slots[i], key_mask)
            kv.append(layer_kv)
        return self.ln_f(x), kv

    @staticmethod
    def loss(logits, targets):
        """Mean cross-entropy over the positions whose target is not -100."""
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), ignore_index=-100)

    def forward(self, idx, targets=None, attention_mask=None, slots=None, pos_offset=0,
                loss_only=False) -> GPTOutput:
        """
        idx:            (B, T) token ids
        targets:        (B, T) next-token ids, -100 where no loss is wanted
        attention_mask: (B, T) with 1 for real tokens and 0 for padding, or (B, P+T) to also hide slots
        slots:          per layer (k, v), each (B, H, P, D), prepended to that layer's keys/values
        pos_offset:     position of idx[:, 0] (real tokens already in a KV cache); a (B,) tensor: one per row
        loss_only:      True (with targets): lm_head runs only where a target is, and the output's logits are None.
                        The same loss, less work when most positions are -100 (a task's source, padding).
        """
        if not torch.is_tensor(idx) or idx.dim() != 2:
            shape = tuple(idx.shape) if torch.is_tensor(idx) else type(idx).__name__
            raise ValueError(f"idx must be a (B, T) tensor of token ids, got {shape}; for one sequence of ids "
                             f"use idx[None] (or torch.tensor([ids])).")
        B, T = idx.shape
        if targets is not None:
            if targets.shape != idx.shape:
                raise ValueError(f"targets must have the shape of idx {tuple(idx.shape)}, got {tuple(targets.shape)}.")
            bad = targets[(targets != -100) & ((targets < 0) | (targets >= self.config.vocab_size))]
            if bad.numel():
                raise ValueError(f"target id {int(bad[0])} is outside the vocabulary [0, {self.config.vocab_size}) "
                                 f"(and is not -100, the 'no loss' label); encode targets with the model's tokenizer.")
        P = 0 if slots is None else slots[0][0].size(2)
        key_mask = None
        if attention_mask is not None:
            key_mask = attention_mask.bool()
            if key_mask.shape == (B, T) and P:
                key_mask = torch.cat([key_mask.new_ones(B, P), key_mask], dim=1)  # slots stay visible
            elif key_mask.shape != (B, P + T):
                raise ValueError(f"attention_mask must be (B, T)=({B}, {T}) or (B, P+T)=({B}, {P + T}), "
                                 f"got {tuple(attention_mask.shape)}.")
        if loss_only and targets is None:
            raise ValueError("loss_only=True needs targets: without them there is no loss to compute.")
        x, kv = self.hidden_states(self.embed(idx, pos_offset), slots, key_mask)
        if loss_only:
            keep = targets != -100  # (B, T): the positions that have a target
            return GPTOutput(None, self.loss(self.lm_head(x[keep]), targets[keep]), kv)  # (N, V) logits, N targets
        logits = self.lm_head(x)  # (B, T, V)
        loss = None if targets is None else self.loss(logits, targets)
        return GPTOutput(logits, loss, kv)
