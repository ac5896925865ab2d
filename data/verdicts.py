"""Verdicts: IMDB text that says, in words, whether it likes the film. Stage 3 of the course base reads it.

GPT-2 could tell a positive sentence from a negative one before anyone tuned it, because the web it read is full
of opinions with a verdict beside them: star ratings, "thumbs up", "Rating: 2/10". Our base read 24k IMDB reviews
with nothing that says which way each one went, so a sentiment prefix had little to steer (lesson 9: its frozen
features gave a linear probe 0.63 on Rotten Tomatoes). Stage 3 gives it what the web gave GPT-2, in two kinds of
document, both made of the IMDB *training* reviews and their labels:

    Verdict: thumbs up.                               a review headed by its verdict (a share of the reviews;
    I loved this film from the first scene ...        the rest stay as they were)

    The acting is wooden and the plot a mess. Verdict: thumbs down.     a "blurb page": 8 sentences of reviews,
    A wonderful, moving film. Verdict: thumbs up.                       each followed by its review's verdict
    ...

The sentence lines are the form lesson 9 asks in: a sentence, the cue " Verdict:", the answer. Rotten Tomatoes
sentences never appear (they are lesson 9's task; tests/test_verdicts_data.py checks), and the sentences come from
reviews the lessons never test on. The words are a verdict a reader would write, not the task's labels: lesson 9
asks the base in its own words (prefix.sentiment.CUE and LABEL_WORDS are these).
"""
from __future__ import annotations

import random
import re

import numpy as np

from .reviews import imdb_reviews
from .web import web_tokens

VERDICT_CUE = " Verdict:"
VERDICT_WORDS = ("thumbs down", "thumbs up")  # index = label: 0 negative, 1 positive (data/reviews.py)
HEADED_SHARE = 0.4     # share of the reviews headed by their verdict
LINES_PER_PAGE = 8     # sentences on a blurb page
SENTENCE_WORDS = (6, 30)  # a blurb is a sentence of this many words (shorter ones say little; longer ones are lists)

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def verdict(label: int) -> str:
    """"Verdict: thumbs up." (label 1) or "Verdict: thumbs down." (label 0)."""
    return f"{VERDICT_CUE.strip()} {VERDICT_WORDS[label]}."


def review_sentences(text: str) -> list[str]:
    """The sentences of a review with SENTENCE_WORDS words, on one line each (line breaks become spaces)."""
    lo, hi = SENTENCE_WORDS
    sentences = (" ".join(s.split()) for s in _SENTENCE_END.split(text))
    return [s for s in sentences if lo <= len(s.split()) <= hi]


def verdict_documents(reviews=None, seed: int = 0) -> list[str]:
    """Every review once (HEADED_SHARE of them headed by their verdict), then as many blurb pages as there are
    reviews, or as the sentences fill: the documents of stage 3, in this order (the stream shuffles them).
    reviews: (text, label) pairs, default the IMDB training reviews. The same seed gives the same documents."""
    reviews = imdb_reviews("train") if reviews is None else reviews
    rng = random.Random(seed)
    docs = [f"{verdict(label)}\n{text}" if rng.random() < HEADED_SHARE else text for text, label in reviews]
    lines = [f"{s} {verdict(label)}" for text, label in reviews for s in review_sentences(text)]
    rng.shuffle(lines)  # a page mixes sentences of many reviews, of both labels
    n_pages = min(len(reviews), len(lines) // LINES_PER_PAGE)
    docs += ["\n".join(lines[i * LINES_PER_PAGE:(i + 1) * LINES_PER_PAGE]) for i in range(n_pages)]
    return docs


def verdict_stream(encoding, web_share: float, seed: int = 0, listings: float = 0.5, reviews=None,
                   prose: float = 0.0, everyday: float = 0.0):
    """The training stream of stage 3 (uint16): verdict_documents, plus web documents (data/web.py, `listings` of
    them listings) that make `web_share` of it, each document followed by <|endoftext|>, in a seeded order.
    Mixing the documents, not appending the web at the end, keeps the reviews and the web side by side in every
    part of the stream (the batches draw random windows, so this matters for the reader, not for training)."""
    if not 0 <= web_share < 1:
        raise ValueError(f"the web's share of the training text must be 0 <= share < 1; got {web_share}")
    eot = encoding.eot_token
    docs = [np.asarray(ids + [eot], dtype=np.uint16)
            for ids in encoding.encode_ordinary_batch(verdict_documents(reviews, seed=seed))]
    n_text = sum(len(d) for d in docs)
    if web_share:
        web = web_tokens(encoding, round(n_text * web_share / (1 - web_share)), seed=1000 + seed, listings=listings,
                         prose=prose, everyday=everyday)
        ends = np.flatnonzero(web == eot) + 1
        docs += np.split(web, ends[:-1])
    order = np.random.default_rng(seed).permutation(len(docs))
    return np.concatenate([docs[i] for i in order])
