"""Every claim the prefix lessons make, on a nano model: frozen base, slots, folding, generation, mixing, files."""
import pytest
import torch

from minigpt import GPT, generate, preset
from prefix import (MultiPrefixGPT, PrefixedGPT, PrefixFileError, PrefixTuning, PromptTuning, WrongBaseError,
                    count_params, fingerprint, freeze, load_prefix, save_prefix, slots_to_matrix, matrix_to_slots)
from prefix.pairs import encode_pair, pad_inputs

V = 61


def base_model(seed=0, **kw):
    torch.manual_seed(seed)
    return GPT(preset("nano", vocab_size=V, **kw)).double().eval()


def tokens(B, T, seed=0):
    return torch.randint(0, V, (B, T), generator=torch.Generator().manual_seed(seed))


def trained_prefix(base, P=4, reparam="mlp", seed=1, hidden=16):
    """A prefix with non-trivial values (random init scaled up), so equalities are not trivially about zeros."""
    torch.manual_seed(seed)
    p = PrefixTuning(base.config, P, reparam=reparam, hidden=hidden).double()
    with torch.no_grad():
        for t in p.parameters():
            t.mul_(20.0)
    return p


# -- freezing -------------------------------------------------------------------------------------------------

def test_frozen_base_gets_no_gradient_and_never_changes():
    base = base_model()
    before = {k: v.clone() for k, v in base.state_dict().items()}
    model = PrefixedGPT(base, PrefixTuning(base.config, 4, hidden=16).double())
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert {id(p) for p in trainable} == {id(p) for p in model.prefix.parameters()}
    opt = torch.optim.AdamW(trainable, lr=1e-2)
    model.train()
    for step in range(3):
        x, y = tokens(2, 8, seed=step), tokens(2, 8, seed=step + 10)
        loss = model(x, y).loss
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is None for p in base.parameters()), "a frozen weight received a gradient"
        opt.step()
    assert not base.training, "the frozen base must stay in eval mode (no dropout)"
    after = base.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # tied wte/lm_head included
    assert base.lm_head.weight.data_ptr() == base.wte.weight.data_ptr()
    report = count_params(model)
    assert report.trainable == sum(p.numel() for p in model.prefix.parameters())
    assert report.total == report.trainable + base.num_params()


def test_freeze_reports_counts_and_switches_to_eval():
    base = base_model()
    base.train()
    report = freeze(base)
    assert report.trainable == 0 and report.total == base.num_params() and not base.training


# -- what the prefix does to the model -------------------------------------------------------------------------

def test_zero_length_prefix_equals_the_base_model():
    base = base_model()
    x = tokens(2, 10)
    empty = matrix_to_slots(torch.zeros(0, base.config.n_layer * 2 * base.config.n_embd, dtype=torch.float64),
                           base.config, 2)
    assert torch.allclose(base(x, slots=empty).logits, base(x).logits, atol=1e-12)


def test_masked_out_prefix_equals_the_base_model_and_a_zero_prefix_does_not():
    base = base_model()
    prefix = trained_prefix(base)
    x = tokens(2, 10)
    hide = torch.cat([torch.zeros(2, 4), torch.ones(2, 10)], dim=1)
    masked = base(x, attention_mask=hide, slots=prefix.slots(base, 2)).logits
    assert torch.allclose(masked, base(x).logits, atol=1e-12)
    assert not torch.allclose(base(x, slots=prefix.slots(base, 2)).logits, base(x).logits, atol=1e-4)
    zero = matrix_to_slots(torch.zeros(4, base.config.n_layer * 2 * base.config.n_embd, dtype=torch.float64), base.config, 2)
    assert not torch.allclose(base(x, slots=zero).logits, base(x).logits, atol=1e-4), \
        "zero keys still take softmax weight: a zero prefix is not 'no prefix'"


def test_table_slots_round_trip_and_shapes():
    base = base_model()
    prefix = trained_prefix(base, P=3)
    slots = prefix.slots(base, 5)
    H, D = base.config.n_head, base.config.head_dim
    assert len(slots) == base.config.n_layer and slots[0][0].shape == (5, H, 3, D)
    one_row = [(k[:1], v[:1]) for k, v in slots]
    assert torch.equal(slots_to_matrix(one_row), prefix.compute_matrix())


