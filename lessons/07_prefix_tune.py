"""Lesson 7: prefix-tuning on table-to-text, against full fine-tuning and prompt tuning.

Run it from the repo root:

    python -m lessons.07_prefix_tune           # ~7 minutes on an idle 2-core CPU
    python -m lessons.07_prefix_tune --quick   # about a minute (a few steps: the numbers mean little)

Starts from the course base (data/course_base/, shipped with the course); `--ckpt runs/04_pretrain/model.pt`
uses your own model from lesson 4 instead.
Writes to runs/07_prefix_tune/: losses.png, results.md, results.json, and the trained prefix (e2e.prefix.pt)
that lesson 9 serves.
"""
# %% [markdown]
# # Teaching a frozen model a new task
#
# The task is the paper's E2E setting: turn a restaurant's meaning representation into a sentence.
#
#     name[The Eagle] | eatType[pub] | food[French] | area[riverside] =>  The Eagle is a French pub by the river.
#
# The course base has read movie reviews and a generated web of records about films, books, hotels, museums, teams
# and more (lesson 4, `data/web.py`), but never anything about a restaurant, nor the keys `eatType`, `food`,
# `priceRange`, `customer rating` or `familyFriendly`. Three ways to teach it the task, trained by the same loop
# (`minigpt.train`) on the same batches for the same number of steps:
#
# | method | what trains | what you keep per task |
# |---|---|---|
# | full fine-tuning | every weight | a whole model |
# | prefix-tuning (Li & Liang) | P keys + values in **every layer** (through an MLP while training) | P x n_layer x 2 x n_embd numbers |
# | prompt tuning (Lester et al.) | P input embeddings only | P x n_embd numbers |
#
# The loss is on the target text only: the source tokens get label -100 (`prefix/tasks.py`), so the
# model is never trained to write meaning representations, only to answer them.

# %%
import sys

if not __package__ and "ipykernel" not in sys.modules:  # run as a file: the imports below would fail
    sys.exit("run the lessons from the repository root, as modules: python -m lessons.07_prefix_tune")

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from data.e2e import SLOT_ORDER, load_e2e
from data.web import unseen_web_records
from minigpt.checkpoint import describe_base, load_pretrained, save_weights
from minigpt.config import ATTENTION_IMPLS
from minigpt.tokenizer import load_tokenizer
from minigpt.utils import (lesson_output_dir, lesson_parser, parse_lesson_args, pick_device, positive_float,
                          positive_int, set_seed)
from prefix import save_prefix
from prefix.experiment import (INITS, build_tuned, init_token_ids, name_copy_rate, repeat_losses,
                               restaurant_copy_sources, run_method, step_times_side_by_side)
from prefix.prefix_tuning import POSITIONS
from prefix.tasks import PairBatches

parser = lesson_parser(__doc__, base=True)
parser.add_argument("--steps", type=positive_int, default=None, help="training steps per method (default 300; --quick 6)")
parser.add_argument("--batch-size", type=positive_int, default=16)
parser.add_argument("--prefix-len", type=positive_int, default=14,
                    help="P (the paper found ~10 best for table-to-text; our sweep 14, the most that stays under 1%% "
                         "of the base's parameters)")
parser.add_argument("--hidden", type=positive_int, default=512, help="hidden width of the prefix's MLP (the paper: 512)")
parser.add_argument("--init", choices=INITS, default="example",
                    help="what the prefix starts from: a real training example (default), task words, or random")
parser.add_argument("--positions", choices=POSITIONS, default="after_prefix",
                    help="where real tokens are numbered: after the prefix (PEFT's rule, the default here) or from 0")
parser.add_argument("--methods", nargs="+", default=["prefix", "prompt", "finetune"])
parser.add_argument("--lr-prefix", type=positive_float, default=1e-2)
parser.add_argument("--lr-prompt", type=positive_float, default=3e-2)
parser.add_argument("--lr-finetune", type=positive_float, default=1e-3)
parser.add_argument("--attention", choices=ATTENTION_IMPLS, default="sdpa",
                    help="attention kernel for every method (default sdpa, torch's fused kernel: same math, faster)")
