"""Sentiment as text: the label is a word the model writes, not a new classification head.

Classification. The model reads a sentence and a cue and should continue with a label word:

    "it 's a charming film . Verdict:"  ->  " thumbs up"   (or " thumbs down")

The cue and the words are the ones the course base read in pretraining (data/verdicts.py: review sentences, each
followed by "Verdict: thumbs up." or "Verdict: thumbs down."), so the question is asked in the base's own words, as
one asks GPT-2 with a prompt it would have met on the web. Training pairs go through prefix.pairs.encode_pair, so
the loss is on the label word only (and the <|endoftext|> after it), never on the sentence. To classify, we append
each label word to the sentence and sum the log-probabilities the model gives the word's tokens (teacher forcing):
the label with the higher total wins. One forward pass scores a whole word, so labels of several tokens work
(" thumbs up" is 4 tokens of the course tokenizer), and any model that maps (idx, attention_mask) to logits can be
asked.

Controlled generation. Pieces of positive (or of negative) IMDB reviews (review_example), each read after
<|endoftext|> (which is how every review starts in pretraining), train a "positive-review" (or
"negative-review") prefix with a language-model loss on the review text (prefix.steering trains the two).
"""
import math
import re

import torch
import torch.nn.functional as F

from .pairs import pad_inputs, pad_pairs

# The words of data/verdicts.py (tests/test_verdicts_data.py checks they agree). Index = label, as in
# data/reviews.py: 0 negative, 1 positive.
LABEL_WORDS = ("thumbs down", "thumbs up")
CUE = " Verdict:"


# -- classification ------------------------------------------------------------------------------------------

def sentiment_source(sentence):
    return sentence + CUE


def sentiment_pairs(rows):
    """(sentence, label) rows -> (source, target) text pairs for encode_pair / PairBatches."""
    return [(sentiment_source(sentence), LABEL_WORDS[label]) for sentence, label in rows]


def candidate_rows(enc, sentences, max_len=None):
    """Two rows per sentence, the source followed by each label word: rows[2*i + k] is sentence i + LABEL_WORDS[k].

    Returns (rows, spans): token id lists, and (start, end) of the label's tokens in each row. The label gets a
    leading space, as encode_pair gives targets. A source too long for max_len tokens keeps the cue and the end
    of the sentence (the words nearest the cue).
    """
    labels = [enc.encode_ordinary(" " + word) for word in LABEL_WORDS]
    cue = enc.encode_ordinary(CUE)
    room = None if max_len is None else max_len - max(len(ids) for ids in labels)
    rows, spans = [], []
    for sentence in sentences:
        src = enc.encode_ordinary(sentiment_source(sentence))  # exactly what training saw, when it fits
        if room is not None and len(src) > room:
            words = enc.encode_ordinary(sentence)
            src = words[len(words) - max(room - len(cue), 0):] + cue
        for label in labels:
            rows.append(src + label)
            spans.append((len(src), len(src) + len(label)))
    return rows, spans


def span_logprobs(logits, idx, spans):
    """(B,) sum of log p(idx[i, t] | idx[i, :t]) over t in spans[i]. The logits at t - 1 predict the token at t."""
    logp = F.log_softmax(logits.float(), dim=-1)
    return torch.stack([logp[i, a - 1:b - 1].gather(-1, idx[i, a:b, None]).sum() for i, (a, b) in enumerate(spans)])


@torch.no_grad()
def label_gaps(forward_fn, enc, sentences, batch_size=32, max_len=None, device="cpu"):
    """(N,) tensor: log p(positive word | sentence) - log p(negative word | sentence), each word's tokens summed
    (LABEL_WORDS: " thumbs up" and " thumbs down").

    forward_fn(idx, attention_mask) -> logits (B, T, V), e.g. logits_fn(model). Rows are right-padded, so real
    positions never see padding (causal attention looks only back) and the result equals scoring one by one.
    batch_size counts sentences (each gives two rows); max_len: the model's block_size, to crop long texts.
    """
    rows, spans = candidate_rows(enc, sentences, max_len)
    scores = []
    step = 2 * batch_size
    for start in range(0, len(rows), step):
        x, mask = pad_inputs(rows[start:start + step], enc.eot_token)
        x, mask = x.to(device), mask.to(device)
        scores.append(span_logprobs(forward_fn(x, mask), x, spans[start:start + step]).cpu())
    scores = torch.cat(scores).view(-1, 2)  # column k: LABEL_WORDS[k]
    return scores[:, 1] - scores[:, 0]


def classify(forward_fn, enc, sentences, batch_size=32, max_len=None, device="cpu", threshold=0.0):
    """-> predicted labels (0/1), one per sentence: 1 when the positive word is the more likely one.

    threshold: the log-probability gap a sentence must pass to count as positive. 0 compares the two words as
    they are; a model that favours one word everywhere can be calibrated by moving it.
    """
    gaps = label_gaps(forward_fn, enc, sentences, batch_size, max_len, device)
    return (gaps > threshold).long().tolist()