def test_folded_table_gives_the_same_outputs_as_the_mlp():
    base = base_model()
    prefix = trained_prefix(base)
    folded = prefix.folded()
    assert sum(p.numel() for p in folded.parameters()) == 4 * base.config.n_layer * 2 * base.config.n_embd
    assert sum(p.numel() for p in folded.parameters()) < sum(p.numel() for p in prefix.parameters())
    x = tokens(3, 9)
    a = PrefixedGPT(base, prefix)(x).logits
    b = PrefixedGPT(base, folded)(x).logits
    assert torch.allclose(a, b, atol=1e-10)


def test_prefix_dropout_is_exactly_off_in_eval():
    base = base_model()
    torch.manual_seed(0)
    prefix = PrefixTuning(base.config, 4, hidden=16, dropout=0.5).double()
    prefix.eval()
    assert torch.equal(prefix.slots(base, 1)[0][0], prefix.slots(base, 1)[0][0])
    prefix.train()
    assert not torch.equal(prefix.slots(base, 1)[0][0], prefix.slots(base, 1)[0][0])


def test_padded_rows_with_a_prefix_match_unpadded_rows():
    base = base_model()
    model = PrefixedGPT(base, trained_prefix(base))
    rows = [tokens(1, 6, seed=1)[0], tokens(1, 11, seed=2)[0]]
    x, mask = pad_inputs([r.tolist() for r in rows], pad_id=0)
    logits = model(x, attention_mask=mask).logits
    for i, r in enumerate(rows):
        assert torch.allclose(logits[i, :len(r)], model(r[None]).logits[0], atol=1e-10)


def test_prompt_tuning_slots_equal_soft_tokens_at_the_input():
    """The slot shortcut is exact: same logits as running [soft tokens; real tokens] through the blocks."""
    base = base_model()
    torch.manual_seed(3)
    prompt = PromptTuning(base.config, 3).double()
    with torch.no_grad():
        prompt.embeddings.mul_(50)
    x = tokens(2, 7)
    via_slots = PrefixedGPT(base, prompt)(x).logits
    real = base.embed(x)  # real tokens keep positions 0..T-1; soft tokens get none
    h, _ = base.hidden_states(torch.cat([prompt.embeddings[None].expand(2, -1, -1), real], dim=1))
    via_input = base.lm_head(h)[:, 3:]
    assert torch.allclose(via_slots, via_input, atol=1e-10)


# -- generation -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("impl", ["explicit", "sdpa"])
def test_generation_with_prefix_in_cache_equals_full_recomputation(impl):
    base = base_model(attention=impl)
    model = PrefixedGPT(base, trained_prefix(base))
    stored = model.prefix.compute_matrix().detach().clone()
    prompt = tokens(2, 5)
    n_new = base.config.block_size + 5  # past the context too
    cached = model.generate(prompt, n_new, temperature=0)
    seq = prompt
    for _ in range(n_new):  # reference: the full prefixed forward on the whole (windowed) sequence every step
        logits = model(seq[:, -base.config.block_size:]).logits[:, -1]
        seq = torch.cat([seq, logits.argmax(-1, keepdim=True)], 1)
    assert torch.equal(cached, seq)
    assert torch.equal(model.prefix.compute_matrix(), stored), "generation modified the stored prefix"


def test_prefix_changes_what_is_generated():
    base = base_model()
    prompt = tokens(1, 4)
    with_prefix = PrefixedGPT(base, trained_prefix(base)).generate(prompt, 20, temperature=0)
    assert not torch.equal(with_prefix, generate(base, prompt, 20, temperature=0))


# -- many prefixes in one batch ---------------------------------------------------------------------------------

def test_mixed_prefix_batch_equals_each_row_alone():
    base = base_model()
    prefixes = {"a": trained_prefix(base, seed=1), "b": trained_prefix(base, seed=2, reparam="matrix"),
                "c": PromptTuning(base.config, 4).double()}
    server = MultiPrefixGPT(base, prefixes)
    rows = [tokens(1, 5, seed=1)[0], tokens(1, 9, seed=2)[0], tokens(1, 7, seed=3)[0], tokens(1, 9, seed=4)[0]]
    tasks = ["a", "b", "c", "a"]
    x, mask = pad_inputs([r.tolist() for r in rows], pad_id=0)
    mixed = server(x, tasks, attention_mask=mask).logits
    for i, (r, t) in enumerate(zip(rows, tasks)):
        alone = PrefixedGPT(base, prefixes[t])(r[None]).logits[0]
        assert torch.allclose(mixed[i, :len(r)], alone, atol=1e-10)