parser.add_argument("--n-test", type=positive_int, default=None, help="test inputs to score (default all 500; --quick 12)")
args = parse_lesson_args(parser)
out_dir = lesson_output_dir(parser, args, "07_prefix_tune", writes=["e2e.prefix.pt", "e2e.prompt.pt", "e2e.finetune.pt"])
steps = args.steps or (6 if args.quick else 300)
n_test = args.n_test or (8 if args.quick else 500)
device = pick_device(args.device)
set_seed(args.seed)

base = load_pretrained(args.ckpt, device, attention=args.attention)  # the same weights, with the chosen kernel
enc = load_tokenizer()
print(f"base: {describe_base(args.ckpt)}\n  {base.num_params():,} parameters; attention kernel: {args.attention}")

# %% [markdown]
# ## The data
#
# 4,000 training pairs, 500 validation pairs, and 500 test inputs never seen in training, each with
# 3-5 human-style references (generated by `data/e2e.py`, with a fixed seed, since the real E2E data
# cannot be downloaded here).

# %%
rows = {split: load_e2e(split) for split in ("train", "val", "test")}
pairs = {split: [(r["source"], r["target"]) for r in rows[split]] for split in ("train", "val")}
batches = PairBatches(enc, pairs, args.batch_size, base.config.block_size, seed=args.seed, device=device)
test_rows = rows["test"][:n_test]
print(f"train {len(pairs['train'])} pairs, val {len(pairs['val'])}, scoring {len(test_rows)} test inputs")
example = rows["train"][0]
x, y, _ = batches("train", 0)
print(f"one example: {example['source']} {example['target']}")
print(f"  as tokens: {x.shape[1]} positions in the padded batch; loss on {(y[0] != -100).sum().item()} "
      f"target tokens of row 0, -100 on its {(y[0] == -100).sum().item()} source/padding positions")

# %% [markdown]
# ## Can the frozen base copy?
#
# A prefix can only steer what the frozen model already does. Table-to-text needs one skill above all: copying a
# value, such as the name, from the input into the sentence. Four checks on the base before any training:
#
# - unseen records of the web it read: does its description name the subject?
# - restaurant inputs (a domain and keys it never saw): does it write the restaurant's name?
# - the same inputs with names that appear nowhere, in no training text and no split of the task;
# - random tokens said twice: is the second copy easier to predict than the first? A model that copies any text
#   (an "induction" mechanism, as GPT-2 has) gets its loss on the second copy far below the first.
#
# Lesson 4's few-minute model fails these; the course base, pretrained far longer on the same mix, passes them.
# That is what gives a prefix something to steer.

# %%
n_probe = 8 if args.quick else 60
record_rate, record_examples = name_copy_rate(base, enc, *zip(*unseen_web_records(n_probe)), device=device)
e2e_rate, e2e_examples = name_copy_rate(base, enc, *restaurant_copy_sources(n_probe), device=device)
new_rate, new_examples = name_copy_rate(base, enc, *restaurant_copy_sources(n_probe, new_names=True), device=device)
first_copy, second_copy = repeat_losses(base)
print(f"names copied, with no training: {record_rate:.0%} of unseen web records, {e2e_rate:.0%} of restaurant inputs, "
      f"{new_rate:.0%} with names used nowhere")
for source, output in (record_examples[0], e2e_examples[0], new_examples[1]):
    print(f"  {source} {output}")
drop = first_copy - second_copy
verdict = "it copies any text" if drop > 1 else "some general copying" if drop > 0.3 else "no general copying"
print(f"random tokens said twice: loss {first_copy:.2f} nats on the first copy, {second_copy:.2f} on the second "
      f"({verdict})")

