"""Lesson 2: attention, one step at a time, and what extra key/value slots do to it.

Run it from the repo root:

    python -m lessons.02_attention           # a few seconds
    python -m lessons.02_attention --quick   # the same lesson (it is small already)

Plots go to runs/02_attention/ (or --out DIR). The `# %%` cells also run one by one in VS Code/Jupyter.
The code lives in minigpt/attention.py: scaled_dot_product_attention, causal_mask, CausalSelfAttention.
"""
# %% [markdown]
# # Attention in one line
#
#     out = softmax(q·kᵀ / √D + mask) · v
#
# Every token makes three vectors from its embedding: a *query* (what am I looking for?), a *key*
# (what do I contain?) and a *value* (what do I hand over if chosen). A query scores every key with
# a dot product, softmax turns the scores into weights that sum to 1, and the output is the
# weighted mix of the values. That is all. Below we do it by hand on 5 tokens and 1 head, print every
# intermediate, then check minigpt's functions give the same numbers.

# %%
import sys

if not __package__ and "ipykernel" not in sys.modules:  # run as a file: the imports below would fail
    sys.exit("run the lessons from the repository root, as modules: python -m lessons.02_attention")

import math

import matplotlib

matplotlib.use("Agg")  # write PNG files; no window needed
import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from lessons.flags import lesson_parser, parse_lesson_args, start_lesson
from minigpt import GPTConfig
from minigpt.attention import CausalSelfAttention, causal_mask, scaled_dot_product_attention

parser = lesson_parser(__doc__)
args = parse_lesson_args(parser)
out_dir, _, gen = start_lesson(parser, args, "02_attention", uses_device=False)
torch.set_printoptions(precision=3, sci_mode=False, linewidth=120)

# %% [markdown]
# ## Step 0: queries, keys and values
#
# Five tokens, each an embedding of C = 8 numbers (random here: the point is the arithmetic). Three
# matrices turn each embedding into a query, a key and a value of D = 4 numbers. In the real model
# these matrices are learned; `CausalSelfAttention.qkv` is all three in one Linear layer.

# %%
words = ["the", "movie", "was", "really", "good"]
T, C, D = len(words), 8, 4
x = torch.randn(T, C, generator=gen)
W_q, W_k, W_v = (torch.randn(C, D, generator=gen) / math.sqrt(C) for _ in range(3))
q, k, v = x @ W_q, x @ W_k, x @ W_v  # (T, D) each: one row per token
print(f"{T} tokens {words}, embedding C={C}, head dim D={D}")
print("q =\n", q, "\nk =\n", k, "\nv =\n", v, sep="")

# %% [markdown]
# ## Step 1: scores = q·kᵀ
#
# Row i, column j: how well query i matches key j. A (T, T) table, one row per query.

# %%
scores = q @ k.T
print("scores = q @ k.T   (rows: queries, columns: keys)\n", scores)

# %% [markdown]
# ## Step 2: divide by √D
#
# A dot product of D random numbers has a spread that grows like √D. Without the division, large heads
# would give large scores, and softmax of large numbers is nearly one-hot: one key takes all the
# weight and the gradients to the others vanish. Dividing by √D keeps the spread near 1 at any D.

# %%
scaled = scores / math.sqrt(D)
print(f"scores / sqrt({D})\n", scaled)

# %% [markdown]
# ## Step 3: the causal mask
#
# A language model predicts the next token, so token i must not see tokens after it. The mask keeps
# key j for query i only when j <= i (the lower triangle). Hidden scores become -inf, because
# exp(-inf) = 0: a hidden key gets exactly zero weight.

# %%
mask = causal_mask(T)  # (T, T) bool: True = may look
print("causal_mask(T) (1 = query may look at key)\n", mask.int())
masked = scaled.masked_fill(~mask, float("-inf"))
print("masked scores\n", masked)

# %% [markdown]
# ## Step 4: softmax, row by row
#
# exp, then divide by the row's sum: each query's weights are positive and add up to 1. The first
# token can only look at itself, so its weight on itself is exactly 1.

# %%
weights = torch.softmax(masked, dim=-1)
print("weights = softmax(masked scores)\n", weights)
print("row sums:", weights.sum(dim=-1))

# %% [markdown]
# ## Step 5: mix the values
#
# Each output row is a weighted average of the value rows: weights (T, T) @ v (T, D) -> (T, D).

# %%
by_hand = weights @ v
print("out = weights @ v\n", by_hand)

# %% [markdown]
# ## The library does the same
#
# `minigpt.attention.scaled_dot_product_attention` works on (batch B, heads H, T, D) tensors; we add the
# two leading dimensions of size 1. PyTorch's fused `F.scaled_dot_product_attention` (what
# `attention="sdpa"` uses) must agree too: the same math, computed in blocks without storing the
# (T, T) table.