def test_mixed_batch_rejects_different_prefix_lengths_and_unknown_tasks():
    base = base_model()
    server = MultiPrefixGPT(base, {"a": trained_prefix(base, P=2), "b": trained_prefix(base, P=3)})
    with pytest.raises(ValueError, match="different lengths"):
        server(tokens(2, 4), ["a", "b"])
    with pytest.raises(KeyError, match="no prefix named"):
        server(tokens(1, 4), ["zzz"])


# -- the loss mask --------------------------------------------------------------------------------------------

class CharEncoding:
    """A stand-in tokenizer: one token per character, eot = 0."""
    eot_token = 0

    def encode_ordinary(self, text):
        return [ord(c) % 50 + 1 for c in text]


def test_loss_only_on_target_tokens():
    enc = CharEncoding()
    x, y = encode_pair(enc, "ab=>", "xyz", block_size=32)
    # x: a b = > ' ' x y z ; y: next tokens, -100 while the next token is still source
    assert len(x) == len(y) == 8
    assert y[:3] == [-100, -100, -100]
    assert y[3:] == enc.encode_ordinary(" xyz") + [0]
    assert x[:4] == enc.encode_ordinary("ab=>")


# -- init from real tokens ------------------------------------------------------------------------------------

def test_table_init_copies_the_keys_values_of_the_last_real_tokens():
    base = base_model()
    prefix = PrefixTuning(base.config, 3, reparam="matrix").double()
    ids = tokens(1, 6)[0]
    prefix.init_from_tokens(base, ids)
    kv = base(ids[None]).kv
    assert torch.allclose(prefix.slots(base, 1)[1][0], kv[1][0][:, :, -3:])
    assert torch.allclose(prefix.slots(base, 1)[0][1], kv[0][1][:, :, -3:])


def test_mlp_init_fits_the_real_token_activations():
    base = base_model()
    torch.manual_seed(0)
    prefix = PrefixTuning(base.config, 3, hidden=64).double()
    ids = tokens(1, 6)[0]
    kv = base(ids[None]).kv
    target = slots_to_matrix([(k[:, :, -3:], v[:, :, -3:]) for k, v in kv])
    before = torch.mean((prefix.compute_matrix() - target) ** 2).item()
    after = prefix.init_from_tokens(base, ids)  # the defaults: the prefix starts as the real keys/values, nearly exactly
    assert after < 1e-4 * target.var().item() < 1e-4 * before
    with pytest.raises(ValueError, match="needs at least"):
        prefix.init_from_tokens(base, ids[:2])


def test_build_tuned_repeats_an_init_text_shorter_than_the_prefix():
    from prefix.methods import build_tuned

    torch.manual_seed(0)
    base = GPT(preset("nano", vocab_size=V)).eval()
    model = build_tuned(base, "prefix", prefix_len=7, reparam="matrix", init_ids=[5, 9, 2])  # 3 tokens, P = 7
    kv = base(torch.tensor([[5, 9, 2] * 3])).kv  # the text read three times; the prefix is its last 7 tokens
    k, v = model.slots(1)[1]
    assert torch.allclose(k, kv[1][0][:, :, -7:]) and torch.allclose(v, kv[1][1][:, :, -7:])


# -- files ----------------------------------------------------------------------------------------------------

def test_save_load_round_trip_is_small_and_exact(tmp_path):
    base = base_model()
    prefix = trained_prefix(base)
    size = save_prefix(prefix, base, tmp_path / "p.pt", meta={"task": "demo"})
    loaded = load_prefix(tmp_path / "p.pt", base)
    assert loaded.reparam == "matrix" and loaded.meta == {"task": "demo"}
    assert size < 64 * 1024
    x = tokens(2, 6)
    # the file stores float32: equal to float32 precision
    assert torch.allclose(PrefixedGPT(base, loaded.double())(x).logits, PrefixedGPT(base, prefix)(x).logits, atol=1e-5)


def test_prompt_prefix_round_trip(tmp_path):
    base = base_model()
    prompt = PromptTuning(base.config, 4).double()
    save_prefix(prompt, base, tmp_path / "p.pt")
    loaded = load_prefix(tmp_path / "p.pt", base)
    assert isinstance(loaded, PromptTuning)
    assert torch.allclose(loaded.embeddings.double(), prompt.embeddings, atol=1e-6)


