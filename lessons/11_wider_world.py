"""Lesson 11: your prefix in the wider world: the course base as a transformers GPT-2, your prefix as a PEFT adapter.

Run it from the repo root, after installing the optional packages once:

    pip install -r requirements-hf.txt          # transformers, peft, safetensors (pinned)
    python -m lessons.11_wider_world            # about 5 minutes on an idle 2-core CPU
    python -m lessons.11_wider_world --quick    # under a minute

Starts from the course base (data/course_base/); uses lesson 7's table-to-text prefix,
runs/07_prefix_tune/e2e.prefix.pt (`--e2e-prefix PATH`); without it a small one is trained here first.
Writes to runs/11_wider_world/: gpt2/ (the base as GPT-2), e2e_adapter/ (the prefix as a PEFT adapter),
tokenizer/ (tokenizer.json), positions.png and results.json. Nothing is fetched from a hub.
"""
# %% [markdown]
# # Your prefix in the wider world
#
# After this course you will prefix-tune real models with Hugging Face `transformers` and `peft`. This lesson is the
# bridge, and the strongest check the course has: code nobody here wrote must compute the same numbers.
#
# 1. the course base exported as a `GPT2LMHeadModel` folder, loaded back by `from_pretrained`;
# 2. the course tokenizer as a `tokenizer.json` that `PreTrainedTokenizerFast` loads: the same ids;
# 3. lesson 7's prefix as a PEFT `PrefixTuning` adapter: the same greedy text as minigpt;
# 4. what each PEFT config field is called in the course;
# 5. does the rule for positions matter? The same prefix trained under each rule, BLEU side by side.

# %%
import sys

if not __package__ and "ipykernel" not in sys.modules:  # run as a file: the imports below would fail
    sys.exit("run the lessons from the repository root, as modules: python -m lessons.11_wider_world")

import json
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from data.e2e import load_e2e
from minigpt.checkpoint import describe_base
from minigpt.files import write_text_atomic
from minigpt.tokenizer import load_tokenizer
from minigpt.utils import RUNS_DIR
from prefix import PrefixedGPT, load_prefix
from prefix.methods import init_token_ids, run_method
from prefix.pairs import PairBatches

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # every folder here is local; never reach a hub
try:
    import peft
    import transformers
except ImportError:
    sys.exit("lesson 11 needs the optional packages transformers, peft and safetensors. Install them once with\n"
             "    pip install -r requirements-hf.txt\nthen run this lesson again.")
from minigpt.hf import export_gpt2, export_tokenizer  # noqa: E402 (after the check, which says how to install
from prefix.peft_export import export_peft, peft_config  # noqa: E402
from lessons.flags import add_run_size_flags, lesson_parser, load_pretrained, parse_lesson_args, resolve, start_lesson

E2E_PREFIX = RUNS_DIR / "07_prefix_tune" / "e2e.prefix.pt"
parser = lesson_parser(__doc__, base=True)
parser.add_argument("--e2e-prefix", default=str(E2E_PREFIX), help="lesson 07's table-to-text prefix")
add_run_size_flags(parser, steps=(300, 4), n_test=(200, 4), what_steps="steps of each prefix in the positions study")
args = parse_lesson_args(parser)
out_dir, device, _ = start_lesson(parser, args, "11_wider_world")
steps, n_test = resolve(args, "steps"), resolve(args, "n_test")

base = load_pretrained(args.ckpt, device)
enc = load_tokenizer()
print(f"base: {describe_base(args.ckpt)}\ntransformers {transformers.__version__}, peft {peft.__version__}")
test_rows = load_e2e("test")[:n_test]
rows = {split: load_e2e(split) for split in ("train", "val")}
pairs = {split: [(r["source"], r["target"]) for r in rows[split]] for split in rows}

trained = {}  # positions rule -> (model, scores): part 5 trains one prefix per rule; part 3 may reuse one


def train_e2e_prefix(rule):
    """Lesson 7's prefix recipe (P = 14, real-example init, lr 1e-2) under one rule for positions, trained once."""
    if rule not in trained:
        print(f"\n=== prefix, positions {rule} ({steps} steps) ===")
        batches = PairBatches(enc, pairs, 16, base.config.block_size, seed=args.seed, device=device)
        model, result, _ = run_method(
            base, enc, "prefix", batches, test_rows, steps, 1e-2, prefix_len=14,
            init_ids=init_token_ids(enc, "example", pairs["train"][0]), seed=args.seed, positions=rule,
            measure=False, init_steps=20 if args.quick else 300, max_new_tokens=24 if args.quick else 64,
            eval_every=steps if args.quick else None, eval_batches=2 if args.quick else 10)
        trained[rule] = model.eval(), {k: result[k] for k in ("bleu", "rouge_l", "attribute_error", "final_val_loss")}
    return trained[rule]