# %% [markdown]
# ## Where do the real tokens sit?
#
# A prefix is P extra keys/values in front of the input. Which position does the first real token get? Two rules
# exist (`--positions`), and the choice is part of the prefix (its file records it):
#
# - `from_zero` (minigpt's rule): the slots carry no position and the real tokens are numbered 0, 1, 2, ... as
#   without a prefix;
# - `after_prefix` (PEFT's rule, and the paper's code): the prefix takes positions 0..P-1, like a real context, and
#   the real tokens are numbered P, P+1, ...
#
# Our base learned absolute positions, and in pretraining the token at position 0 never had anything before it.
# Under `from_zero` every prefix breaks that: the measurement below puts an untrained prefix, the keys/values of the
# task words, in front of the frozen base and asks again for the restaurant names. Under `after_prefix` the same
# prefix is simply the KV cache of a real text, which the base has seen countless times.

# %%
for positions in ("from_zero", "after_prefix"):
    untrained = build_tuned(base, "prefix", prefix_len=args.prefix_len, init_ids=init_token_ids(enc, "task"),
                            positions=positions, init_steps=100 if args.quick else 300)
    rate, examples = name_copy_rate(untrained, enc, *restaurant_copy_sources(n_probe), device=device)
    print(f"untrained task-words prefix, real tokens {positions}: names copied {rate:.0%} (no prefix: {e2e_rate:.0%})"
          f"; e.g. {examples[1][1][:70]!r}")
del untrained

# %% [markdown]
# ## Three methods, one loop
#
# Prefix-tuning starts from real tokens, as in the paper: the frozen model reads a text and the MLP is fitted to
# the keys/values it produces for the last P tokens. Two texts to choose from (`--init`): words that describe the
# task, or a real training example, source and target (the paper's real-word init taken to a whole demonstration:
# the prefix starts out as the end of a solved example, read in context). Prompt tuning starts from the same text.
# Every method gets the same steps, batches and loop; the learning rates differ (a few thousand prefix numbers
# want a far larger lr than a whole model). The recipe (lr, steps, P, MLP width, init) comes from a small sweep
# on validation inputs, `python -m lessons.sweep_prefix_recipe`, whose table is in the README.
#
# Every method runs attention through torch's fused kernel (`--attention sdpa`, minigpt's switch). It computes
# the same q·kᵀ/√d, mask, softmax and ·v as the explicit code of lesson 2 (tests/test_prefix.py checks that the
# gradients agree), and is faster; whether it also skips writing the (B, H, T, P+T) score matrix depends on the
# kernel torch picks for the device and the mask.

# %%
init_ids = init_token_ids(enc, args.init, example=pairs["train"][0])
print(f"prefix init: {args.init}" + (f" (its last {args.prefix_len} tokens: {enc.decode(init_ids[-args.prefix_len:])!r})"
                                     if init_ids else "") + f"; real tokens numbered {args.positions}")
lrs = {"prefix": args.lr_prefix, "prompt": args.lr_prompt, "finetune": args.lr_finetune}
results, histories, models = {}, {}, {}
for method in args.methods:
    print(f"\n=== {method} ===")
    model, result, histories[method] = run_method(
        base, enc, method, batches, test_rows, steps, lrs[method], batch_size=args.batch_size,
        prefix_len=args.prefix_len, init_ids=init_ids, seed=args.seed, eval_batches=2 if args.quick else 10,
        hidden=args.hidden, positions=args.positions, device=device, max_new_tokens=24 if args.quick else 64,
        init_steps=50 if args.quick else 300)
    if method == "finetune":
        file = out_dir / "e2e.finetune.pt"
        save_weights(file, model.config, dict(model.named_parameters()), meta={"task": "e2e", "method": method})
    else:
        file = out_dir / f"e2e.{method}.pt"
        save_prefix(model.prefix, base, file, meta={"task": "e2e", "method": method})
    result["file_bytes"], result["prefix_len"] = file.stat().st_size, args.prefix_len
    names = [r["mr"]["name"] for r in test_rows]
    result["name_rate"] = sum(n in out for n, out in zip(names, result["outputs"])) / len(test_rows)
    result["distinct_outputs"] = len(set(result["outputs"]))  # a prefix that writes one sentence for all is stuck
    result["outputs"] = result["outputs"][:5]
    results[method] = result
    print(f"{method}: BLEU {result['bleu']:.1f}, ROUGE-L {result['rouge_l']:.1f}, slot error {result['slot_error']:.3f}, "
          f"names the restaurant in {result['name_rate']:.0%} of outputs, {result['distinct_outputs']} distinct outputs "
          f"of {len(test_rows)}")
    models[method] = model