@torch.no_grad()
def cue_features(base, enc, sentences, batch_size=64, max_len=None, device="cpu"):
    """(N, C): the base's final hidden state (after ln_f) at the cue's last token, the place where the label word
    is predicted, one row per sentence. Rows are right-padded; the padding comes after the read position."""
    candidates, spans = candidate_rows(enc, sentences, max_len)
    rows = [row[:start] for row, (start, _) in zip(candidates[::2], spans[::2])]  # the source, cropped as classify does
    feats = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        x, mask = pad_inputs(chunk, enc.eot_token)
        x, mask = x.to(device), mask.to(device)
        hidden, _ = base.hidden_states(base.embed(x), key_mask=mask.bool())  # (B, T, C)
        last = torch.tensor([len(r) - 1 for r in chunk], device=device)
        feats.append(hidden[torch.arange(len(chunk), device=device), last].float().cpu())
    return torch.cat(feats)


def fit_probe(features, labels, l2=1e-2, steps=100):
    """A linear probe: logistic regression on fixed features (N, C), standardized, fitted by L-BFGS on the mean
    cross-entropy plus l2·|w|². -> score(features) -> (M,) logits, > 0 for "positive" (label 1).

    It asks what a frozen model's features already hold: if no linear map of them tells the labels apart, a prefix,
    which reads its answer out through the base's own output head, has little to work with."""
    y = torch.as_tensor(labels, dtype=torch.float32)
    if features.dim() != 2 or len(features) != len(y) or set(y.tolist()) - {0.0, 1.0}:
        raise ValueError(f"fit_probe needs (N, C) features and N labels of 0/1; got {tuple(features.shape)} features "
                         f"and {len(y)} labels")
    mean, std = features.mean(0), features.std(0) + 1e-6
    x = (features - mean) / std
    w = torch.zeros(x.size(1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=steps, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(x @ w + b, y) + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    w, b = w.detach(), b.detach()
    return lambda feats: ((feats - mean) / std) @ w + b


def logits_fn(model):
    """classify's forward_fn for a GPT or a PrefixedGPT (anything called as model(idx, attention_mask=...))."""
    return lambda idx, attention_mask: model(idx, attention_mask=attention_mask).logits


def rt_style(text):
    """Write a text the way the Rotten Tomatoes sentences are written, so a judge trained on them reads it in
    its own style: lowercase, punctuation and clitics split off ("It's great!" -> "it 's great !")."""
    text = " ".join(text.lower().split())
    text = re.sub(r"n't\b", " n't", text)
    text = re.sub(r"'(s|re|ve|ll|d|m)\b", r" '\1", text)
    text = re.sub(r"([.,!?;:()\"])", r" \1 ", text)
    return " ".join(text.split())


# -- pieces of reviews, for the "positive-review" and "negative-review" prefixes (prefix.steering) ---------------

REVIEW_PARTS = ("start", "end")


def review_example(enc, text, n_tokens=100, part="start"):
    """One piece of a review as an (x, y) row: x = <|endoftext|> r0 .. r(n-2), y = r0 .. r(n-1).

    part "start": the first n_tokens (how a review begins); "end": the last n_tokens (where it gives its verdict).
    The source is just <|endoftext|>, so every y position is a review token: the loss is on the review only.
    No <|endoftext|> target at the end: the text was cut there, it did not end there.
    """
    if part not in REVIEW_PARTS:
        raise ValueError(f"part={part!r}: choose one of {REVIEW_PARTS}")
    if part == "start":
        ids = enc.encode_ordinary(text[:10 * n_tokens])[:n_tokens]  # tokens average ~3 characters: 10x is plenty
    else:
        ids = enc.encode_ordinary(text[-10 * n_tokens:])[-n_tokens:]
    return [enc.eot_token] + ids[:-1], ids


@torch.no_grad()
def sample_perplexity(model, enc, texts, batch_size=32, device="cpu"):
    """The model's perplexity on texts, each read after <|endoftext|>: exp(mean negative log-likelihood per token).

    Lesson 9 asks the frozen base about samples that prefixes steered: fluent text keeps a perplexity near the one
    the base gives its own samples. Texts longer than the model's block_size keep their first tokens."""
    rows = [[enc.eot_token] + enc.encode_ordinary(t)[:model.config.block_size - 1] for t in texts]
    rows = [r for r in rows if len(r) > 1]
    if not rows:
        raise ValueError("sample_perplexity needs at least one non-empty text")
    total, count = 0.0, 0
    was_training = model.training
    model.eval()
    for start in range(0, len(rows), batch_size):
        x, y, mask = pad_pairs([(r[:-1], r[1:]) for r in rows[start:start + batch_size]], enc.eot_token)
        x, y = x.to(device), y.to(device)  # y is -100 on padding: not counted
        logits = model(x, attention_mask=mask.to(device)).logits
        total += F.cross_entropy(logits.flatten(0, 1).float(), y.flatten(), ignore_index=-100, reduction="sum").item()
        count += int((y != -100).sum())
    model.train(was_training)
    return math.exp(total / count)


# A crude second judge, transparent where the learned one is not: count words that carry sentiment.
POSITIVE_WORDS = frozenset("great excellent wonderful best love loved beautiful brilliant perfect amazing favorite "
                           "enjoyed masterpiece superb fantastic".split())
NEGATIVE_WORDS = frozenset("bad worst awful terrible boring waste stupid horrible poor worse dull lame annoying "
                           "ridiculous disappointing".split())


def sentiment_words(texts):
    """(positive, negative) sentiment words per text, averaged over the texts."""
    words = [re.findall(r"[a-z]+", t.lower()) for t in texts]
    pos = sum(w in POSITIVE_WORDS for ws in words for w in ws)
    neg = sum(w in NEGATIVE_WORDS for ws in words for w in ws)
    return pos / len(texts), neg / len(texts)
