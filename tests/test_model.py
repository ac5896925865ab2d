"""The GPT: config validation, loss at init, explicit vs fused paths, padding, positions, generation with a cache."""
import math

import pytest
import torch

from minigpt import GPT, GPTConfig, generate, preset
from minigpt.generate import sample_next


def nano(seed=0, **kw):
    torch.manual_seed(seed)
    return GPT(preset("nano", vocab_size=97, **kw)).eval()


def tokens(B, T, vocab=97, seed=0):
    return torch.randint(0, vocab, (B, T), generator=torch.Generator().manual_seed(seed))


# -- config ---------------------------------------------------------------------------------------------------

def test_config_says_what_is_wrong_and_how_to_fix_it():
    with pytest.raises(ValueError, match=r"n_embd=100 is not divisible by n_head=3.*multiple of n_head"):
        GPTConfig(n_embd=100, n_head=3)
    with pytest.raises(ValueError, match="dropout"):
        GPTConfig(dropout=1.5)
    with pytest.raises(ValueError, match="attention='flash' is unknown"):
        GPTConfig(attention="flash")
    with pytest.raises(ValueError, match="n_layer=0 must be a positive integer"):
        GPTConfig(n_layer=0)
    with pytest.raises(ValueError, match="unknown preset"):
        preset("huge")


def test_tiny_preset_is_a_few_million_parameters():
    n = GPT(preset("tiny")).num_params()
    assert 1_000_000 < n < 10_000_000


# -- model ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("vocab", [97, 2049])
def test_loss_at_init_is_close_to_ln_vocab(vocab):
    torch.manual_seed(0)
    model = GPT(preset("nano", vocab_size=vocab)).eval()
    x, y = tokens(8, 32, vocab, seed=1), tokens(8, 32, vocab, seed=2)
    loss = model(x, y).loss.item()
    assert abs(loss - math.log(vocab)) < 0.1


def test_output_head_is_tied_to_the_token_embedding():
    model = nano()
    assert model.lm_head.weight.data_ptr() == model.wte.weight.data_ptr()


def test_loss_ignores_minus_100_targets():
    model = nano()
    x, y = tokens(2, 8), tokens(2, 8, seed=1)
    y_masked = y.clone()
    y_masked[:, :4] = -100
    logits = model(x).logits
    expected = torch.nn.functional.cross_entropy(logits[:, 4:].reshape(-1, 97), y[:, 4:].reshape(-1))
    assert torch.allclose(model(x, y_masked).loss, expected)


def test_loss_only_gives_the_same_loss_and_gradients_without_the_logits():
    x, y = tokens(3, 10), tokens(3, 10, seed=1)
    y[:, :6] = -100  # a task's source: no target there
    y[2, 8:] = -100  # and padding
    grads = []
    for loss_only in (False, True):
        model = nano().train()
        out = model(x, y, loss_only=loss_only)
        out.loss.backward()
        grads.append(([out.loss.detach()], [p.grad for p in model.parameters()]))
        assert (out.logits is None) == loss_only
    (full_loss, full_grads), (only_loss, only_grads) = grads
    assert torch.allclose(full_loss[0], only_loss[0], atol=1e-6)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(full_grads, only_grads))
    with pytest.raises(ValueError, match="needs targets"):
        nano()(x, loss_only=True)


def test_explicit_and_fused_model_paths_agree():
    explicit = nano(attention="explicit").double()
    fused = nano(attention="sdpa").double()
    fused.load_state_dict(explicit.state_dict())
    x = tokens(3, 20)
    assert torch.allclose(explicit(x).logits, fused(x).logits, atol=1e-9)


def test_configs_that_differ_only_in_the_attention_kernel_are_the_same_model():
    cfg = preset("nano", vocab_size=97)
    assert cfg.same_model_as(cfg.override(attention="sdpa"))
    assert not cfg.same_model_as(cfg.override(n_layer=cfg.n_layer + 1))
    assert not cfg.same_model_as(cfg.override(vocab_size=98, attention="sdpa"))


