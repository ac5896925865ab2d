"""The attention math: explicit == fused, a hand-worked example, causality, and what extra slots do."""
import math

import pytest
import torch
import torch.nn.functional as F

from minigpt.attention import CausalSelfAttention, causal_mask, scaled_dot_product_attention
from minigpt.config import preset


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("P", [0, 3])
@pytest.mark.parametrize("use_mask", [False, True])
def test_explicit_equals_torch_sdpa_float64(P, use_mask):
    B, H, T, D = 2, 3, 5, 4
    q, k, v = rand(B, H, T, D, seed=1), rand(B, H, P + T, D, seed=2), rand(B, H, P + T, D, seed=3)
    mask = causal_mask(T, P) if use_mask else None
    ours = scaled_dot_product_attention(q, k, v, mask)
    theirs = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(ours, theirs, atol=1e-10, rtol=0)


def test_weights_are_a_distribution_and_respect_the_mask():
    q, k, v = rand(1, 2, 4, 3, seed=1), rand(1, 2, 6, 3, seed=2), rand(1, 2, 6, 3, seed=3)
    mask = causal_mask(4, P=2)
    _, w = scaled_dot_product_attention(q, k, v, mask, return_weights=True)
    assert torch.allclose(w.sum(-1), torch.ones(1, 2, 4, dtype=torch.float64), atol=1e-12)
    assert (w[..., ~mask] == 0).all()
    assert (w[..., mask] > 0).all()


def test_gradcheck_on_the_pure_function():
    q = rand(1, 2, 3, 2, seed=1).requires_grad_()
    k = rand(1, 2, 4, 2, seed=2).requires_grad_()
    v = rand(1, 2, 4, 2, seed=3).requires_grad_()
    mask = causal_mask(3, P=1)
    assert torch.autograd.gradcheck(lambda q, k, v: scaled_dot_product_attention(q, k, v, mask), (q, k, v))


def test_tiny_example_by_hand():
    # one head, two tokens, D = 2
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64).view(1, 1, 2, 2)
    k = torch.tensor([[1.0, 1.0], [2.0, 0.0]], dtype=torch.float64).view(1, 1, 2, 2)
    v = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64).view(1, 1, 2, 2)
    out, w = scaled_dot_product_attention(q, k, v, causal_mask(2), return_weights=True)
    # query 0 sees only key 0 -> weight 1, output = v0
    # query 1: scores q1·k0 = 1, q1·k1 = 0, scaled by 1/sqrt(2) -> softmax([1/√2, 0])
    a = math.exp(1 / math.sqrt(2)) / (math.exp(1 / math.sqrt(2)) + 1)
    expected_w = torch.tensor([[1.0, 0.0], [a, 1 - a]], dtype=torch.float64)
    expected_out = torch.tensor([[1.0, 2.0], [a * 1 + (1 - a) * 3, a * 2 + (1 - a) * 4]], dtype=torch.float64)
    assert torch.allclose(w[0, 0], expected_w, atol=1e-12)
    assert torch.allclose(out[0, 0], expected_out, atol=1e-12)


def test_causal_mask_shape_and_pattern():
    m = causal_mask(3, P=2)
    assert m.shape == (3, 5)
    expected = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    assert torch.equal(m, expected)
    assert torch.equal(causal_mask(3), torch.tril(torch.ones(3, 3, dtype=torch.bool)))


def make_attention(impl="explicit", seed=0):
    torch.manual_seed(seed)
    cfg = preset("nano", vocab_size=50, attention=impl)
    return CausalSelfAttention(cfg).double().eval(), cfg


def slots_for(cfg, B, P, seed=5):
    H, D = cfg.n_head, cfg.head_dim
    return rand(B, H, P, D, seed=seed), rand(B, H, P, D, seed=seed + 1)


@pytest.mark.parametrize("P", [0, 2])
def test_changing_token_j_never_changes_earlier_outputs(P):
    attn, cfg = make_attention()
    x = rand(2, 6, cfg.n_embd, seed=1)
    slots = slots_for(cfg, 2, P) if P else None
    y, _ = attn(x, slots)
    for j in range(6):
        x2 = x.clone()
        x2[:, j] += 1.0
        y2, _ = attn(x2, slots)
        assert torch.allclose(y[:, :j], y2[:, :j], atol=1e-12), f"token {j} leaked into earlier positions"
        assert not torch.allclose(y[:, j:], y2[:, j:]), "the change should show at and after j"


def test_zero_length_slots_equal_no_slots():
    attn, cfg = make_attention()
    x = rand(2, 4, cfg.n_embd)
    empty = slots_for(cfg, 2, 0)
    assert torch.allclose(attn(x)[0], attn(x, empty)[0], atol=1e-12)


def test_hidden_slot_changes_nothing_visible_slot_does():
    attn, cfg = make_attention()
    B, T, P = 2, 4, 3
    x = rand(B, T, cfg.n_embd)
    slots = slots_for(cfg, B, P)
    hide_slots = torch.cat([torch.zeros(B, P, dtype=torch.bool), torch.ones(B, T, dtype=torch.bool)], 1)
    plain, _ = attn(x)
    hidden, _ = attn(x, slots, key_mask=hide_slots)
    visible, _ = attn(x, slots)
    assert torch.allclose(plain, hidden, atol=1e-12)
    assert not torch.allclose(plain, visible, atol=1e-3)
    # a zero slot is not "no slot": zero keys still take softmax weight (and zero values dilute the mix)
    zeros = tuple(torch.zeros_like(s) for s in slots)
    assert not torch.allclose(plain, attn(x, zeros)[0], atol=1e-3)


def test_returned_kv_are_slots_then_new_keys_and_slots_untouched():
    attn, cfg = make_attention()
    x = rand(1, 3, cfg.n_embd)
    k_extra, v_extra = slots_for(cfg, 1, 2)
    before = k_extra.clone()
    _, (k, v) = attn(x, (k_extra, v_extra))
    assert k.shape == (1, cfg.n_head, 5, cfg.head_dim)
    assert torch.equal(k[:, :, :2], k_extra) and torch.equal(v[:, :, :2], v_extra)
    k.add_(1.0)  # a caller appending to / editing the returned cache must not reach the stored slots
    assert torch.equal(k_extra, before)


@pytest.mark.parametrize("P", [0, 2])
def test_explicit_and_fused_modules_agree(P):
    explicit, cfg = make_attention("explicit")
    fused, _ = make_attention("sdpa")
    fused.load_state_dict(explicit.state_dict())
    x = rand(2, 5, cfg.n_embd)
    slots = slots_for(cfg, 2, P) if P else None
    pad = torch.ones(2, P + 5, dtype=torch.bool)
    pad[1, -2:] = False
    for key_mask in (None, pad):
        assert torch.allclose(explicit(x, slots, key_mask)[0], fused(x, slots, key_mask)[0], atol=1e-10)


def test_key_mask_of_the_wrong_shape_is_a_clear_error():
    attn, cfg = make_attention()
    with pytest.raises(ValueError, match=r"key_mask must be \(B, P\+T\)"):
        attn(rand(2, 4, cfg.n_embd), key_mask=torch.ones(2, 3, dtype=torch.bool))
