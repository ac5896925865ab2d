"""Attention, written out so it can be read top to bottom.

Shapes used everywhere below:
    B batch, H heads, T queries (the new tokens), D head dim,
    P extra key/value slots prepended before the real keys (a learned prefix, or the KV cache),
    S = P + T keys in all.

The one idea this course rests on: attention does not care where its keys and values come from.
Prepend P extra (key, value) pairs and every query can look at them. During generation those
pairs are the cached keys/values of earlier tokens; in prefix-tuning they are learned vectors.
"""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def scaled_dot_product_attention(q, k, v, mask=None, return_weights=False, dropout_p=0.0):
    """softmax(q·kᵀ/√D + mask) · v

    q: (B, H, T, D)   k, v: (B, H, S, D)
    mask: bool, broadcastable to (B, H, T, S); True = this query may look at this key.
    Returns out (B, H, T, D), and the weights (B, H, T, S) if return_weights.
    dropout_p: drop attention weights while training (the returned weights are before dropout).
    A query whose keys are all masked has no defined output (its row would be NaN): never build such a mask.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, H, T, S)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))      # exp(-inf) = 0: hidden keys get zero weight
    weights = torch.softmax(scores, dim=-1)                    # each row sums to 1 over the keys
    dropped = F.dropout(weights, dropout_p) if dropout_p > 0 else weights
    out = dropped @ v                                          # (B, H, T, D): weighted mix of values
    return (out, weights) if return_weights else out


def causal_mask(T, P=0, device=None):
    """(T, P+T) bool mask: query i sees all P extra slots and the real keys 0..i.

    >>> causal_mask(2, P=1).int()
    tensor([[1, 1, 0],
            [1, 1, 1]], dtype=torch.int32)
    """
    # key j is visible to query i when j - P <= i (slots have j < P, so they are always visible)
    query = torch.arange(T, device=device).unsqueeze(1)       # (T, 1)
    key = torch.arange(P + T, device=device).unsqueeze(0)     # (1, P+T)
    return key - P <= query


def split_heads(x, n_head):
    """(B, T, C) -> (B, H, T, C/H)"""
    B, T, C = x.shape
    return x.view(B, T, n_head, C // n_head).transpose(1, 2)


def merge_heads(x):
    """(B, H, T, D) -> (B, T, H*D)"""
    B, H, T, D = x.shape
    return x.transpose(1, 2).contiguous().view(B, T, H * D)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention with optional extra key/value slots.

    forward(x, slots=None, key_mask=None) -> (y, (k, v))
        x:        (B, T, C) the real tokens
        slots:    None or (k_extra, v_extra), each (B, H, P, D): prepended before the real keys/values
        key_mask: None or bool (B, P+T): False hides that key from every query (padding, a hidden prefix)
        returns y (B, T, C) and the (k, v) actually used, each (B, H, P+T, D), so a caller can cache them.
    """

    def __init__(self, config):
        super().__init__()
        self.n_head = config.n_head
        self.impl = config.attention
        self.dropout = config.dropout
        self.qkv = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)  # q, k, v in one matmul
        self.proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, slots=None, key_mask=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (split_heads(t, self.n_head) for t in (q, k, v))  # (B, H, T, D) each
        if slots is not None:
            k_extra, v_extra = slots
            k = torch.cat([k_extra, k], dim=2)  # (B, H, P+T, D); cat makes new tensors: the slots are never modified
            v = torch.cat([v_extra, v], dim=2)
        P = k.size(2) - T

        mask = causal_mask(T, P, device=x.device)                 # (T, P+T)
        if key_mask is not None:
            if key_mask.shape != (B, P + T):
                raise ValueError(f"key_mask must be (B, P+T) = ({B}, {P + T}), got {tuple(key_mask.shape)}.")
            mask = mask & key_mask[:, None, None, :].bool()      # (B, 1, T, P+T)

        p = self.dropout if self.training else 0.0
        if self.impl == "sdpa":
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)  # same math, fused kernel
        else:
            y = scaled_dot_product_attention(q, k, v, mask, dropout_p=p)
        y = self.resid_dropout(self.proj(merge_heads(y)))
        return y, (k, v)
