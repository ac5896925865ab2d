"""Steering: prefixes that change what the frozen model writes, trained together so they differ in what matters.

Trained alone on positive reviews with the language-model loss, a prefix learns mostly what every review is like
(words, length, style): sentiment is a small part of a review's likelihood, so a "positive" and a "negative" prefix
trained apart end up nearly the same. Trained together (contrastive prefixes, after Qian et al. 2022), each review
also asks which prefix explains it best. With equal priors, Bayes gives

    p(label k | text) = softmax_k( log p(text | prefix k) )

and the cross-entropy of that against the review's real label can only fall by making the prefixes differ where
the labels differ. The loss of a batch:

    loss = (LM loss of each review under its own label's prefix, per token)
         + weight * (cross-entropy of p(label | review), per review)

weight=0 is plain training, each prefix on its own label's reviews.

Sampling can make the most of what little separates two prefixes (ContrastedPrefixes): at each step, push the
next-token logits of the wanted prefix away from those of the other one,

    z = z_toward + alpha * (z_toward - z_away),   over the tokens z_toward's own top-k keeps

(the expert and anti-expert of DExperts, Liu et al. 2021, here two prefixes of one frozen base). alpha=0 is plain
sampling from the wanted prefix; the top-k rule keeps every token one the wanted prefix itself finds plausible.
"""
from typing import NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from minigpt.generate import generate, top_k_filter
from minigpt.model import GPTOutput
from minigpt.train import train

from .freeze import freeze
from .methods import build_tuned, method_train_config
from .pairs import PairBatches
from .prefixed import PrefixedGPT, stack_slots
from .sentiment import review_example


class SteeringLoss(nn.Module):
    """One frozen base and K prefixes, prefix k for the reviews of label k.

    forward(idx, targets, attention_mask, labels) -> .loss as above, .lm (per-token LM loss under the own prefix),
    .label_loss (the cross-entropy of p(label | text)), .label_accuracy (how often the own prefix explains a review
    best). idx, targets, attention_mask: (B, T), targets -100 where nothing is scored; labels: (B,) in 0..K-1.
    The training loop (minigpt.train) reads .loss. With weight 0 and gradients on, each prefix reads only its own
    label's reviews (what training needs) and .label_loss, .label_accuracy are None; without gradients (evaluation)
    everything is computed."""

    def __init__(self, base, prefixes, weight=1.0):
        super().__init__()
        if len(prefixes) < 2:
            raise ValueError(f"steering needs at least two prefixes (one per label); got {len(prefixes)}.")
        if not weight >= 0:
            raise ValueError(f"weight={weight!r}: give a number >= 0 (0 = each prefix on its own LM loss).")
        freeze(base)
        self.base, self.weight = base, float(weight)
        self.models = nn.ModuleList(PrefixedGPT(base, p) for p in prefixes)  # share the one base

    @property
    def prefixes(self):
        return [m.prefix for m in self.models]

    def train(self, mode=True):
        super().train(mode)
        self.base.eval()  # the frozen base stays in eval mode, as in PrefixedGPT
        return self

    def review_nll(self, idx, targets, attention_mask, rows=None):
        """-> (B, K): each review's summed negative log-likelihood (its target tokens) under each prefix.
        rows: optional (K,) list of row masks; prefix k then reads only rows[k] (the other entries stay 0)."""
        per_prefix = []
        for k, model in enumerate(self.models):
            keep = rows[k] if rows is not None else torch.ones_like(targets[:, 0], dtype=torch.bool)
            logits = model(idx[keep], attention_mask=attention_mask[keep]).logits  # (b, T, V)
            token_nll = F.cross_entropy(logits.transpose(1, 2), targets[keep], ignore_index=-100,
                                        reduction="none")  # (b, T), 0 where targets is -100
            nll = token_nll.new_zeros(idx.size(0))
            nll[keep] = token_nll.sum(1)
            per_prefix.append(nll)
        return torch.stack(per_prefix, dim=1)

    def forward(self, idx, targets, attention_mask, labels, loss_only=False):
        # loss_only: accepted for the training loop; every position of a review is a target, so nothing is saved
        if labels.min() < 0 or labels.max() >= len(self.models):
            raise ValueError(f"labels must be in 0..{len(self.models) - 1} (one prefix per label); got "
                             f"{sorted(set(labels.tolist()))}.")
        n_tokens = (targets != -100).sum()
        if self.weight == 0 and torch.is_grad_enabled():
            # training with no label loss: each prefix reads its own label's reviews only (half the work of K x B)
            nll = self.review_nll(idx, targets, attention_mask, rows=[labels == k for k in range(len(self.models))])
            lm = nll.gather(1, labels[:, None]).sum() / n_tokens
            return SteeringOutput(lm, lm, None, None)
        nll = self.review_nll(idx, targets, attention_mask)  # (B, K)
        lm = nll.gather(1, labels[:, None]).sum() / n_tokens
        label_loss = F.cross_entropy(-nll, labels)  # -nll: log p(text | prefix k), the logits of p(label | text)
        accuracy = (nll.argmin(1) == labels).float().mean()
        return SteeringOutput(lm + self.weight * label_loss, lm, label_loss, accuracy)