@pytest.mark.parametrize("impl", ["explicit", "sdpa"])
def test_right_padded_batch_matches_each_row_alone(impl):
    model = nano(attention=impl).double()
    lengths = [7, 4, 10]
    rows = [tokens(1, n, seed=i) for i, n in enumerate(lengths)]
    batch = torch.zeros(3, 10, dtype=torch.long)
    mask = torch.zeros(3, 10, dtype=torch.long)
    for i, (r, n) in enumerate(zip(rows, lengths)):
        batch[i, :n], mask[i, :n] = r[0], 1
    logits = model(batch, attention_mask=mask).logits
    for i, (r, n) in enumerate(zip(rows, lengths)):
        assert torch.allclose(logits[i, :n], model(r).logits[0], atol=1e-10)


def test_positions_of_real_tokens_start_at_zero_whatever_the_slots():
    """Slots carry no position: a prefix of P slots does not move the real tokens' position embeddings."""
    model = nano().double()
    cfg = model.config
    x = tokens(1, cfg.block_size)  # a full context still fits with a prefix in front
    P = 5
    slots = [tuple(torch.randn(1, cfg.n_head, P, cfg.head_dim, dtype=torch.float64) for _ in range(2))
             for _ in range(cfg.n_layer)]
    out = model(x, slots=slots)
    assert out.logits.shape == (1, cfg.block_size, 97)
    assert out.kv[0][0].shape == (1, cfg.n_head, P + cfg.block_size, cfg.head_dim)


def test_cached_forward_equals_full_forward():
    model = nano().double()
    x = tokens(2, 12)
    full = model(x).logits
    first = model(x[:, :7])
    rest = model(x[:, 7:], slots=first.kv, pos_offset=7)
    assert torch.allclose(torch.cat([first.logits, rest.logits], 1), full, atol=1e-10)


def test_bad_inputs_give_clear_errors():
    model = nano()
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model(torch.tensor([[1, 2, 500]]))
    with pytest.raises(ValueError, match="go past block_size"):
        model(tokens(1, model.config.block_size + 1))
    with pytest.raises(TypeError, match="torch.long"):
        model(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="attention_mask must be"):
        model(tokens(1, 4), attention_mask=torch.ones(1, 5))


# -- generation -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("impl", ["explicit", "sdpa"])
def test_greedy_with_cache_equals_recomputation_also_past_block_size(impl):
    model = nano(attention=impl)
    prompt = tokens(2, 5)
    n_new = model.config.block_size + 10  # go well past the context
    cached = generate(model, prompt, n_new, temperature=0, use_cache=True)
    # the reference: recompute the whole (last block_size tokens of the) sequence at every step, by hand
    seq = prompt
    for _ in range(n_new):
        logits = model(seq[:, -model.config.block_size:]).logits[:, -1]
        seq = torch.cat([seq, logits.argmax(-1, keepdim=True)], 1)
    assert torch.equal(cached, seq)


def test_sampling_is_reproducible_with_a_generator_and_top_k_limits_choices():
    model = nano()
    prompt = tokens(1, 3)
    a = generate(model, prompt, 20, temperature=1.0, top_k=5, generator=torch.Generator().manual_seed(1))
    b = generate(model, prompt, 20, temperature=1.0, top_k=5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    logits = torch.tensor([[0.0, 5.0, 4.0, -1.0, 3.0]])
    picks = {sample_next(logits, 1.0, top_k=2, generator=torch.Generator().manual_seed(s)).item() for s in range(200)}
    assert picks == {1, 2}


def test_generation_rejects_bad_prompts_clearly():
    model = nano()
    with pytest.raises(ValueError, match="empty prompt"):
        generate(model, torch.zeros(1, 0, dtype=torch.long), 5)
    with pytest.raises(ValueError, match="outside the vocabulary"):
        generate(model, torch.tensor([[3, 97]]), 5)
    with pytest.raises(ValueError, match="prompt has 33 tokens but the model sees at most block_size=32"):
        generate(model, tokens(1, 33), 5)
    with pytest.raises(ValueError, match="temperature"):
        generate(model, tokens(1, 3), 5, temperature=-1)