def test_loading_onto_another_base_or_a_wrong_file_is_a_clear_error(tmp_path):
    base = base_model(seed=0)
    save_prefix(trained_prefix(base), base, tmp_path / "p.pt")
    other = base_model(seed=1)  # same config, other weights
    assert fingerprint(other) != fingerprint(base)
    with pytest.raises(WrongBaseError, match="trained for another base model"):
        load_prefix(tmp_path / "p.pt", other)
    torch.save({"weights": torch.zeros(3)}, tmp_path / "model.pt")
    with pytest.raises(PrefixFileError, match="is not a prefix file"):
        load_prefix(tmp_path / "model.pt", base)
    blob = torch.load(tmp_path / "p.pt", weights_only=True)
    del blob["base_fingerprint"]
    torch.save(blob, tmp_path / "incomplete.pt")
    with pytest.raises(PrefixFileError, match="incomplete prefix file .no base_fingerprint"):
        load_prefix(tmp_path / "incomplete.pt", base)
    (tmp_path / "broken.pt").write_bytes(b"not a zip at all")
    with pytest.raises(PrefixFileError, match="could not read prefix file .* damaged or incomplete"):
        load_prefix(tmp_path / "broken.pt", base)
    # a damaged file is never mistaken for a prefix of another base, and the other way round
    assert not issubclass(PrefixFileError, WrongBaseError) and not issubclass(WrongBaseError, PrefixFileError)
    with pytest.raises(FileNotFoundError, match="no prefix file"):
        load_prefix(tmp_path / "missing.pt", base)


def test_a_prefix_file_fits_its_base_run_with_either_attention_kernel(tmp_path):
    """Lesson 7 trains with the fused kernel (faster); the file still loads onto the same weights run explicitly."""
    explicit, fused = base_model(attention="explicit"), base_model(attention="sdpa")  # same seed: same weights
    prefix = trained_prefix(fused)
    save_prefix(prefix, fused, tmp_path / "p.pt")
    loaded = load_prefix(tmp_path / "p.pt", explicit).double()
    x = tokens(2, 6)
    assert torch.allclose(PrefixedGPT(explicit, loaded)(x).logits, PrefixedGPT(fused, prefix)(x).logits, atol=1e-5)
    with pytest.raises(WrongBaseError):  # another architecture is still refused
        load_prefix(tmp_path / "p.pt", base_model(n_layer=1))


def test_prefix_and_finetune_gradients_agree_between_attention_kernels():
    """Training with sdpa is the same math: padding, a prefix and -100 targets give the same gradients."""
    x = tokens(3, 9)
    mask = torch.ones(3, 9, dtype=torch.long)
    mask[1, 6:], mask[2, 3:] = 0, 0
    y = torch.where(mask.bool(), tokens(3, 9, seed=1), torch.full_like(x, -100))
    y[:, :2] = -100  # "source" positions
    grads = {}
    for impl in ("explicit", "sdpa"):
        base = base_model(attention=impl)
        tuned = PrefixedGPT(base, trained_prefix(base))
        tuned(x, y, mask).loss.backward()
        full = base_model(attention=impl).train()
        full(x, y, mask).loss.backward()
        grads[impl] = [p.grad for p in tuned.prefix.parameters()] + [p.grad for p in full.parameters()]
    assert all(g is not None for g in grads["sdpa"])
    for a, b in zip(grads["explicit"], grads["sdpa"]):
        assert torch.allclose(a, b, atol=1e-9)


class _Copier(torch.nn.Module):
    """A stand-in for a model that has learned to copy runs of `length` tokens: from position length-1 on it predicts,
    sure of it, the token `length` positions back of the next one (what came there in the first copy); before that
    it is uniform."""

    def __init__(self, length):
        super().__init__()
        self.length, self.config = length, preset("nano", vocab_size=V)
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, idx):
        logits = torch.zeros(*idx.shape, V)
        copied = idx[:, :idx.size(1) - self.length + 1]  # position t predicts t+1, which repeats t+1-length
        logits[:, self.length - 1:].scatter_(2, copied.unsqueeze(-1), 30.0)
        return type("Out", (), {"logits": logits})


