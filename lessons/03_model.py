"""Lesson 3: the model. Where the parameters are, what the loss is before training, and two attentions that agree.

Run it from the repo root:

    python -m lessons.03_model           # under a minute
    python -m lessons.03_model --quick   # ~10 seconds: smaller batches, fewer timing repeats

Plots go to runs/03_model/ (or --out DIR). The `# %%` cells also run one by one in VS Code/Jupyter.
The code lives in minigpt/model.py (GPT, Block, MLP) and minigpt/config.py (GPTConfig, presets).
"""
# %% [markdown]
# # A GPT in four parts
#
#     token ids -> token embedding + position embedding
#               -> n_layer x Block: x + attention(LayerNorm(x)), then x + MLP(LayerNorm(x))
#               -> final LayerNorm -> output head (the token embedding again, transposed) -> logits
#
# The course model is the `tiny` preset (printed below: its layers, heads, dims and context), with the
# course tokenizer's vocabulary of 2049 tokens (2048 BPE tokens + <|endoftext|>).

# %%
import sys

if not __package__ and "ipykernel" not in sys.modules:  # run as a file: the imports below would fail
    sys.exit("run the lessons from the repository root, as modules: python -m lessons.03_model")

import math

import matplotlib

matplotlib.use("Agg")  # write PNG files; no window needed
import matplotlib.pyplot as plt
import torch

from lessons.flags import lesson_parser, parse_lesson_args, start_lesson
from minigpt import GPT, preset
from minigpt.utils import time_in_turns

parser = lesson_parser(__doc__)
args = parse_lesson_args(parser)
out_dir, device, gen = start_lesson(parser, args, "03_model")

config = preset("tiny", vocab_size=2049)
model = GPT(config).to(device)
print(config)
print(model)

# %% [markdown]
# ## Where the parameters are
#
# Per layer, with C = n_embd: attention has q, k, v and an output projection, 4·C² weights (+ 4·C
# biases); the MLP widens to 4·C and back, 8·C² (+ 5·C). So a layer is ~12·C² and the blocks grow
# with n_layer · C². The embeddings grow with the vocabulary (V·C) and the context (block_size·C).
#
# The output head is *tied* to the token embedding: the same (V, C) matrix reads a token in and scores
# every token out. Counting it once is right: there is one tensor, and one gradient updates it.

# %%
assert model.lm_head.weight is model.wte.weight  # tied: one Parameter, two uses
components = {"token embedding (tied with head)": 0, "position embedding": 0, "attention": 0, "MLP": 0,
              "LayerNorm": 0}
for name, p in model.named_parameters():  # named_parameters lists the tied matrix once, as wte.weight
    if name.startswith("wte."):
        components["token embedding (tied with head)"] += p.numel()
    elif name.startswith("wpe."):
        components["position embedding"] += p.numel()
    elif ".attn." in name:
        components["attention"] += p.numel()
    elif ".mlp." in name:
        components["MLP"] += p.numel()
    elif ".ln_" in name or name.startswith("ln_f."):
        components["LayerNorm"] += p.numel()
    else:
        raise ValueError(f"parameter {name} fits no component")
total = sum(components.values())
assert total == model.num_params(), (total, model.num_params())
C, L, V = config.n_embd, config.n_layer, config.vocab_size
formulas = {"token embedding (tied with head)": f"V·C = {V}·{C}", "position embedding": f"block·C = {config.block_size}·{C}",
            "attention": f"L·(4C²+4C), L={L}", "MLP": "L·(8C²+5C)", "LayerNorm": "(2L+1)·2C"}
print(f"\n{'component':<34}{'parameters':>12}{'share':>8}   formula")
for name, n in components.items():
    print(f"{name:<34}{n:>12,}{n / total:>8.1%}   {formulas[name]}")
print(f"{'total':<34}{total:>12,}")
assert components["attention"] == L * (4 * C * C + 4 * C) and components["MLP"] == L * (8 * C * C + 5 * C)

fig, ax = plt.subplots(figsize=(9, 4.5))
bars = ax.barh(list(components)[::-1], list(components.values())[::-1], color="tab:blue")
ax.bar_label(bars, labels=[f"{n:,} ({n / total:.0%})" for n in list(components.values())[::-1]], padding=3)
ax.set_xlabel("parameters")
ax.set_xlim(0, max(components.values()) * 1.35)
ax.set_title(f"GPT 'tiny' ({L} layers, {C} dims, vocab {V}): {total:,} parameters")
fig.tight_layout()
fig.savefig(out_dir / "param_counts.png", dpi=120)
plt.close(fig)
print(f"wrote {out_dir / 'param_counts.png'}")

# %% [markdown]
# ## The loss before any training
#
# A model that knows nothing should give every one of the V tokens probability 1/V. Its cross-entropy
# is then -ln(1/V) = ln V = ln 2049 ≈ 7.63. That is the loss to expect at step 0, and a good sanity
# check: much higher means the initialization is broken.
#
# Why GPT-2's init gets there: all weights start at N(0, 0.02). The final LayerNorm hands the head
# vectors of size ~1 per dimension, and the head's rows are 0.02-sized, so each logit is a sum of C
# small products: its spread is about 0.02·√C ≈ 0.3. Softmax of numbers that close together is nearly
# flat. (For logits with spread σ the expected loss is about ln V + σ²/2: a little above ln V.)