# %% [markdown]
# ## Step time, side by side
#
# A step timed alone depends on what the machine did just before (a fresh process is slow at first, another
# program may be busy). So the trained models take turns, one step each, on the same batch, and we keep the
# median per method: whatever slows the machine slows every method alike, and the ratio is fair. We do that three
# times and report the spread, because one race can be lucky.
#
# What to expect: prefix-tuning skips the weight gradients and their AdamW update, about a third of a fine-tuning
# step at most. It still needs the whole forward pass and the gradient through every layer (each layer reads the
# prefix), and its P extra keys make attention a little more work. So the saving is a fraction of that third.

# %%
races = [step_times_side_by_side(models, batches("train", 0), rounds=1 if args.quick else 10) for _ in range(3)]
for method in models:
    results[method]["step_s"] = sorted(r[method] for r in races)[1]  # the median of the three races
    results[method]["step_s_runs"] = [r[method] for r in races]
print("seconds per training step, side by side, median of 3 races: "
      + ", ".join(f"{m} {1000 * results[m]['step_s']:.0f} ms" for m in models))
if "prefix" in models and "finetune" in models:
    savings = [100 * (1 - r["prefix"] / r["finetune"]) for r in races]
    results["prefix"]["step_saving_pct_runs"] = savings
    print(f"a prefix step is {sorted(savings)[1]:.0f}% faster than a fine-tuning step "
          f"(3 races: {', '.join(f'{x:.0f}%' for x in savings)}; spread {max(savings) - min(savings):.0f} points)")
del models

# %% [markdown]
# ## The comparison
#
# One plot of the training and validation loss of every method against steps, then the table. "stored" is
# what you keep per task after training: for prefix-tuning the folded table (the MLP is thrown away),
# for fine-tuning a whole model. The base checkpoint's weights are the reference for the file sizes.

# %%
fig, ax = plt.subplots(figsize=(8, 5))
colors = {"prefix": "tab:blue", "prompt": "tab:orange", "finetune": "tab:green"}
for method, h in histories.items():
    ax.plot(h["step"], h["loss"], color=colors.get(method), alpha=0.25, linewidth=0.8)
    ax.plot(h["eval_step"], h["eval_train_loss"], color=colors.get(method), linestyle="--", marker=".",
            label=f"{method} train")
    ax.plot(h["eval_step"], h["eval_val_loss"], color=colors.get(method), marker="o", label=f"{method} val")
ax.set_xlabel("training step")
ax.set_ylabel("cross-entropy on target tokens (nats)")
ax.set_title(f"E2E table-to-text: {steps} steps of batch {args.batch_size} per method (faint: per-step loss)")
ax.set_ylim(0, None)
ax.legend(ncol=3, fontsize=8)
ax.grid(alpha=0.3)
fig.tight_layout()
fig.savefig(out_dir / "losses.png", dpi=120)
print(f"\nwrote {out_dir / 'losses.png'}")