# %%
q4, k4, v4 = (t[None, None] for t in (q, k, v))  # (1, 1, T, D)
lib_out, lib_weights = scaled_dot_product_attention(q4, k4, v4, mask, return_weights=True)
fused = F.scaled_dot_product_attention(q4, k4, v4, attn_mask=mask)
fused_causal = F.scaled_dot_product_attention(q4, k4, v4, is_causal=True)
for name, ours, theirs in [("weights: by hand vs minigpt", weights, lib_weights[0, 0]),
                           ("output:  by hand vs minigpt", by_hand, lib_out[0, 0]),
                           ("output:  by hand vs torch sdpa(attn_mask)", by_hand, fused[0, 0]),
                           ("output:  by hand vs torch sdpa(is_causal)", by_hand, fused_causal[0, 0])]:
    torch.testing.assert_close(ours, theirs)  # raises if they differ beyond float32 rounding
    print(f"{name}: max difference {(ours - theirs).abs().max():.1e}")

# A bigger random case, several heads and a batch, to be sure it is not luck on a 5x5 example.
qb, kb, vb = (torch.randn(2, 4, 64, 16, generator=gen) for _ in range(3))
big_mask = causal_mask(64)
diff = (scaled_dot_product_attention(qb, kb, vb, big_mask) - F.scaled_dot_product_attention(qb, kb, vb, attn_mask=big_mask))
print(f"B=2, H=4, T=64, D=16: minigpt vs torch sdpa, max difference {diff.abs().max():.1e}")

# %% [markdown]
# ## Extra key/value slots
#
# Attention does not care where keys and values come from. Put P extra (key, value) pairs in front of
# the real ones and every query can look at them. This one idea is both the KV cache (the slots are the
# keys/values of earlier tokens, lesson 5) and prefix-tuning (the slots are learned vectors).
#
# The mask grows P columns on the left, and they are visible to every query: `causal_mask(T, P)`.
# Slots carry no position and come "before" every token, so even the first token sees them.

# %%
P = 2
print(f"causal_mask(T={T}, P={P}): the first {P} columns are the slots\n", causal_mask(T, P).int())
k_slots, v_slots = torch.randn(P, D, generator=gen), torch.randn(P, D, generator=gen)
k_all, v_all = torch.cat([k_slots, k]), torch.cat([v_slots, v])  # (P+T, D): slots first
out_slots, w_slots = scaled_dot_product_attention(q4, k_all[None, None], v_all[None, None], causal_mask(T, P),
                                                  return_weights=True)
out_slots, w_slots = out_slots[0, 0], w_slots[0, 0]
print("weights with 2 slots (first 2 columns)\n", w_slots)

# %% [markdown]
# ### Plot: the weights, without and with slots
#
# Rows are queries, columns keys. Grey cells are masked (weight exactly 0). With slots, every row gives
# some weight to the slot columns, so every real key gets a little less.


# %%
def heatmap(ax, w, key_labels, title, n_slots=0):
    shown = np.ma.masked_where(w == 0, w)  # masked cells (weight exactly 0) drawn grey
    cmap = plt.get_cmap("viridis").copy()
    cmap.set_bad("lightgrey")
    im = ax.imshow(shown, cmap=cmap, vmin=0, vmax=1)
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            if w[i, j] > 0:
                ax.text(j, i, f"{w[i, j]:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if w[i, j] < 0.6 else "black")
    ax.set_xticks(range(len(key_labels)), key_labels, rotation=45, ha="right")
    ax.set_yticks(range(len(words)), words)
    ax.set_xlabel("keys (what is looked at)")
    ax.set_ylabel("queries (who is looking)")
    ax.set_title(title)
    if n_slots:
        ax.axvline(n_slots - 0.5, color="red", lw=2)  # slots | real tokens
        for label in ax.get_xticklabels()[:n_slots]:
            label.set_color("red")
    return im


fig, axes = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [T, P + T]}, layout="constrained")
heatmap(axes[0], weights.numpy(), words, "causal attention, no slots")
im = heatmap(axes[1], w_slots.numpy(), [f"slot {i}" for i in range(P)] + words,
             f"with {P} extra key/value slots (red: slot columns)", n_slots=P)
fig.colorbar(im, ax=axes, label="attention weight", shrink=0.8)
fig.suptitle("Attention weights: each row sums to 1 (grey = masked, weight 0)")
fig.savefig(out_dir / "attention_weights.png", dpi=120, bbox_inches="tight")
plt.close(fig)
print(f"wrote {out_dir / 'attention_weights.png'}")

