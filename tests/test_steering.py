"""prefix/steering.py on a nano model: the loss is what its docstring writes (checked against each review alone),
the batches hold both labels, training the pair together makes each prefix explain its own label's texts, and the
contrasted sampler's logits are its formula, checked against each prefix alone."""
import math

import pytest
import torch
import torch.nn.functional as F

from minigpt import GPT, preset
from minigpt.tokenizer import load_tokenizer
from prefix import PrefixedGPT, PrefixTuning
from prefix.steering import (ContrastedPrefixes, SteeringLoss, labelled_review_batches, steering_scores,
                             train_steering)

REVIEWS = {"train": [("A joy from start to end.", 1), ("Dull and far too long.", 0), ("Great fun!", 1),
                     ("Awful. I want my money back.", 0), ("A lovely, warm story.", 1)],
           "val": [("Wonderful.", 1), ("Boring.", 0)]}


@pytest.fixture(scope="module")
def enc():
    return load_tokenizer()


def nano_base(enc):
    torch.manual_seed(0)
    return GPT(preset("nano", vocab_size=enc.n_vocab)).double().eval()


def two_prefixes(base, seed=1):
    torch.manual_seed(seed)
    return [PrefixTuning(base.config, 3, reparam="mlp", hidden=16).double() for _ in range(2)]


def test_batches_hold_both_labels_and_score_only_review_tokens(enc):
    get_batch = labelled_review_batches(enc, REVIEWS, [1, 0], batch_size=2, n_tokens=12, seed=3)
    x, y, mask, labels = get_batch("train", 0)
    assert labels.tolist() == [0, 0, 1, 1]  # prefix 0 (label 1, positive) first, then prefix 1
    assert x.shape == y.shape == mask.shape and x.size(0) == 4
    assert (y[mask == 0] == -100).all() and (y[mask == 1] != -100).all()
    positives = {enc.decode([t for t in row if t != -100]) for row in y[:2].tolist()}
    assert positives <= {text for text, label in REVIEWS["train"] if label == 1}
    assert all(torch.equal(a, b) for a, b in zip(get_batch("train", 5), get_batch("train", 5)))  # deterministic
    with pytest.raises(ValueError, match="reviews per label"):
        labelled_review_batches(enc, REVIEWS, [1, 0], batch_size=0)
    with pytest.raises(ValueError, match="no review of label 2"):
        labelled_review_batches(enc, REVIEWS, [1, 2], batch_size=4)


def test_the_loss_is_the_own_prefix_lm_loss_plus_the_label_cross_entropy(enc):
    base = nano_base(enc)
    prefixes = two_prefixes(base)
    x, y, mask, labels = labelled_review_batches(enc, REVIEWS, [1, 0], batch_size=2, n_tokens=12)("train", 1)
    out = SteeringLoss(base, prefixes, weight=0.5).eval()(x, y, mask, labels)

    # the reference: every review alone, unpadded, under every prefix
    nll = torch.zeros(4, 2, dtype=torch.float64)
    for b in range(4):
        n = int(mask[b].sum())
        for k, prefix in enumerate(prefixes):
            logits = PrefixedGPT(base, prefix)(x[b:b + 1, :n]).logits[0]
            nll[b, k] = F.cross_entropy(logits, y[b, :n], reduction="sum")
    n_tokens = int(mask.sum())
    own = nll[torch.arange(4), labels]
    lm = own.sum() / n_tokens
    label_loss = -torch.log_softmax(-nll, dim=1)[torch.arange(4), labels].mean()
    assert out.lm.item() == pytest.approx(lm.item(), rel=1e-9)
    assert out.label_loss.item() == pytest.approx(label_loss.item(), rel=1e-9)
    assert out.loss.item() == pytest.approx((lm + 0.5 * label_loss).item(), rel=1e-9)
    assert out.label_accuracy.item() == pytest.approx((nll.argmin(1) == labels).double().mean().item())

    # weight 0 while training: each prefix reads only its own label's reviews, the same LM loss, no label terms
    alone = SteeringLoss(base, prefixes, weight=0.0)(x, y, mask, labels)
    assert alone.loss.item() == pytest.approx(lm.item(), rel=1e-9) and alone.label_loss is None
    alone.loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for prefix in prefixes for p in prefix.parameters())
    with torch.no_grad():  # evaluation computes everything
        assert SteeringLoss(base, prefixes, weight=0.0)(x, y, mask, labels).label_loss.item() == pytest.approx(
            label_loss.item(), rel=1e-9)