def test_repeat_losses_tell_a_copying_model_from_one_that_cannot_copy():
    import math
    from prefix.methods import repeat_losses
    first, second = repeat_losses(_Copier(length=12), length=12)
    assert first == pytest.approx(math.log(V), abs=1e-6) and second < 1e-6
    first, second = repeat_losses(base_model(), length=12)  # untrained: no copying
    assert abs(first - second) < 0.3


def test_name_copy_rate_counts_outputs_that_contain_the_name(monkeypatch):
    import prefix.methods as methods
    from data.web import unseen_web_records
    sources, names = zip(*unseen_web_records(10))
    assert all(name in source and source.endswith("=>") for source, name in zip(sources, names))
    monkeypatch.setattr(methods, "generate_targets", lambda fn, enc, sources, **kw: [s + " is it" for s in sources])
    rate, examples = methods.name_copy_rate(base_model(), None, sources, names)
    assert rate == 1.0 and [src for src, _ in examples] == list(sources)
    outputs = ["It is a film."] * 7 + [f"{name} is it" for name in names[7:]]
    monkeypatch.setattr(methods, "generate_targets", lambda fn, enc, sources, **kw: outputs)
    assert methods.name_copy_rate(base_model(), None, sources, names)[0] == pytest.approx(0.3)


def test_evaluate_e2e_scores_what_was_generated_and_leaves_the_model_in_its_mode(monkeypatch):
    """Lesson 7 scores the untrained base with it, then builds every method on that base: a scoring that switched
    the base to train mode would hand the methods a different base than the one measured."""
    import prefix.methods as methods
    from data.e2e import load_e2e
    rows = load_e2e("test")[:4]
    perfect = [r["references"][0] for r in rows]
    monkeypatch.setattr(methods, "generate_targets", lambda model, enc, sources, *a, **kw: perfect)
    for mode in (False, True):
        model = base_model().train(mode)
        scores = methods.evaluate_e2e(model, None, rows)
        assert model.training is mode and scores["outputs"] == perfect and scores["bleu"] > 90
    monkeypatch.setattr(methods, "generate_targets", lambda model, enc, sources, *a, **kw: ["Nothing here."] * 4)
    scores = methods.evaluate_e2e(base_model(), None, rows)
    assert scores["attribute_error"] == 1.0 and set(scores["attribute_error_by_key"].values()) == {1.0}


def test_step_timing_side_by_side_changes_no_weight():
    from prefix.methods import build_tuned, step_times_side_by_side

    torch.manual_seed(0)
    base = GPT(preset("nano", vocab_size=V)).eval()
    models = {m: build_tuned(base, m, prefix_len=3) for m in ("prefix", "finetune")}
    before = {m: [p.detach().clone() for p in model.parameters()] for m, model in models.items()}
    x = tokens(2, 8)
    times = step_times_side_by_side(models, (x, x), rounds=3)
    assert set(times) == {"prefix", "finetune"} and all(t > 0 for t in times.values())
    for m, model in models.items():  # lr 0: the work of a step without its effect
        assert all(torch.equal(a, b) for a, b in zip(before[m], model.parameters()))


# -- where the real tokens are numbered: from 0 (minigpt) or after the prefix (PEFT) --------------------------------

def test_an_after_prefix_prefix_is_exactly_the_kv_cache_of_a_real_text():
    """Initialized from a P-token text, an "after_prefix" prefix gives the logits of that text put before the input."""
    base = base_model()
    text, x = tokens(1, 4, seed=7), tokens(2, 6, seed=8)
    prefix = PrefixTuning(base.config, 4, reparam="matrix", positions="after_prefix").double()
    prefix.init_from_tokens(base, text[0])
    via_prefix = PrefixedGPT(base, prefix)(x).logits
    via_input = base(torch.cat([text.expand(2, -1), x], dim=1)).logits[:, 4:]
    assert torch.allclose(via_prefix, via_input, atol=1e-10)
    from_zero = PrefixTuning(base.config, 4, reparam="matrix").double()
    from_zero.init_from_tokens(base, text[0])  # the same keys/values, but the real tokens start at position 0
    assert not torch.allclose(PrefixedGPT(base, from_zero)(x).logits, via_input, atol=1e-3)