# %% [markdown]
# ## 1. The course base as GPT-2
#
# minigpt's GPT is GPT-2's architecture. `minigpt.hf.export_gpt2` renames the weights (and transposes four matrices
# per block: GPT-2 stores its linear layers as `Conv1D`, the transpose of `nn.Linear`), builds a `GPT2Config`
# here (no hub), and writes `config.json` + `model.safetensors`.

# %%
gpt2_dir = export_gpt2(base, out_dir / "gpt2")
hf_base = transformers.GPT2LMHeadModel.from_pretrained(gpt2_dir, local_files_only=True).to(device).eval()
idx = torch.tensor([enc.encode_ordinary(test_rows[0]["source"])], device=device)
with torch.no_grad():
    diff = (base(idx).logits - hf_base(idx).logits).abs().max().item()
print(f"\nwrote {gpt2_dir}: {', '.join(sorted(p.name for p in gpt2_dir.iterdir()))}")
print(f"max |logits(minigpt) - logits(GPT2LMHeadModel)| on one input: {diff:.1e} (float32)")

# %% [markdown]
# ## 2. The tokenizer as tokenizer.json
#
# Our byte-level BPE (lesson 1) has the same parts as GPT-2's: a pre-split pattern (GPT-2's), 2,048 ranked tokens,
# and <|endoftext|>. `minigpt.hf.export_tokenizer` writes them in the `tokenizers` library's format; the merges
# are recovered from the ranks (each token is the merge of the two older tokens that BPE makes it from).

# %%
tok_dir = export_tokenizer(enc, out_dir / "tokenizer")
fast = transformers.PreTrainedTokenizerFast.from_pretrained(tok_dir, local_files_only=True)
texts = [f"{r['source']} {r['target']}" for r in load_e2e("train")[:200]] + [r["source"] for r in test_rows]
same = sum(fast(t)["input_ids"] == enc.encode_ordinary(t) for t in texts)
print(f"\nwrote {tok_dir / 'tokenizer.json'}; the same ids as the course tokenizer on {same}/{len(texts)} E2E texts")

# %% [markdown]
# ## 3. Lesson 7's prefix as a PEFT adapter
#
# A prefix file holds the folded matrix: P rows of every layer's key and value. PEFT's `PrefixTuning` without its
# projection stores exactly that, in the same layout, as `prompt_embeddings`. PEFT numbers the real tokens after the
# prefix, so a prefix trained with `positions="after_prefix"` (lesson 7's default) exports exactly; one trained
# `from_zero` would mean something else there, and `export_peft` warns.

# %%
e2e_path = Path(args.e2e_prefix)
prefix = None
if e2e_path.is_file():
    try:
        prefix = load_prefix(e2e_path, base)
    except ValueError as e:  # made for another base
        print(f"\n{e}")
if prefix is None or prefix.positions != "after_prefix":
    print(f"\nno after-prefix table-to-text prefix at {e2e_path} (make one with `python -m lessons.07_prefix_tune`); "
          f"training one here ({steps} steps), the after-prefix run of part 5")
    prefix = train_e2e_prefix("after_prefix")[0].prefix.folded()
adapter_dir = export_peft(prefix, out_dir / "e2e_adapter", base_model_folder=gpt2_dir)
adapted = peft.PeftModel.from_pretrained(hf_base, adapter_dir, local_files_only=True).eval()
ours = PrefixedGPT(base, prefix).eval()
print(f"\nwrote {adapter_dir}: {', '.join(sorted(p.name for p in adapter_dir.iterdir()))}")
n_show = 3 if args.quick else 10
agree = 0
for r in test_rows[:n_show]:
    idx = torch.tensor([enc.encode_ordinary(r["source"])], device=device)
    mine = ours.generate(idx, 40, temperature=0, stop_token=enc.eot_token)[0, idx.size(1):].tolist()
    theirs = adapted.generate(input_ids=idx, attention_mask=torch.ones_like(idx), max_new_tokens=40, do_sample=False,
                              eos_token_id=enc.eot_token, pad_token_id=enc.eot_token)[0, idx.size(1):].tolist()
    cut = lambda ids: ids[:ids.index(enc.eot_token)] if enc.eot_token in ids else ids  # noqa: E731
    agree += cut(mine) == cut(theirs)
    if agree <= 2 and cut(mine) == cut(theirs):
        print(f"  {r['source'][:70]}\n    minigpt and PEFT: {enc.decode(cut(mine))!r}")
