"""Exercise 1 (lesson 02): scaled dot-product attention, the formula the whole course rests on.

Reference solution. Students get lessons/exercises/attention.py, the same file with a hint instead of the body.
"""
import math

import torch


def scaled_dot_product_attention(q, k, v, mask=None):
    """softmax(q·kᵀ / √D, with hidden keys at -inf) · v

    q: (B, H, T, D) queries      k, v: (B, H, S, D) keys and values (S may differ from T: extra slots)
    mask: None, or bool broadcastable to (B, H, T, S); True = this query may look at this key.
    Returns (B, H, T, D): for each query, a weighted mix of the values.
    """
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (B, H, T, S); the scale keeps softmax from saturating
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))      # exp(-inf) = 0: a hidden key gets zero weight
    weights = torch.softmax(scores, dim=-1)                    # each query's weights sum to 1 over the keys
    return weights @ v
