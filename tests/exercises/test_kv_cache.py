"""Exercise 5, kv_cache.py: cached decoding step by step must equal one full forward pass."""
import pytest
import torch

from minigpt import GPT, GPTConfig
from prefix import PrefixTuning

V = 37


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return GPT(GPTConfig(vocab_size=V, block_size=16, n_layer=2, n_head=2, n_embd=16)).double().eval()


def tokens(B, T, seed=0):
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


def decode(ex, model, idx, chunks, cache=None):
    """Feed idx through cached_step in chunks of the given sizes; returns the logits of every position."""
    logits, n = [], 0
    for size in chunks:
        out, cache = ex.cached_step(model, cache, n, idx[:, n:n + size])
        assert out.shape == (idx.size(0), size, V), f"logits must be (B, T_new, V), got {tuple(out.shape)}"
        n += size
        k, v = cache[0]
        assert k.size(2) == v.size(2) and k.size(2) >= n, \
            f"after {n} tokens the cache should hold at least {n} keys per layer, it holds {k.size(2)}"
        logits.append(out)
    return torch.cat(logits, dim=1), cache


def compare(got, want):
    assert torch.allclose(got[:, :1], want[:, :1], atol=1e-9), "the first step already differs from the full pass"
    wrong = (got - want).abs().amax(dim=(0, 2)) > 1e-9
    assert not wrong.any(), (f"positions {wrong.nonzero().flatten().tolist()} differ from the full forward pass; "
                             f"if only later steps differ, check the positions the new tokens get (pos_offset)")


def test_prefill_equals_full_pass(ex, model):
    idx = tokens(2, 6)
    got, cache = ex.cached_step(model, None, 0, idx)
    assert torch.allclose(got, model(idx).logits, atol=1e-9), "with an empty cache it is a plain forward pass"
    assert len(cache) == model.config.n_layer, f"the cache has one (k, v) per layer, got {len(cache)} entries"


def test_one_token_at_a_time_equals_full_pass(ex, model):
    idx = tokens(2, 7, seed=1)
    got, cache = decode(ex, model, idx, [3, 1, 1, 1, 1])
    compare(got, model(idx).logits)
    assert cache[0][0].shape == (2, 2, 7, 8), \
        f"the final cache's keys should be (B, H, T, D) = (2, 2, 7, 8), got {tuple(cache[0][0].shape)}"


def test_chunks_equal_full_pass(ex, model):
    idx = tokens(1, 9, seed=2)
    got, _ = decode(ex, model, idx, [1, 4, 2, 2])
    compare(got, model(idx).logits)


def test_prefix_in_the_cache(ex, model):
    # a learned prefix is just the first thing in the cache: P slots that have no position
    torch.manual_seed(1)
    slots = PrefixTuning(model.config, prefix_len=3, hidden=8).double().slots(batch_size=2)
    idx = tokens(2, 5, seed=3)
    got, cache = decode(ex, model, idx, [2, 1, 1, 1], cache=slots)
    compare(got, model(idx, slots=slots).logits)
    assert cache[0][0].size(2) == 3 + 5, "the cache should hold the 3 prefix slots and the 5 tokens"


def test_cache_passed_in_is_not_changed(ex, model):
    idx = tokens(1, 4, seed=4)
    _, cache = ex.cached_step(model, None, 0, idx[:, :3])
    before = [(k.clone(), v.clone()) for k, v in cache]
    ex.cached_step(model, cache, 3, idx[:, 3:])
    for (k, v), (k0, v0) in zip(cache, before):
        assert k.shape == k0.shape and torch.equal(k, k0) and torch.equal(v, v0), \
            "cached_step changed the cache it was given; return a new one"
