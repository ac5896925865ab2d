"""Stage 3's text (data/verdicts.py): IMDB training reviews and their verdicts, never a Rotten Tomatoes sentence,
never a validation review, and in the words lesson 9 asks with."""
import csv
import re

import numpy as np
import pytest

from data import verdicts
from data.reviews import imdb_reviews, reviews_csv_path
from data.verdicts import VERDICT_CUE, VERDICT_WORDS, review_sentences, verdict_documents, verdict_stream
from minigpt.tokenizer import load_tokenizer
from prefix import sentiment

LINE = re.compile(r"^(.*) Verdict: (thumbs up|thumbs down)\.$")


@pytest.fixture(scope="module")
def docs():
    return verdict_documents()


def test_lesson_9_asks_in_the_words_the_base_read():
    assert sentiment.CUE == VERDICT_CUE and sentiment.LABEL_WORDS == VERDICT_WORDS
    assert VERDICT_WORDS[1] == "thumbs up"  # index 1 is positive, as in data/reviews.py


def test_no_rotten_tomatoes_text_and_no_validation_review(docs):
    with open(reviews_csv_path(), newline="", encoding="utf-8") as f:  # read apart from data/reviews.py
        rt = [r["text"] for r in csv.DictReader(f) if r["source"] == "rotten_tomatoes"]
    assert len(rt) == 8530
    # Rotten Tomatoes sentences are lowercased with spaces around punctuation; compare in that form, word by word.
    def words(text):
        return " ".join(re.findall(r"[a-z0-9]+", text.lower()))
    lines = {words(LINE.match(line).group(1) if LINE.match(line) else line) for doc in docs for line in doc.split("\n")}
    # Short phrases anyone writes ("this movie sucks", "thoroughly enjoyable") are in both sets by chance; a sentence
    # of 8 words or more in both would be Rotten Tomatoes text. (The reviews themselves are checked against Rotten
    # Tomatoes in tests/test_reviews_data.py; test_reviews_appear_once... checks they are those reviews.)
    assert not {words(s) for s in rt if len(words(s).split()) >= 8} & lines
    val = {text for text, _ in imdb_reviews("val")}  # the validation reviews stay unseen: no document is one
    assert not val & {doc.partition("\n")[2] if doc.startswith("Verdict:") else doc for doc in docs}


def test_every_line_of_a_page_carries_its_own_reviews_verdict(docs):
    reviews = imdb_reviews("train")
    label_of = {}
    for text, label in reviews:
        for s in review_sentences(text):
            label_of.setdefault(s, set()).add(label)
    pages = [d for d in docs if all(LINE.match(line) for line in d.split("\n"))]
    assert len(pages) == len(reviews)  # as many pages as reviews (the sentences fill them)
    checked = 0
    for page in pages[:300]:
        lines = page.split("\n")
        assert len(lines) == verdicts.LINES_PER_PAGE
        for line in lines:
            sentence, word = LINE.match(line).groups()
            assert 6 <= len(sentence.split()) <= 30
            assert VERDICT_WORDS.index(word) in label_of[sentence]
            checked += 1
    assert checked == 300 * verdicts.LINES_PER_PAGE
    labels = [VERDICT_WORDS.index(LINE.match(line).group(2)) for p in pages[:300] for line in p.split("\n")]
    assert 0.4 < np.mean(labels) < 0.6  # both verdicts, mixed on the pages


def test_reviews_appear_once_some_headed_by_their_verdict(docs):
    reviews = imdb_reviews("train")
    heads = {f"Verdict: {w}.": i for i, w in enumerate(VERDICT_WORDS)}
    review_docs = docs[:len(reviews)]
    for doc, (text, label) in zip(review_docs, reviews):
        head, _, rest = doc.partition("\n")
        if head in heads:
            assert heads[head] == label and rest == text
        else:
            assert doc == text
    headed = sum(d.partition("\n")[0] in heads for d in review_docs) / len(reviews)
    assert abs(headed - verdicts.HEADED_SHARE) < 0.02


def test_the_stream_is_the_documents_and_the_web_in_a_seeded_order():
    enc = load_tokenizer()
    reviews = imdb_reviews("train")[:300]
    a = verdict_stream(enc, 0.3, seed=1, reviews=reviews)
    assert np.array_equal(a, verdict_stream(enc, 0.3, seed=1, reviews=reviews))
    assert not np.array_equal(a, verdict_stream(enc, 0.3, seed=2, reviews=reviews))
    alone = verdict_stream(enc, 0.0, seed=1, reviews=reviews)
    assert 0.27 < 1 - len(alone) / len(a) < 0.33  # the web makes 30% of the tokens
    docs = enc.decode(alone.tolist()).split("<|endoftext|>")[:-1]
    assert sorted(docs) == sorted(verdict_documents(reviews, seed=1))  # each document whole, once
    with pytest.raises(ValueError, match="share"):
        verdict_stream(enc, 1.0, reviews=reviews)