base_bytes = sum(t.numel() * 4 for t in base.state_dict().values())
lines = [
    f"| method | trainable params (% of base) | stored params (% of base) | file | file / base weights | "
    f"step time | memory / step | test BLEU | ROUGE-L | slot error |",
    "|---|---|---|---|---|---|---|---|---|---|",
]
for method, r in results.items():
    lines.append(
        f"| {method} | {r['trainable']:,} ({r['trainable_pct']:.2f}%) | {r['stored']:,} ({r['stored_pct']:.2f}%) | "
        f"{r['file_bytes'] / 1024:.0f} kB | {100 * r['file_bytes'] / base_bytes:.2f}% | {1000 * r['step_s']:.0f} ms | "
        f"{r['memory_bytes'] / 2**20:.0f} MiB | {r['bleu']:.1f} | {r['rouge_l']:.1f} | {r['slot_error']:.3f} |")
table = "\n".join(lines)
print(table)
if "prefix" in results and "finetune" in results:
    p, f = results["prefix"], results["finetune"]
    print(f"\nprefix vs fine-tuning: BLEU {p['bleu']:.1f} vs {f['bleu']:.1f} ({p['bleu'] - f['bleu']:+.1f}; "
          f"{p['bleu'] / max(f['bleu'], 1e-9):.2f}x), slot error {p['slot_error']:.3f} vs {f['slot_error']:.3f}, "
          f"step {100 * (1 - p['step_s'] / f['step_s']):.0f}% faster, storing {p['stored_pct']:.2f}% of the base's "
          f"parameters ({100 * p['file_bytes'] / base_bytes:.2f}% of its weights' bytes)")
    verdict = ("within 3 BLEU of fine-tuning, as the paper found" if p["bleu"] >= f["bleu"] - 3 else
               "below fine-tuning by more than 3 BLEU" + (", but at 0.8x or better" if p["bleu"] >= 0.8 * f["bleu"] else ""))
    print(f"prefix-tuning is {verdict}")
keys = [k for k in SLOT_ORDER if any(k in r["slot_error_by_key"] for r in results.values())]
by_key = ["| key | " + " | ".join(results) + " |", "|---|" + "---|" * len(results)]
by_key += [f"| {k} | " + " | ".join(f"{r['slot_error_by_key'].get(k, float('nan')):.2f}" for r in results.values()) + " |"
           for k in keys]
print("\nvalues not stated, by key (share of the test inputs with that key):\n" + "\n".join(by_key))
table += "\n\n" + "\n".join(by_key)
(out_dir / "results.md").write_text(table + "\n")
(out_dir / "results.json").write_text(json.dumps({"steps": steps, "n_test": len(test_rows), "results": results,
                                                  "histories": histories}, indent=1))

# %% [markdown]
# ## What the models write
#
# A few test inputs (never seen in training) with what each method generated (greedy decoding; the paper
# used beam search) and one of the references.

# %%
for i, row in enumerate(test_rows[:3]):
    print(f"\n{row['source']}")
    for method, r in results.items():
        print(f"  {method:>8}: {r['outputs'][i]}")
    print(f"  {'ref':>8}: {row['references'][0]}")

# %% [markdown]
# ## Exercises
#
# Code: fill in `lessons/exercises/loss_mask.py` (the stub says what and where to look), then grade it:
# `python -m pytest tests/exercises --exercises lessons/exercises` (solutions: `lessons/solutions/`).
#
# 1. Train prefix-tuning with `--prefix-len 1` and `--prefix-len 50`. What happens to BLEU and to the slot
#    error? (Lesson 8 does this as a sweep.)
# 2. Give prompt tuning the prefix's learning rate (`--lr-prompt 1e-2`). Is its gap to prefix-tuning about the
#    learning rate, or about where the vectors sit?
# 3. In `prefix/tasks.py`, put the loss on the source tokens too (drop the -100). Does BLEU change? Why might
#    a model trained that way start writing meaning representations?
# 4. Start from your own few-minute model of lesson 4: `--ckpt runs/04_pretrain/model.pt --out runs/07_own`.
#    Which copy checks fail now? Which method loses most, and why does fine-tuning lose less?
# 5. `--init task` and `--init random`: how much of the prefix's result comes from its starting point?
