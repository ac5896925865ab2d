"""Exercise 2 (lesson 02): the causal mask, with P extra key slots in front that every query sees.

Fill in the body, then check it:  python -m pytest tests/exercises --exercises lessons/exercises/causal_mask.py
"""
import torch


def causal_mask(T, P=0, device=None):
    """(T, P+T) bool mask: row i is query i, column j is key j; True = query i may look at key j.

    Keys 0..P-1 are extra slots (a prefix, or the KV cache): every query sees them.
    Key P+j is real token j: query i sees it when j <= i (no peeking at later tokens).

    causal_mask(2, P=1) -> [[True, True, False],
                            [True, True, True ]]
    """
    raise NotImplementedError(
        "causal_mask: draw causal_mask(2, P=1) on paper first (lesson 02, step 3 and 'Extra key/value "
        "slots'). Key step: compare a column of query numbers (T, 1) with a row of key numbers (1, P+T); "
        "broadcasting gives the whole (T, P+T) table in one comparison. Remember that key column j is "
        "real token j - P.")