def test_after_prefix_prompt_tuning_equals_soft_tokens_at_the_input_with_positions():
    base = base_model()
    torch.manual_seed(3)
    prompt = PromptTuning(base.config, 3, positions="after_prefix").double()
    with torch.no_grad():
        prompt.embeddings.mul_(50)
    x = tokens(2, 7)
    soft = prompt.embeddings[None].expand(2, -1, -1) + base.wpe.weight[:3]
    h, _ = base.hidden_states(torch.cat([soft, base.embed(x, pos_offset=3)], dim=1))
    assert torch.allclose(PrefixedGPT(base, prompt)(x).logits, base.lm_head(h)[:, 3:], atol=1e-10)


@pytest.mark.parametrize("method", ["prefix", "prompt"])
def test_after_prefix_generation_with_cache_equals_full_recomputation(method):
    base = base_model()
    prefix = (trained_prefix(base) if method == "prefix" else PromptTuning(base.config, 4).double())
    prefix.positions = "after_prefix"
    model = PrefixedGPT(base, prefix)
    room = base.config.block_size - 4  # the prefix takes positions 0..3
    prompt = tokens(2, 5)
    n_new = room + 5  # past the real tokens' room too
    cached = model.generate(prompt, n_new, temperature=0)
    seq = prompt
    for _ in range(n_new):
        logits = model(seq[:, -room:]).logits[:, -1]
        seq = torch.cat([seq, logits.argmax(-1, keepdim=True)], 1)
    assert torch.equal(cached, seq)
    with pytest.raises(ValueError, match=f"at most {room} after the 4 positions its prefix takes"):
        model.generate(tokens(1, room + 1), 1)


def test_after_prefix_mixed_batch_equals_each_row_alone_and_rules_do_not_mix():
    base = base_model()
    prefixes = {"a": trained_prefix(base, seed=1), "b": trained_prefix(base, seed=2, reparam="matrix"),
                "c": PromptTuning(base.config, 4).double()}
    for p in prefixes.values():
        p.positions = "after_prefix"
    server = MultiPrefixGPT(base, prefixes)
    rows = [tokens(1, 5, seed=1)[0], tokens(1, 9, seed=2)[0], tokens(1, 7, seed=3)[0]]
    tasks = ["a", "b", "c"]
    x, mask = pad_inputs([r.tolist() for r in rows], pad_id=0)
    mixed = server(x, tasks, attention_mask=mask).logits
    for i, (r, t) in enumerate(zip(rows, tasks)):
        assert torch.allclose(mixed[i, :len(r)], PrefixedGPT(base, prefixes[t])(r[None]).logits[0], atol=1e-10)
    with pytest.raises(ValueError, match="number the real tokens differently"):
        MultiPrefixGPT(base, {"a": prefixes["a"], "z": trained_prefix(base, seed=3)})  # from_zero, same P


def test_the_positions_rule_is_saved_and_old_files_load_as_from_zero(tmp_path):
    base = base_model()
    prefix = trained_prefix(base)
    prefix.positions = "after_prefix"
    save_prefix(prefix, base, tmp_path / "p.pt")
    assert load_prefix(tmp_path / "p.pt", base).positions == "after_prefix"
    blob = torch.load(tmp_path / "p.pt", weights_only=True)
    del blob["positions"], blob["checksum"]  # a file written before either existed
    torch.save(blob, tmp_path / "old.pt")
    assert load_prefix(tmp_path / "old.pt", base).positions == "from_zero"
    with pytest.raises(ValueError, match="positions='middle'"):
        PrefixTuning(base.config, 4, positions="middle")


def test_a_file_that_calls_its_matrix_table_still_loads_and_is_still_checked(tmp_path):
    from minigpt.checkpoint import tensor_checksum
    base = base_model()
    prefix = trained_prefix(base)
    save_prefix(prefix, base, tmp_path / "p.pt")
    blob = torch.load(tmp_path / "p.pt", weights_only=True)
    matrix = blob.pop("matrix")
    blob.update(table=matrix, checksum=tensor_checksum({"table": matrix}))  # as files were written before the rename
    torch.save(blob, tmp_path / "old.pt")
    assert torch.equal(load_prefix(tmp_path / "old.pt", base).matrix, matrix)
    blob["table"] = matrix + 1  # changed after saving: the old checksum must still catch it
    torch.save(blob, tmp_path / "changed.pt")
    with pytest.raises(PrefixFileError, match="checksum"):
        load_prefix(tmp_path / "changed.pt", base)
