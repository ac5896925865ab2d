"""Lesson 5: generating text. Temperature, top-k, and the KV cache (the first use of extra key/value slots).

Run it from the repo root (it samples from the course base; `--ckpt` picks another model):

    python -m lessons.05_generate           # a couple of minutes
    python -m lessons.05_generate --quick   # under a minute: fewer, shorter samples and timings

    python -m lessons.05_generate --ckpt runs/04_pretrain/model.pt   # your own model of lesson 4

Generating one token at a time is many tiny operations, and torch's threads spinning while they wait for a busy
core can make each one many times slower; the lessons set OMP_WAIT_POLICY=PASSIVE for you (lessons/__init__.py)
so waiting threads sleep instead.

Plots go to runs/05_generate/ (or --out DIR). The `# %%` cells also run one by one in VS Code/Jupyter.
The code lives in minigpt/generate.py (generate, sample_next) and minigpt/checkpoint.py (load_model).
"""
# %% [markdown]
# # From a next-token distribution to text
#
# The model gives, for the last position, one logit per token. Generating is a loop: turn the logits
# into probabilities, pick a token, append it, run the model again. Two knobs shape the pick:
#
# - **temperature** divides the logits before softmax. Below 1 the distribution gets sharper (0 =
#   always the most likely token, "greedy"), above 1 flatter (more surprising, more mistakes).
# - **top-k** keeps only the k most likely tokens and renormalizes: the long tail of unlikely tokens,
#   each rare but many together, can no longer derail the text.

# %%
import sys

if not __package__ and "ipykernel" not in sys.modules:  # run as a file: the imports below would fail
    sys.exit("run the lessons from the repository root, as modules: python -m lessons.05_generate")


import matplotlib

matplotlib.use("Agg")  # write PNG files; no window needed
import matplotlib.pyplot as plt
import torch
from tqdm import tqdm

from lessons.flags import lesson_parser, load_pretrained, parse_lesson_args, start_lesson
from minigpt import generate
from minigpt.checkpoint import describe_base
from minigpt.tokenizer import load_tokenizer
from minigpt.utils import time_in_turns

parser = lesson_parser(__doc__, base=True)
args = parse_lesson_args(parser)
out_dir, device, _ = start_lesson(parser, args, "05_generate")

model = load_pretrained(args.ckpt, device)  # eval mode: no dropout while sampling
enc = load_tokenizer()
config = model.config
if config.vocab_size != enc.n_vocab:
    raise SystemExit(f"{args.ckpt} has a {config.vocab_size}-token vocabulary, the course tokenizer {enc.n_vocab}: "
                     f"was it trained with another tokenizer?")
print(f"base: {describe_base(args.ckpt)}\n  {model.num_params():,} parameters, block_size {config.block_size}")
EOT = enc.eot_token  # 2048: separates documents; starting with it says "a new review begins here"


def encode(text):
    return torch.tensor([[EOT] + enc.encode_ordinary(text)], device=device)


def decode(ids):
    ids = ids.tolist()
    text = enc.decode(ids[:ids.index(EOT)] if EOT in ids else ids)  # stop at the end of the document
    return text.replace("\n", "⏎")  # one line per sample, line breaks still visible


def seeded():
    """A fresh generator with the lesson's seed: the same call then gives the same text, every run."""
    return torch.Generator(device=device).manual_seed(args.seed)


# %% [markdown]
# ## What temperature and top-k do to one distribution

# %%
prompt = "This movie was"
idx = encode(prompt)
with torch.no_grad():
    logits = model(idx).logits[0, -1]  # (V,) scores for the token after the prompt
top = torch.topk(logits, 12).indices
labels = [repr(enc.decode([i])) for i in top.tolist()]
temperatures = (0.5, 1.0, 1.5)
fig, ax = plt.subplots(figsize=(11, 4.5))
width = 0.2
print(f"next token after {prompt!r}:")
for n, temp in enumerate(temperatures):
    probs = torch.softmax(logits / temp, dim=-1)
    entropy = -(probs * probs.clamp_min(1e-12).log()).sum().item()
    print(f"  temperature {temp}: top token {labels[0]} p={probs[top[0]]:.3f}, the 12 shown hold "
          f"{probs[top].sum():.0%}, entropy {entropy:.2f} nats")
    ax.bar(torch.arange(12) + (n - 1.5) * width, probs[top].cpu(), width, label=f"temperature {temp}")
