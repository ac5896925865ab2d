"""Exercise 1 (lesson 02): scaled dot-product attention, the formula the whole course rests on.

Fill in the body, then check it:  python -m pytest tests/exercises --exercises lessons/exercises/attention.py
"""
import math

import torch


def scaled_dot_product_attention(q, k, v, mask=None):
    """softmax(q·kᵀ / √D, with hidden keys at -inf) · v

    q: (B, H, T, D) queries      k, v: (B, H, S, D) keys and values (S may differ from T: extra slots)
    mask: None, or bool broadcastable to (B, H, T, S); True = this query may look at this key.
    Returns (B, H, T, D): for each query, a weighted mix of the values.
    """
    raise NotImplementedError(
        "attention: lesson 02 builds this formula in steps 1-5. Key steps: one matmul scores every query "
        "against every key (swap the last two dims of k), divide by √D before the softmax, and give "
        "hidden keys a score that softmax turns into exactly 0 weight. Softmax runs over the keys.")