print(f"the same greedy text from minigpt and from transformers + peft on {agree}/{n_show} test inputs")

# %% [markdown]
# ## 4. PEFT's names for the course's ideas

# %%
config = peft_config(prefix, gpt2_dir).to_dict()
names = {"peft_type": "the method: prefix-tuning (per-layer keys/values), `prefix.PrefixTuning`",
         "task_type": "CAUSAL_LM: a decoder that writes text, like minigpt's GPT",
         "num_virtual_tokens": f"P, `prefix_len` (here {prefix.prefix_len})",
         "token_dim": f"n_embd ({base.config.n_embd})", "num_layers": f"n_layer ({base.config.n_layer})",
         "num_attention_heads": f"n_head ({base.config.n_head})",
         "num_transformer_submodules": "1: a decoder only (2 would be an encoder-decoder)",
         "prefix_projection": "False: the folded matrix; True would be the training MLP (`reparam='mlp'`)",
         "encoder_hidden_size": "the MLP's width, `hidden` (unused without the projection)",
         "base_model_name_or_path": "the exported GPT-2 folder: the base a prefix is bound to (its fingerprint)"}
print("\n| PEFT field | value | in the course |\n|---|---|---|")
for field, meaning in names.items():
    print(f"| {field} | {config.get(field)} | {meaning} |")
print("| (positions) | real tokens after the prefix | `positions='after_prefix'`; the course also has 'from_zero' |")

# %% [markdown]
# ## 5. Does the rule for positions matter?
#
# The same recipe (lesson 7's: P = 14, real-example init, lr 1e-2), the same batches and steps, once with real
# tokens numbered after the prefix (PEFT's rule) and once from 0 (minigpt's library default).

# %%
positions_study = {rule: train_e2e_prefix(rule)[1] for rule in ("after_prefix", "from_zero")}
print("\n| positions | test BLEU | attribute error | val loss |\n|---|---|---|---|")
for rule, r in positions_study.items():
    print(f"| {rule} | {r['bleu']:.1f} | {r['attribute_error']:.3f} | {r['final_val_loss']:.3f} |")

# %% [markdown]
# A base with learned absolute positions was pretrained with every context starting at position 0. Under PEFT's
# rule a prefix is an ordinary context in front of the input; under minigpt's, the real tokens start at 0 as in
# pretraining but see keys before them that no pretraining context had. Lesson 7's copy check measured what this
# does before any training; the table above says what is left of it after training.

# %%
fig, ax = plt.subplots(figsize=(6.5, 4))
ax.bar(list(positions_study), [r["bleu"] for r in positions_study.values()], color=["tab:blue", "tab:orange"])
ax.set_xlabel("where the real tokens are numbered")
ax.set_ylabel(f"test BLEU ({len(test_rows)} inputs)")
ax.set_title(f"The same prefix recipe under two rules for positions ({steps} steps)")
fig.tight_layout()
fig.savefig(out_dir / "positions.png", dpi=120)
write_text_atomic(out_dir / "results.json", json.dumps({
    "gpt2_max_abs_logit_diff": diff, "tokenizer_same_ids": [same, len(texts)], "peft_same_text": [agree, n_show],
    "peft_config": config, "positions": positions_study}, indent=1, default=str))
print(f"\nwrote {out_dir / 'positions.png'}")

# %% [markdown]
# ## Exercises
#
# 1. Load `runs/11_wider_world/gpt2` and the adapter in a fresh Python session with only `transformers` and `peft`
#    (no minigpt) and sample from it with `temperature=0.8`.
# 2. Export a prompt-tuning prefix (lesson 7's `e2e.prompt.pt`) with `export_peft`: which PEFT config does it
#    become, and do the logits agree? (`tests/test_hf.py` checks it.)
# 3. Export a `from_zero` prefix anyway and compare its PEFT output with minigpt's. Where do the two first differ?
