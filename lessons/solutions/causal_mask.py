"""Exercise 2 (lesson 02): the causal mask, with P extra key slots in front that every query sees.

Reference solution. Students get lessons/exercises/causal_mask.py, the same file with a hint instead of the body.
"""
import torch


def causal_mask(T, P=0, device=None):
    """(T, P+T) bool mask: row i is query i, column j is key j; True = query i may look at key j.

    Keys 0..P-1 are extra slots (a prefix, or the KV cache): every query sees them.
    Key P+j is real token j: query i sees it when j <= i (no peeking at later tokens).

    causal_mask(2, P=1) -> [[True, True, False],
                            [True, True, True ]]
    """
    query = torch.arange(T, device=device).unsqueeze(1)    # (T, 1)
    key = torch.arange(P + T, device=device).unsqueeze(0)  # (1, P+T)
    return key - P <= query                                # broadcasts to (T, P+T); slots have key - P < 0