# %% [markdown]
# ## What slots do to every query
#
# Three experiments, each compared with "no slots":
#
# 1. **random slots**: every query puts some weight on them, so *every* output row changes, the first
#    token's included.
# 2. **a masked-out slot** (its mask column False): weight exactly 0, the output is unchanged to the
#    last bit. This is how a batch hides a prefix from some rows, or ignores padding.
# 3. **a zero slot** (key 0, value 0): tempting to think of it as "nothing", but its score is q·0 = 0,
#    and exp(0) = 1, so it still takes a share of the softmax. Its value is 0, so the output shrinks:
#    out = (1 - w_zero) · out_without. A zero slot is *not* "no slot"; only the mask removes a slot.
#
# We use the real module here, `CausalSelfAttention` (2 heads, C = 8), with slots of shape (B, H, P, D)
# and a key_mask of shape (B, P+T), as the model passes them.

# %%
config = GPTConfig(n_embd=C, n_head=2, block_size=T)
attn = CausalSelfAttention(config).eval()
xb = x[None]  # (B=1, T, C)
H, Dh = config.n_head, config.head_dim
with torch.no_grad():
    y_none, _ = attn(xb)
    rand_slots = (torch.randn(1, H, P, Dh, generator=gen), torch.randn(1, H, P, Dh, generator=gen))
    y_rand, _ = attn(xb, slots=rand_slots)
    hide = torch.cat([torch.zeros(1, P, dtype=torch.bool), torch.ones(1, T, dtype=torch.bool)], dim=1)
    y_masked, _ = attn(xb, slots=rand_slots, key_mask=hide)
    zero_slots = (torch.zeros(1, H, 1, Dh), torch.zeros(1, H, 1, Dh))
    y_zero, _ = attn(xb, slots=zero_slots)

effects = {
    "random slots": (y_rand - y_none).norm(dim=-1)[0],
    "masked-out slots": (y_masked - y_none).norm(dim=-1)[0],
    "one zero slot": (y_zero - y_none).norm(dim=-1)[0],
}
print(f"\nhow much each query's output moves (L2 norm of the change), per token {words}:")
for name, change in effects.items():
    print(f"  {name:18s}", " ".join(f"{c:8.5f}" for c in change.tolist()))
assert (effects["random slots"] > 0).all(), "every query should see the slots"
assert torch.equal(y_masked, y_none), "a masked slot must change nothing"
assert (effects["one zero slot"] > 0).all(), "a zero slot still takes softmax weight"

# The zero slot's share, computed with the library function on one head: (1 - w) · out_without.
k_z, v_z = torch.cat([torch.zeros(1, 1, 1, D), k4], 2), torch.cat([torch.zeros(1, 1, 1, D), v4], 2)
out_z, w_z = scaled_dot_product_attention(q4, k_z, v_z, causal_mask(T, 1), return_weights=True)
w_zero = w_z[0, 0, :, 0]
print("\nweight each query gives the zero slot:", w_zero)
torch.testing.assert_close(out_z[0, 0], (1 - w_zero)[:, None] * by_hand)
print("out_with_zero_slot == (1 - w_zero) * out_without: True")

fig, ax = plt.subplots(figsize=(8, 4))
width = 0.27
for i, (name, change) in enumerate(effects.items()):
    ax.bar(np.arange(T) + (i - 1) * width, change.numpy(), width, label=name)
    for j, c in enumerate(change.tolist()):
        if c == 0:  # an invisible bar: say it is exactly zero
            ax.text(j + (i - 1) * width, 0.01, "0", ha="center", va="bottom", fontsize=8)
ax.set_xticks(range(T), words)
ax.set_xlabel("query (token)")
ax.set_ylabel("‖output with slots − output without‖")
ax.set_title("Extra key/value slots change every query's output; a masked slot changes nothing")
ax.legend()
fig.tight_layout()
fig.savefig(out_dir / "slot_effects.png", dpi=120)
plt.close(fig)
print(f"wrote {out_dir / 'slot_effects.png'}")

# %% [markdown]
# ## Exercises
#
# Code: fill in `lessons/exercises/attention.py` and `lessons/exercises/causal_mask.py` (the stub says what and where to look), then grade it:
# `python -m pytest tests/exercises --exercises lessons/exercises` (solutions: `lessons/solutions/`).
#
# 1. Remove the `/ √D` (pass q * math.sqrt(D) to `scaled_dot_product_attention`) with D = 256 random
#    vectors. Print the largest weight in each row. What happens to the softmax, and what would that do
#    to the gradients of the keys that get ~0 weight?
# 2. Make slot 0's key a large multiple of the query of "was" (`k_slots[0] = 5 * q[2]`) and re-plot. Which
#    query looks at the slot most? This is how a learned prefix can steer chosen tokens.
# 3. Is there any *finite* key that makes a slot change nothing? (Hint: what score would it need?) Then
#    explain why prefix code must use the key mask, not zeros, to switch a prefix off for some rows.
