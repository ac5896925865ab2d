"""Exercise 2, causal_mask.py: the (T, P+T) mask against minigpt's and by hand."""
import torch

from minigpt.attention import causal_mask as library_mask


def show(mask):
    """One line, a row per query: causal_mask(2, P=1) -> ' [11.|111]' (1 = may look, . = hidden)."""
    return " [" + "|".join("".join("1" if x else "." for x in row) for row in mask.tolist()) + "]"


def test_hand_worked_examples(ex):
    want = torch.tensor([[1, 1, 0], [1, 1, 1]], dtype=torch.bool)
    got = ex.causal_mask(2, P=1)
    assert got.dtype == torch.bool, f"the mask must be a bool tensor, got {got.dtype}"
    assert got.shape == (2, 3), f"causal_mask(2, P=1) must be (T, P+T) = (2, 3), got {tuple(got.shape)}"
    assert torch.equal(got, want), f"causal_mask(2, P=1) should be{show(want)}, got{show(got)}"
    tril = torch.ones(3, 3, dtype=torch.bool).tril()
    assert torch.equal(ex.causal_mask(3), tril), f"without slots the mask is lower-triangular:{show(tril)}"


def test_matches_library(ex):
    for T in range(1, 6):
        for P in range(4):
            got, want = ex.causal_mask(T, P), library_mask(T, P)
            assert got.shape == want.shape, \
                f"causal_mask({T}, P={P}): shape {tuple(got.shape)}, expected {tuple(want.shape)}"
            assert torch.equal(got.bool(), want), f"causal_mask({T}, P={P}) should be{show(want)}, got{show(got)}"


def test_slots_always_visible_and_no_peeking(ex):
    T, P = 5, 3
    mask = ex.causal_mask(T, P).bool()
    assert mask[:, :P].all(), "every query must see all P slot columns (the first P keys)"
    for i in range(T):
        assert not mask[i, P + i + 1:].any(), f"query {i} sees a later token (a key column after {P + i})"
        assert mask[i, P:P + i + 1].all(), f"query {i} must see real tokens 0..{i} (columns {P}..{P + i})"