k = 5
kept = torch.softmax(logits.masked_fill(logits < logits[top[k - 1]], float("-inf")), dim=-1)  # what top_k=5 does
ax.bar(torch.arange(12) + 1.5 * width, kept[top].cpu(), width, label=f"temperature 1, top-k {k}", color="grey")
print(f"  top-k {k}: the {k} best share all the probability, every other token gets exactly 0")
ax.set_xticks(range(12), labels, rotation=30)
ax.set_xlabel(f"the 12 most likely next tokens after {prompt!r}")
ax.set_ylabel("probability")
ax.set_title("Temperature sharpens (<1) or flattens (>1) the distribution; top-k cuts its tail")
ax.legend()
fig.tight_layout()
fig.savefig(out_dir / "temperature.png", dpi=120)
plt.close(fig)
print(f"wrote {out_dir / 'temperature.png'}")

# %% [markdown]
# ## Samples
#
# `generate` runs the loop (with the KV cache, below). Each sample gets a fresh generator seeded with
# --seed, so a run is reproducible: the same settings always print the same text. Greedy (temperature 0)
# needs no randomness, and often loops on a phrase: the most likely next token is rarely the most
# likely *text*.

# %%
settings = [(0.0, None), (0.8, None), (1.0, 40)] if args.quick else \
    [(0.0, None), (0.5, None), (0.8, None), (1.0, None), (1.0, 40), (1.5, None), (1.5, 40)]
prompts = ["This movie was"] if args.quick else ["This movie was", "The acting"]
new_tokens = 30 if args.quick else 80
for text in prompts:
    print(f"\n=== {text!r}, {new_tokens} new tokens")
    for temp, top_k in settings:
        out = generate(model, encode(text), new_tokens, temperature=temp, top_k=top_k, generator=seeded(),
                       stop_token=EOT)
        print(f"--- temperature {temp}, top_k {top_k}:\n{decode(out[0, 1:])}")
twice = [generate(model, encode(prompts[0]), new_tokens, temperature=1.0, top_k=40, generator=seeded()) for _ in range(2)]
print(f"\nsame seed, same sample twice: {torch.equal(*twice)}")

# %% [markdown]
# ## The KV cache: extra key/value slots, again
#
# Without a cache, every step runs the model on the *whole* text so far, although only the last position
# is new: the keys and values of earlier tokens are computed again and again. Every forward pass returns
# the keys/values each layer used (`GPTOutput.kv`). Feed them back as `slots` (lesson 2's extra
# key/value slots) with `pos_offset` = tokens already cached, and the next step processes one token.
#
# Same math, so the same tokens: greedy generation with and without the cache must match exactly.
# (Past block_size the positions run out, and `generate` falls back to recomputing on the last
# block_size tokens, so we stay inside it.)

# %%
idx = encode("The acting")
n_new = 40 if args.quick else config.block_size - idx.size(1)  # at most fill the context: the cache is used on every step
cached = generate(model, idx, n_new, temperature=0, use_cache=True)
recomputed = generate(model, idx, n_new, temperature=0, use_cache=False)
print(f"greedy, {n_new} tokens: cached == recomputed: {torch.equal(cached, recomputed)}")
assert torch.equal(cached, recomputed)

# The logits of one step, both ways: equal up to float rounding (the sums run in another order).
with torch.no_grad():
    t = idx.size(1) + 20
    full = model(cached[:, :t + 1]).logits[:, -1]
    cache = model(cached[:, :t]).kv  # the keys/values of the first t tokens
    step = model(cached[:, t:t + 1], slots=cache, pos_offset=t).logits[:, -1]
print(f"logits at position {t}: max |cached - recomputed| = {(full - step).abs().max():.1e}")

