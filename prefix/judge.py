"""An independent sentiment judge: logistic regression on a bag of words, fitted to the IMDB training labels.

Lesson 9 asks whether a steering prefix makes the frozen model write positive (or negative) reviews. A judge that
is itself a prefix of the same base shares the base's blind spots: when the base cannot tell sentiment, neither
can its judge, and a failed judge hides a working prefix (or the other way round). This judge shares nothing
with the model it judges. It sees only which words and word pairs a text contains:

    features(text)  = 1 for every word and pair of words of the vocabulary the text contains, the row scaled to
                      length 1 (a long review does not shout louder than a short one)
    p(positive)     = sigmoid(features . weight + bias)

and it is fitted by full-batch Adam on the mean cross-entropy plus a small L2 penalty, on the 23,903 IMDB training
reviews (data/reviews.py; the course base read their text but never their labels, and the judge never reads
anything else). It scores about 88% on the 1,000 validation reviews (tests/test_judge.py checks >= 85%).
"""
from __future__ import annotations

import collections
import re
import warnings
from dataclasses import dataclass

import torch

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def words_and_pairs(text: str) -> list[str]:
    """The judge's tokens: lowercase words, and each pair of neighbouring words ("not good" is not "good")."""
    words = _WORD.findall(text.lower())
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


@dataclass
class BagOfWordsJudge:
    vocab: dict[str, int]  # word or word pair -> feature index
    weight: torch.Tensor   # (V,) float32: what each feature says about the label (> 0: positive)
    bias: float

    @classmethod
    def fit(cls, texts, labels, min_count: int = 5, max_features: int = 50_000, steps: int = 150, lr: float = 0.5,
            l2: float = 1e-5) -> "BagOfWordsJudge":
        """Fit to (texts, labels), labels 1 = positive. The same texts give the same judge (full batch, no sampling).

        The vocabulary: the max_features commonest words and pairs that occur in at least min_count texts."""
        if len(texts) != len(labels) or not texts:
            raise ValueError(f"fit needs as many labels as texts, and some texts; got {len(texts)} texts, "
                             f"{len(labels)} labels")
        if set(labels) - {0, 1}:
            raise ValueError(f"labels are 0 (negative) or 1 (positive); got {sorted(set(labels) - {0, 1})[:5]}")
        counts = collections.Counter()
        tokens = [set(words_and_pairs(t)) for t in texts]
        for toks in tokens:
            counts.update(toks)
        kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))[:max_features]
        judge = cls(vocab={w: i for i, w in enumerate(kept)}, weight=torch.zeros(len(kept)), bias=0.0)
        x = judge._features(tokens)                                      # (N, V) sparse rows
        with warnings.catch_warnings():  # "sparse CSR support is in beta": the two products used here are tested
            warnings.simplefilter("ignore", UserWarning)
            xt, x = x.t().to_sparse_csr(), x.to_sparse_csr()             # (V, N) for the gradient; (N, V)
        y = torch.tensor(labels, dtype=torch.float32)                    # (N,)
        w, b = torch.zeros(len(kept)), torch.zeros(1)
        opt = torch.optim.Adam([w, b], lr=lr)
        for _ in range(steps):  # the gradient of mean cross-entropy + l2·|w|², written out (no autograd needed)
            error = torch.sigmoid(_times(x, w) + b) - y                  # (N,) p(positive) - label
            w.grad = _times(xt, error) / len(y) + 2 * l2 * w
            b.grad = error.mean().view(1)
            opt.step()
        judge.weight, judge.bias = w, b.item()
        return judge

    def _features(self, token_sets) -> torch.Tensor:
        """(N, V) sparse rows: 1 for each vocabulary token of the text, scaled so that each row has length 1."""
        rows, cols = [], []
        for i, toks in enumerate(token_sets):
            ids = sorted(self.vocab[t] for t in toks if t in self.vocab)
            rows += [i] * len(ids)
            cols += ids
        n_per_row = torch.bincount(torch.tensor(rows, dtype=torch.long), minlength=len(token_sets)).clamp(min=1)
        values = n_per_row[torch.tensor(rows, dtype=torch.long)].float().rsqrt() if rows else torch.zeros(0)
        return torch.sparse_coo_tensor(torch.tensor([rows, cols], dtype=torch.long).view(2, -1), values,
                                       (len(token_sets), len(self.vocab)), check_invariants=True).coalesce()

    def positive_probability(self, texts) -> torch.Tensor:
        """(N,) p(positive) for each text. A text with no word of the vocabulary gets sigmoid(bias)."""
        x = self._features([set(words_and_pairs(t)) for t in texts])
        return torch.sigmoid(_times(x, self.weight) + self.bias)

    def predict(self, texts) -> list[int]:
        """1 (positive) or 0 (negative) for each text."""
        return (self.positive_probability(texts) > 0.5).long().tolist()

    def strongest_words(self, k: int = 8) -> tuple[list[str], list[str]]:
        """The k features that say "positive" most strongly, and the k that say "negative"."""
        order = self.weight.argsort()
        words = list(self.vocab)
        return [words[i] for i in order[-k:].flip(0).tolist()], [words[i] for i in order[:k].tolist()]



def _times(matrix, vector):
    """A sparse (N, V) matrix times a dense (V,) vector -> (N,)."""
    return (matrix @ vector[:, None]).squeeze(1)