def test_training_the_pair_together_separates_the_labels_more_than_training_each_alone(enc):
    # two "labels" that differ in one word only: what a prefix trained on its LM loss alone barely notices
    reviews = {split: [(f"the film was {w} and the cast was {w} .", label)
                       for w, label in (("good", 1), ("bad", 0)) for _ in range(4)] for split in ("train", "val")}
    get_batch = labelled_review_batches(enc, reviews, [1, 0], batch_size=2, n_tokens=16)
    results = {}
    for weight in (0.0, 1.0):  # 0: each prefix on its own label's LM loss, as if trained apart
        base = nano_base(enc)
        before = steering_scores(SteeringLoss(base, two_prefixes(base)), get_batch, n_batches=2)
        model, history = train_steering(base, get_batch, 2, steps=40, lr=3e-2, weight=weight, prefix_len=3,
                                        seed=1, batch_size=4, eval_every=40, eval_batches=1, progress=False)
        results[weight] = steering_scores(model, get_batch, n_batches=2)
        assert history["eval_val_loss"][-1] < history["eval_val_loss"][0]
        assert results[weight]["lm"] < results[weight]["base_lm"] == pytest.approx(before["base_lm"])
        assert all(not p.requires_grad for p in base.parameters())  # the base stayed frozen
    assert results[1.0]["label_accuracy"] == 1.0
    assert results[1.0]["label_loss"] < 0.5 * results[0.0]["label_loss"]
    assert results[1.0]["label_loss"] < 0.5 * before["label_loss"]


def test_bad_settings_say_what_to_do(enc):
    base = nano_base(enc)
    with pytest.raises(ValueError, match="at least two prefixes"):
        SteeringLoss(base, two_prefixes(base)[:1])
    with pytest.raises(ValueError, match="weight"):
        SteeringLoss(base, two_prefixes(base), weight=-1)
    x, y, mask, _ = labelled_review_batches(enc, REVIEWS, [1, 0], batch_size=1, n_tokens=8)("train", 0)
    with pytest.raises(ValueError, match="labels must be in 0..1"):
        SteeringLoss(base, two_prefixes(base))(x, y, mask, torch.tensor([0, 2]))
    assert math.isfinite(SteeringLoss(base, two_prefixes(base))(x, y, mask, torch.tensor([0, 1])).loss.item())


def test_contrasted_logits_are_the_formula_over_the_wanted_prefix_top_k(enc):
    base = nano_base(enc)
    toward, away = two_prefixes(base, seed=4)
    idx = torch.randint(0, enc.n_vocab, (2, 6), generator=torch.Generator().manual_seed(0))
    z = ContrastedPrefixes(base, toward, away, alpha=1.5, plausible_k=7)(idx).logits  # (2, 6, V)
    z_toward = PrefixedGPT(base, toward)(idx).logits  # each prefix alone, the reference
    z_away = PrefixedGPT(base, away)(idx).logits
    kept = z_toward >= torch.topk(z_toward, 7, dim=-1).values[..., -1:]
    assert torch.equal(torch.isfinite(z), kept) and (kept.sum(-1) == 7).all()
    assert torch.allclose(z[kept], (z_toward + 1.5 * (z_toward - z_away))[kept], atol=1e-10)
    assert not torch.allclose(z[kept], z_toward[kept])  # the push changes the logits


def test_contrasted_sampling_at_alpha_0_is_the_prefix_alone_and_the_cache_changes_nothing(enc):
    base = nano_base(enc)
    toward, away = two_prefixes(base, seed=5)
    prompt = torch.tensor([[enc.eot_token] + enc.encode_ordinary("This movie")] * 3)
    alone = PrefixedGPT(base, toward).generate(prompt, 8, temperature=0.9, top_k=20,
                                               generator=torch.Generator().manual_seed(1))
    plain = ContrastedPrefixes(base, toward, away, alpha=0.0, plausible_k=20).generate(
        prompt, 8, temperature=0.9, top_k=20, generator=torch.Generator().manual_seed(1))
    assert torch.equal(plain, alone)
    pair = ContrastedPrefixes(base, toward, away, alpha=3.0)
    cached = pair.generate(prompt, 8, temperature=0)
    assert torch.equal(cached, pair.generate(prompt, 8, temperature=0, use_cache=False))
    assert not torch.equal(cached, PrefixedGPT(base, toward).generate(prompt, 8, temperature=0))  # it pushed


def test_contrasted_sampler_bad_settings_say_what_to_do(enc):
    base = nano_base(enc)
    toward, away = two_prefixes(base)
    with pytest.raises(ValueError, match="alpha"):
        ContrastedPrefixes(base, toward, away, alpha=-1)
    with pytest.raises(ValueError, match="plausible_k"):
        ContrastedPrefixes(base, toward, away, plausible_k=0)
    shifted = PrefixTuning(base.config, 3, reparam="mlp", hidden=16, positions="after_prefix").double()
    with pytest.raises(ValueError, match="number the real tokens differently"):
        ContrastedPrefixes(base, toward, shifted)
