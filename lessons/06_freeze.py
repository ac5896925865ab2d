"""Lesson 6: freeze the pretrained model, put a prefix in front, and prove the base never changes.

Run it from the repo root:

    python -m lessons.06_freeze           # about 20 seconds on a 2-core CPU
    python -m lessons.06_freeze --quick   # a few seconds

Starts from the course base (data/course_base/, shipped with the course); `--ckpt runs/04_pretrain/model.pt`
uses your own model from lesson 4 instead.
Writes runs/06_freeze/parameters.png.
"""
# %% [markdown]
# # Freezing
#
# Prefix-tuning keeps the pretrained model exactly as it is and trains only a few vectors in front of it.
# "Exactly" is a claim we can check, three ways:
#
# 1. every base weight has `requires_grad=False`, so after `backward()` its `.grad` is still `None`;
# 2. the optimizer is handed only the prefix's parameters;
# 3. after training, every base weight is bit-for-bit what it was (we compare a fingerprint of all weights,
#    the tied token embedding / output head included).
#
# One decision to make on purpose: the frozen model runs in **eval mode**. Dropout in a frozen network would
# only add noise for the prefix to learn around, and the base would no longer compute the function we
# pretrained.

# %%
import sys

if not __package__ and "ipykernel" not in sys.modules:  # run as a file: the imports below would fail
    sys.exit("run the lessons from the repository root, as modules: python -m lessons.06_freeze")


import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from data.e2e import load_e2e
from lessons.flags import lesson_parser, load_pretrained, parse_lesson_args, positive_int, start_lesson
from minigpt.checkpoint import describe_base
from minigpt.tokenizer import load_tokenizer
from minigpt.train import TrainConfig, make_optimizer, train
from prefix import PrefixedGPT, PrefixTuning, PromptTuning, count_params, fingerprint, freeze
from prefix.pairs import PairBatches

parser = lesson_parser(__doc__, base=True)
parser.add_argument("--prefix-len", type=positive_int, default=10)
args = parse_lesson_args(parser)
out_dir, device, _ = start_lesson(parser, args, "06_freeze")

base = load_pretrained(args.ckpt, device)
print(f"base: {describe_base(args.ckpt)}")
base.train()  # as if someone left it in training mode: freeze() must fix that too
report = freeze(base)
print(f"after freeze(base): {report}; base in training mode: {base.training}")

# %% [markdown]
# ## What trains, and how much of it
#
# With P = 10 the prefix holds P x n_layer x 2 x n_embd numbers: a key and a value vector per layer per slot.
# While training, the paper produces them with an MLP from P small embeddings (the reparameterization), which has
# more parameters than the matrix it makes; after training the MLP is folded into the matrix and thrown away.

# %%
cfg = base.config
prefix = PrefixTuning(cfg, args.prefix_len).to(device)
model = PrefixedGPT(base, prefix)
n_base = base.num_params()
rows = {  # trainable parameters per method
    "full fine-tuning": n_base,
    "prefix (MLP, training)": count_params(model).trainable,
    "prefix (folded, stored)": sum(p.numel() for p in prefix.folded().parameters()),
    "prompt tuning": sum(p.numel() for p in PromptTuning(cfg, args.prefix_len).parameters()),
}
for name, n in rows.items():
    print(f"{name:>24}: {n:>10,} trainable ({100 * n / n_base:6.2f}% of the base's {n_base:,})")

# %% [markdown]
# ## Train the prefix a little, then check the three claims

# %%
enc = load_tokenizer()
pairs = {s: [(r["source"], r["target"]) for r in load_e2e(s)] for s in ("train", "val")}
batches = PairBatches(enc, pairs, 8, cfg.block_size, seed=args.seed, device=device)

# claim 1: gradients reach the prefix and nothing else
loss = model(*batches("train", 0)).loss
loss.backward()
base_grads = [n for n, p in base.named_parameters() if p.grad is not None]
prefix_grads = [n for n, p in prefix.named_parameters() if p.grad is not None]
print(f"after backward(): {len(base_grads)} base tensors have a gradient, {len(prefix_grads)} prefix tensors do")
assert not base_grads and len(prefix_grads) == len(list(prefix.parameters()))
prefix.zero_grad(set_to_none=True)

# claim 2: the optimizer holds exactly the prefix's parameters
steps = 5 if args.quick else 60
train_cfg = TrainConfig(steps=steps, batch_size=8, lr=3e-3, warmup_steps=1, eval_every=0, weight_decay=0.0)
held = {id(p) for group in make_optimizer(model, train_cfg).param_groups for p in group["params"]}
print(f"the optimizer holds {len(held)} tensors; the prefix has {len(list(prefix.parameters()))}; "
      f"any of them a base weight: {bool(held & {id(p) for p in base.parameters()})}")
assert held == {id(p) for p in prefix.parameters()}

# claim 3: train, then compare every base weight
before = fingerprint(base)
snapshot = {k: v.clone() for k, v in base.state_dict().items()}
history = train(model, batches, train_cfg)
after = fingerprint(base)
changed = [k for k, v in base.state_dict().items() if not torch.equal(v, snapshot[k])]
print(f"prefix loss {history['loss'][0]:.3f} -> {history['loss'][-1]:.3f} over {steps} steps")
print(f"base fingerprint before {before}, after {after}: {'identical' if before == after else 'CHANGED'}; "
      f"tensors changed: {len(changed)}; tied head still tied: {base.lm_head.weight is base.wte.weight}")
assert before == after and not changed

# %% [markdown]
# ## The picture
#
# Trainable parameters per method, on a log scale: fine-tuning trains everything, the stored prefix is a
# fraction of a percent.

# %%
fig, ax = plt.subplots(figsize=(8, 4))
names = list(rows)
values = [rows[n] for n in names]
bars = ax.barh(names, values, color=["tab:green", "tab:cyan", "tab:blue", "tab:orange"])
ax.set_xscale("log")
ax.set_xlabel("trainable parameters (log scale)")
ax.set_title(f"What trains: a {n_base / 1e6:.1f}M-parameter frozen GPT, prefix length {args.prefix_len}")
for bar, v in zip(bars, values):
    ax.text(v * 1.1, bar.get_y() + bar.get_height() / 2, f"{v:,} ({100 * v / n_base:.2f}%)", va="center", fontsize=9)
ax.set_xlim(min(values) / 2, max(values) * 20)
ax.invert_yaxis()
fig.tight_layout()
fig.savefig(out_dir / "parameters.png", dpi=120)
print(f"wrote {out_dir / 'parameters.png'}")

# %% [markdown]
# ## Exercises
#
# Code: fill in `lessons/exercises/prefix_forward.py` (the stub says what and where to look), then grade it:
# `python -m pytest tests/exercises --exercises lessons/exercises` (solutions: `lessons/solutions/`).
#
# 1. Remove `freeze(base)` from `PrefixedGPT.__init__` (prefix/prefixed.py) and run this lesson: which claim fails
#    first, and what would the trained "prefix" file then silently depend on?
# 2. `PrefixedGPT.train()` puts the frozen base back in eval mode on purpose (prefix/prefixed.py). Give the base
#    dropout (`for m in base.modules(): if isinstance(m, torch.nn.Dropout): m.p = 0.1`), delete that
#    `self.base.eval()` line and train a prefix: how does the loss curve change, and why is eval mode the cleaner
#    choice?
# 3. Compute by hand the parameter count of the MLP reparameterization for hidden size 512 and check it against
#    the printout.
