"""Exercise 1, attention.py: scaled_dot_product_attention against minigpt's, by hand, and with common mistakes named."""
import math

import torch

from minigpt.attention import causal_mask, scaled_dot_product_attention as library_attention


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def qkv(B=2, H=3, T=4, S=6, D=5):
    return rand(B, H, T, D, seed=1), rand(B, H, S, D, seed=2), rand(B, H, S, D, seed=3)


def wrong_versions(q, k, v, mask):
    """The usual mistakes, each as (what went wrong, the output it gives)."""
    scores = q @ k.transpose(-2, -1)
    scale = math.sqrt(q.size(-1))

    def finish(scores, dim=-1, mask=mask, after=False):
        hidden = None if mask is None else ~mask
        if hidden is not None and not after:
            scores = scores.masked_fill(hidden, float("-inf"))
        weights = torch.softmax(scores, dim=dim)
        if hidden is not None and after:
            weights = weights.masked_fill(hidden, 0.0)
        return weights @ v

    yield "the scores are not divided by sqrt(D)", finish(scores)
    yield "the scores are divided by D instead of sqrt(D)", finish(scores / scale**2)
    yield "the softmax runs over the queries (dim -2), not over the keys (dim -1)", finish(scores / scale, dim=-2)
    if mask is not None:
        yield "the mask is ignored", finish(scores / scale, mask=None)
        yield ("the mask is applied after the softmax, so the weights no longer sum to 1: "
               "hide the keys before it"), finish(scores / scale, after=True)


def diagnose(got, q, k, v, mask):
    for what, out in wrong_versions(q, k, v, mask):
        if got.shape == out.shape and torch.allclose(got, out, atol=1e-8):
            return f"looks like {what}."
    return "the output differs from minigpt's scaled_dot_product_attention."


def check(ex, q, k, v, mask=None):
    got = ex.scaled_dot_product_attention(q, k, v, mask)
    want = library_attention(q, k, v, mask)
    assert got.shape == want.shape, f"output shape {tuple(got.shape)}, expected (B, H, T, D) = {tuple(want.shape)}"
    assert torch.allclose(got, want, atol=1e-10), diagnose(got, q, k, v, mask)


def test_shape_and_values_without_mask(ex):
    check(ex, *qkv())


def test_more_keys_than_queries(ex):
    check(ex, *qkv(T=3, S=7))  # extra key/value slots in front: S = P + T


def test_causal_mask_with_slots(ex):
    q, k, v = qkv(T=4, S=6)
    check(ex, q, k, v, causal_mask(4, P=2))  # (T, S) mask broadcast over batch and heads


def test_per_row_mask(ex):
    q, k, v = qkv(B=2, T=4, S=6)
    mask = torch.rand(2, 1, 4, 6, generator=torch.Generator().manual_seed(4)) < 0.5
    mask[..., 0] = True  # every query keeps at least one key
    check(ex, q, k, v, mask)


def test_hand_worked_example(ex):
    # one head, two queries, two keys, D = 2: scores = q·kᵀ/√2
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64).view(1, 1, 2, 2)
    k = torch.tensor([[1.0, 1.0], [2.0, 0.0]], dtype=torch.float64).view(1, 1, 2, 2)
    v = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64).view(1, 1, 2, 2)
    # query 0 scores the keys (1/√2, 2/√2); query 1 scores them (1/√2, 0)
    w0 = 1 / (1 + math.exp(2 / math.sqrt(2) - 1 / math.sqrt(2)))  # weight of key 0 for query 0
    w1 = 1 / (1 + math.exp(0 - 1 / math.sqrt(2)))                  # weight of key 0 for query 1
    want = torch.tensor([[w0 * 1 + (1 - w0) * 3, w0 * 2 + (1 - w0) * 4],
                         [w1 * 1 + (1 - w1) * 3, w1 * 2 + (1 - w1) * 4]], dtype=torch.float64)
    got = ex.scaled_dot_product_attention(q, k, v)
    assert torch.allclose(got.reshape(2, 2), want, atol=1e-10), \
        f"by hand the output is {want.tolist()}, got {got.reshape(2, 2).tolist()}"
    masked = ex.scaled_dot_product_attention(q, k, v, causal_mask(2))
    assert torch.allclose(masked[0, 0, 0], v[0, 0, 0]), \
        "with the causal mask, query 0 sees only key 0, so its output must be exactly v[0]"


def test_gradients_reach_q_k_and_v(ex):
    q, k, v = (t.requires_grad_() for t in qkv(T=3, S=5))
    ex.scaled_dot_product_attention(q, k, v, causal_mask(3, P=2)).sum().backward()
    for name, t in (("q", q), ("k", k), ("v", v)):
        assert t.grad is not None and torch.isfinite(t.grad).all(), \
            f"no finite gradient for {name}: use torch operations only (no .numpy(), .item() or in-place tricks)"