class SteeringOutput(NamedTuple):
    loss: torch.Tensor  # what training minimizes: lm + weight * label_loss
    lm: torch.Tensor  # per-token LM loss of each review under its own label's prefix
    label_loss: torch.Tensor | None  # cross-entropy of p(label | review); None when not computed (see forward)
    label_accuracy: torch.Tensor | None  # share of reviews whose own prefix makes them likeliest


def labelled_review_batches(enc, reviews_by_split, labels, batch_size, n_tokens=100, seed=0, device="cpu",
                            part="end"):
    """get_batch(split, step) -> (x, y, attention_mask, labels): batch_size reviews of each label, so each prefix
    trains on as many reviews per step as it would trained alone.

    reviews_by_split: {"train": [(text, label), ...], "val": [...]}, e.g. data.reviews.imdb_reviews. labels: the
    label of prefix 0, 1, ... (e.g. [1, 0]: prefix 0 positive). Each review is a row of
    prefix.sentiment.review_example (its `part`); the returned labels are prefix indices."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: give a whole number >= 1 of reviews per label and batch.")
    sources = []
    for k, label in enumerate(labels):
        rows = {split: [review_example(enc, text, n_tokens, part) for text, y in reviews if y == label]
                for split, reviews in reviews_by_split.items()}
        empty = [split for split, r in rows.items() if not r]
        if empty:
            raise ValueError(f"no review of label {label!r} in split(s) {empty}.")
        # each label its own shuffle (seed * 7 + k), seeded, so a resumed run sees the same batches
        sources.append(PairBatches.from_rows(rows, batch_size, enc.eot_token, seed=seed * 7 + k, device=device))

    def get_batch(split, step):
        parts = [source(split, step) for source in sources]  # each (x, y, mask), padded to its own longest row
        width = max(x.size(1) for x, _, _ in parts)
        pad = lambda t, value: F.pad(t, (0, width - t.size(1)), value=value)  # noqa: E731
        x = torch.cat([pad(x, enc.eot_token) for x, _, _ in parts])
        y = torch.cat([pad(y, -100) for _, y, _ in parts])
        mask = torch.cat([pad(m, 0) for _, _, m in parts])
        label_ids = torch.cat([torch.full((p[0].size(0),), k, dtype=torch.long) for k, p in enumerate(parts)])
        return x, y, mask, label_ids.to(x.device)

    return get_batch


def train_steering(base, get_batch, n_prefixes, steps, lr, weight=1.0, prefix_len=10, init_ids=None, seed=0,
                   batch_size=16, eval_every=None, eval_batches=10, positions="from_zero", init_steps=300,
                   progress=True):
    """Build n_prefixes prefixes (the MLP reparameterization, each from init_ids when given) and train them
    together with the course loop and prefix-tuning's settings (prefix.methods.method_train_config).
    get_batch: labelled_review_batches (batch_size: its reviews per label). -> (SteeringLoss in eval mode, history;
    its losses are the whole loss)."""
    torch.manual_seed(seed)
    prefixes = [build_tuned(base, "prefix", prefix_len=prefix_len, init_ids=init_ids, positions=positions,
                            init_steps=init_steps).prefix for _ in range(n_prefixes)]
    model = SteeringLoss(base, prefixes, weight=weight)
    cfg = method_train_config("prefix", steps, lr, batch_size, seed, eval_every, eval_batches)
    history = train(model.train(), get_batch, cfg, progress=progress)
    return model.eval(), history


@torch.no_grad()
def steering_scores(model, get_batch, n_batches=5, split="val"):
    """-> {"lm", "label_loss", "label_accuracy", "base_lm"}: means over n_batches batches of `split`; base_lm is the
    frozen base's own LM loss on the same reviews, the line the prefixes' lm is read against."""
    totals = dict.fromkeys(("lm", "label_loss", "label_accuracy", "base_lm"), 0.0)
    was_training = model.training
    model.eval()
    for step in range(n_batches):
        x, y, mask, labels = get_batch(split, step)
        out = model(x, y, mask, labels)
        for key in ("lm", "label_loss", "label_accuracy"):
            totals[key] += getattr(out, key).item() / n_batches
        totals["base_lm"] += model.base(x, y, mask).loss.item() / n_batches
    model.train(was_training)
    return totals


class ContrastedPrefixes(nn.Module):
    """Sample as the `toward` prefix would, pushed away from the `away` prefix (the formula at the top).

    One forward pass reads each row twice, in one batch of 2B rows: rows 0..B-1 behind `toward`'s keys/values,
    rows B..2B-1 behind `away`'s. So generate() and its KV cache work unchanged: the cache holds 2B rows.

        pair = ContrastedPrefixes(base, positive_prefix, negative_prefix, alpha=2.0)
        tokens = pair.generate(idx, 60, temperature=0.9, top_k=50, generator=gen)   # idx: (B, T)
    """

    def __init__(self, base, toward, away, alpha=1.0, plausible_k=50):
        super().__init__()
        if not (isinstance(alpha, (int, float)) and not isinstance(alpha, bool) and alpha >= 0):
            raise ValueError(f"alpha={alpha!r}: give a number >= 0 (0 = plain sampling from the `toward` prefix).")
        if isinstance(plausible_k, bool) or not isinstance(plausible_k, int) or plausible_k < 1:
            raise ValueError(f"plausible_k={plausible_k!r}: give a whole number >= 1 of tokens to choose among.")
        if toward.position_offset() != away.position_offset():
            raise ValueError("the two prefixes number the real tokens differently; train them with the same positions "
                             "and P.")
        freeze(base)
        self.base, self.toward, self.away = base, toward, away
        self.alpha, self.plausible_k = float(alpha), plausible_k
        self.config = base.config

    def train(self, mode=True):
        super().train(mode)
        self.base.eval()
        return self

    def slots(self, batch_size):
        """Per layer (k, v), each (2B, H, P, D): `toward`'s for the first B rows, `away`'s for the next B."""
        return stack_slots([self.toward.slots(self.base, batch_size), self.away.slots(self.base, batch_size)])

    @torch.no_grad()
    def forward(self, idx, slots=None, pos_offset=0):
        """idx (B, T) -> GPTOutput with the contrasted logits (B, T, V) and the (2B-row) keys/values for the cache.
        slots: 2B rows (self.slots, or the cache of an earlier call)."""
        out = self.base(torch.cat([idx, idx]), slots=self.slots(idx.size(0)) if slots is None else slots,
                        pos_offset=pos_offset)
        z_toward, z_away = out.logits.chunk(2)  # (B, T, V) each
        z = z_toward + self.alpha * (z_toward - z_away)
        # keep only the tokens among `toward`'s own plausible_k likeliest, by the sampler's own top-k rule
        implausible = top_k_filter(z_toward.flatten(0, 1), self.plausible_k).isinf().view_as(z)
        return GPTOutput(z.masked_fill(implausible, float("-inf")), None, out.kv)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, **kwargs):
        """minigpt.generate with the contrasted logits (temperature, top_k, generator, stop_token as there)."""
        return generate(self, idx, max_new_tokens, slots=self.slots(idx.size(0)),
                        pos_offset=self.toward.position_offset(), **kwargs)