# %%
B = 4 if args.quick else 16
x = torch.randint(V, (B, config.block_size), generator=gen).to(device)  # CPU generator: same tokens on any device
y = torch.roll(x, -1, dims=1)  # any targets do: the untrained model knows nothing about any of them
model.eval()
with torch.no_grad():
    out = model(x, y)
sigma = out.logits.std().item()
print(f"loss at init on random tokens: {out.loss.item():.3f}")
print(f"ln V = ln {V}              : {math.log(V):.3f}")
print(f"logit spread σ = {sigma:.3f} (0.02·√C = {0.02 * math.sqrt(C):.3f}); ln V + σ²/2 = {math.log(V) + sigma**2 / 2:.3f}")
probs = out.logits.softmax(-1)
entropy = -(probs * probs.log()).sum(-1).mean().item()  # in nats; a uniform distribution over V tokens has ln V
print(f"entropy of the predicted next-token distribution: {entropy:.3f} nats (uniform: ln V = {math.log(V):.3f})")

# The same model with the token embedding (= the head) drawn from N(0, 1) instead: logits ~50x larger.
bad = GPT(config).to(device).eval()
with torch.no_grad():
    torch.nn.init.normal_(bad.wte.weight, std=1.0)
    bad_out = bad(x, y)
print(f"with N(0, 1) token embeddings: logit spread {bad_out.logits.std().item():.1f}, loss at init "
      f"{bad_out.loss.item():.1f}: confidently wrong before seeing any data")
# Where the far-right logits come from: the embedding dominates the residual stream, so the head scores the
# input token itself with e·e ≈ C. The model "predicts" that every token repeats.
repeats = (bad_out.logits.argmax(-1) == x).float().mean().item()
print(f"  its top prediction is the input token itself at {repeats:.0%} of positions")

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, o, title in [(axes[0], out, "GPT-2 init: N(0, 0.02)"), (axes[1], bad_out, "token embedding N(0, 1)")]:
    ax.hist(o.logits.flatten().float().cpu().numpy(), bins=100, color="tab:blue")
    ax.set_title(f"{title}\nloss {o.loss.item():.2f} vs ln V = {math.log(V):.2f}")
    ax.set_xlabel("logit value")
    ax.set_ylabel("count")
fig.suptitle("Logits of an untrained model on random tokens")
fig.tight_layout()
fig.savefig(out_dir / "init_logits.png", dpi=120)
plt.close(fig)
print(f"wrote {out_dir / 'init_logits.png'}")

# %% [markdown]
# ## Two attentions, one model
#
# `GPTConfig.attention` picks how attention is computed: "explicit" writes out q·kᵀ/√D, mask, softmax, ·v
# (lesson 2, readable, stores the (T, T) weights); "sdpa" calls torch's fused
# `F.scaled_dot_product_attention` (the same math in blocks, usually faster, less memory). The weights
# are the same parameters, so one state_dict loads into both. They must agree, including with extra
# key/value slots and a padding mask, and so must the gradients.

# %%
explicit = GPT(config.override(attention="explicit")).to(device)
fused = GPT(config.override(attention="sdpa")).to(device)
fused.load_state_dict(explicit.state_dict())
H, D, P = config.n_head, config.head_dim, 3
slots = [tuple(0.5 * torch.randn(B, H, P, D, device=device) for _ in range(2)) for _ in range(L)]
pad = torch.ones(B, config.block_size, dtype=torch.long, device=device)
pad[0, -20:] = 0  # the first row ends with 20 padding tokens
for label, kwargs in [("plain", {}), (f"{P} slots + padding mask", dict(slots=slots, attention_mask=pad))]:
    outs = []
    for m in (explicit, fused):
        m.zero_grad()
        o = m(x, y, **kwargs)
        o.loss.backward()
        outs.append((o, m.blocks[0].attn.qkv.weight.grad.clone()))
    (oe, ge), (of, gf) = outs
    print(f"{label:24s} max |logits diff| {(oe.logits - of.logits).abs().max():.1e}   "
          f"loss {oe.loss.item():.6f} vs {of.loss.item():.6f}   max |grad diff| {(ge - gf).abs().max():.1e}")
    torch.testing.assert_close(oe.logits, of.logits, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(ge, gf, rtol=1e-3, atol=1e-5)

# %% [markdown]
# How fast is each? One forward + backward on the batch above, the two taking turns so that any other
# load on the machine slows both alike (`python -m minigpt.bench` does this properly, with the optimizer).

# %%
reps = 3 if args.quick else 5
times = time_in_turns({"explicit": lambda: explicit(x, y).loss.backward(),
                       "sdpa": lambda: fused(x, y).loss.backward()},
                      reps, warmup=1, device=device)  # medians, the two taking turns (minigpt/utils.py)
for name, seconds in times.items():
    print(f"{name:8s}: {seconds * 1000:7.1f} ms per forward+backward ({B * config.block_size / seconds:,.0f} tokens/s)")

# %% [markdown]
# ## Exercises
#
# 1. Untie the head: after building the model, `model.lm_head.weight = torch.nn.Parameter(model.wte.weight.clone())`.
#    How many parameters does that add, and which share of the `tiny` model is it? Would you untie it
#    for a 50,257-token vocabulary?
# 2. Double n_embd (`preset("tiny", n_embd=2 * preset("tiny").n_embd)`) and, separately, double n_layer.
#    Predict each total with the formulas above before you count. Which component grows fastest?
# 3. Set every weight to N(0, 0.2) instead of N(0, 0.02) (loop over `model.parameters()`). What is the
#    loss at init now, and what does σ²/2 predict? Why would training start badly from there?