# %% [markdown]
# ## What the cache saves
#
# Per step, recomputation pays for all t tokens so far; the cache pays for one token (plus reading the
# t cached keys, a small cost). We time both kinds of step at several lengths, each the median of a
# few repeats after a warm-up, then whole `generate` calls.

# %%
n_points = 4 if args.quick else 10
lengths = sorted({round(8 + i * (config.block_size - 8) / (n_points - 1)) for i in range(n_points)})
reps = 5 if args.quick else 9
ids = generate(model, idx, config.block_size - idx.size(1), temperature=0)  # (1, block_size) text to time on


step_ms = {"recomputed": [], "cached": []}
with torch.no_grad():
    for _ in range(3):  # warm-up: the first calls of a new shape allocate memory and pick kernels
        model(ids[:, :8]), model(ids[:, 8:9], slots=model(ids[:, :8]).kv, pos_offset=8)
    for t in tqdm(lengths, desc="timing one step at each length"):
        kv = model(ids[:, :t - 1]).kv
        seconds = time_in_turns({"recomputed": lambda: model(ids[:, :t]),  # medians, the two taking turns (minigpt/utils.py)
                        "cached": lambda: model(ids[:, t - 1:t], slots=kv, pos_offset=t - 1)}, reps, device=device)
        for name, s in seconds.items():
            step_ms[name].append(1000 * s)
for t, r, c in zip(lengths, step_ms["recomputed"], step_ms["cached"]):
    print(f"  length {t:4d}: recomputed {r:7.2f} ms, cached {c:6.2f} ms per new token ({r / c:4.1f}x)")

n_gen = 48 if args.quick else n_new
seconds = time_in_turns({name: (lambda c=use_cache: generate(model, idx, n_gen, temperature=0, use_cache=c))
                for name, use_cache in (("cached", True), ("recomputed", False))}, 2 if args.quick else 3, device=device)
tok_s = {name: n_gen / s for name, s in seconds.items()}
for name, rate in tok_s.items():
    print(f"generate {n_gen} tokens, {name:10s}: {rate:7.1f} tokens/s")
print(f"speed-up from the cache: {tok_s['cached'] / tok_s['recomputed']:.1f}x "
      f"(it grows with the length: recomputation costs ~t per step, the cache ~1)")

fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [2, 1]})
for name, style in (("recomputed", "o-"), ("cached", "s-")):
    axes[0].plot(lengths, step_ms[name], style, label=name)
axes[0].set_xlabel("sequence length t (tokens so far)")
axes[0].set_ylabel("ms to produce the next token")
axes[0].set_title("Time per new token vs length")
axes[0].set_ylim(bottom=0)
axes[0].legend()
bars = axes[1].bar(list(tok_s), list(tok_s.values()), color=["tab:orange", "tab:blue"])
axes[1].bar_label(bars, fmt="%.0f")
axes[1].set_ylabel("tokens/s")
axes[1].set_title(f"generate({n_gen} tokens), greedy")
threads = torch.get_num_threads()
fig.suptitle(f"KV cache vs recomputation ({device}, {threads} thread{'s' if threads > 1 else ''})")
fig.tight_layout()
fig.savefig(out_dir / "kv_cache_timing.png", dpi=120)
plt.close(fig)
print(f"wrote {out_dir / 'kv_cache_timing.png'}")

# %% [markdown]
# ## Exercises
#
# Code: fill in `lessons/exercises/top_k.py` and `lessons/exercises/kv_cache.py` (the stub says what and where to look), then grade it:
# `python -m pytest tests/exercises --exercises lessons/exercises` (solutions: `lessons/solutions/`).
#
# 1. Generate 300 tokens with and without the cache and time both. Why does the speed-up shrink after
#    block_size tokens? (Read the top of minigpt/generate.py: what would relative positions change?)
# 2. Sample 20 continuations of "This movie was" at temperature 0.5, 1.0 and 1.5 (different seeds) and
#    count how often the first new word is " not". Compare with the probability from the first plot.
# 3. Implement top-p (nucleus) sampling: keep the smallest set of tokens whose probabilities sum to p.
#    Check that with p = 1 it samples like plain temperature sampling with the same generator.
