"""The prefix-tuning recipe for the course base, found by measurement: a small sweep, in three rounds.

    python -m lessons.sweep_prefix_recipe            # about 30 minutes on an idle 2-core CPU (16 runs)
    python -m lessons.sweep_prefix_recipe --quick    # a minute: two runs of a few steps (checks the script)

Round 1: learning rate x initialization (task words, or the keys/values of a real training example), P=10, MLP 512.
Round 2: at the best of round 1, the prefix length P and the MLP's hidden width.
Round 3: at the best so far, twice the steps; and full fine-tuning's learning rate, for a fair comparison.
Each run gets lesson 7's budget, 600 steps of batch 16 (round 3's longer run 1,200).
Each run trains on the table-to-text task (lesson 7) and is scored on held-out validation pairs (the test inputs stay
for lesson 7): its validation loss, which chooses, and beside it the BLEU and attribute error of its greedy outputs.
The loss chooses because it is steady: BLEU on 100 inputs with one reference each moves several points between
settings that are the same (an earlier sweep picked P=5 for its BLEU, then scored the same setting 5 points lower
at twice the steps). Writes runs/sweep_prefix_recipe/sweep.md and .json.
"""
import sys

if not __package__ and "ipykernel" not in sys.modules:  # run as a file: the imports below would fail
    sys.exit("run the lessons from the repository root, as modules: python -m lessons.sweep_prefix_recipe")

import json

from data.e2e import load_e2e
from lessons.flags import lesson_parser, load_pretrained, parse_lesson_args, positive_int, start_lesson
from minigpt.checkpoint import describe_base
from minigpt.files import write_text_atomic
from minigpt.tokenizer import load_tokenizer
from prefix.methods import init_token_ids, run_method
from prefix.pairs import PairBatches

parser = lesson_parser(__doc__, base=True)
parser.add_argument("--steps", type=positive_int, default=None, help="steps per run in rounds 1-2 (default 600, lesson 7's; --quick 4)")
parser.add_argument("--n-score", type=positive_int, default=None, help="validation inputs scored per run (default 100)")
args = parse_lesson_args(parser)
out_dir, device, _ = start_lesson(parser, args, "sweep_prefix_recipe")
steps = args.steps or (4 if args.quick else 600)
n_score = args.n_score or (4 if args.quick else 100)
base = load_pretrained(args.ckpt, device, attention="sdpa")
print(f"base: {describe_base(args.ckpt)}")
enc = load_tokenizer()
rows = {split: load_e2e(split) for split in ("train", "val")}
pairs = {split: [(r["source"], r["target"]) for r in rows[split]] for split in ("train", "val")}
batches = PairBatches(enc, pairs, 16, base.config.block_size, seed=args.seed, device=device)
score_rows = rows["val"][:n_score]  # validation inputs with their references: the test inputs stay for lesson 7
results = []


def run(round_, method="prefix", lr=1e-2, init="task", prefix_len=10, hidden=512, n_steps=None,
        positions="after_prefix"):
    n_steps = n_steps or steps
    init_ids = init_token_ids(enc, init, example=pairs["train"][0]) if method != "finetune" else None
    _, r, _ = run_method(base, enc, method, batches, score_rows, n_steps, lr, prefix_len=prefix_len, hidden=hidden,
                         init_ids=init_ids, positions=positions, seed=args.seed, eval_every=n_steps,
                         eval_batches=2 if args.quick else 10, progress=False, measure=False)
    entry = dict(round=round_, method=method, lr=lr, init=init if method != "finetune" else "-", positions=positions,
                 prefix_len=prefix_len,
                 hidden=hidden, steps=n_steps, bleu=r["bleu"], attribute_error=r["attribute_error"], val_loss=r["final_val_loss"])
    results.append(entry)
    print(" ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in entry.items()), flush=True)
    return entry


def best(entries):
    """The run with the lowest validation loss (10 batches of 16 validation pairs, the same for every run)."""
    return min(entries, key=lambda e: e["val_loss"])


lrs = [1e-2] if args.quick else [3e-3, 1e-2, 3e-2]
inits = ["example"] if args.quick else ["task", "example"]
top = best([run(1, lr=lr, init=init) for lr in lrs for init in inits])
if not args.quick:
    settings = dict(lr=top["lr"], init=top["init"])
    top = best([top] + [run(2, prefix_len=P, **settings) for P in (5, 14)]
               + [run(2, hidden=h, prefix_len=top["prefix_len"], **settings) for h in (256, 1024)])
    settings = dict(lr=top["lr"], init=top["init"], prefix_len=top["prefix_len"], hidden=top["hidden"])
    top = best([top, run(3, n_steps=2 * steps, **settings)])
    for lr in (2e-4, 5e-4, 1e-3):
        run(3, method="finetune", lr=lr)
run(3, method="finetune", lr=5e-4, n_steps=4) if args.quick else None

lines = ["| round | method | lr | init | P | MLP hidden | steps | val BLEU | attribute error | val loss |",
         "|---|---|---|---|---|---|---|---|---|---|"]
lines += [f"| {e['round']} | {e['method']} | {e['lr']:g} | {e['init']} | {e['prefix_len'] if e['method'] == 'prefix' else '-'} "
          f"| {e['hidden'] if e['method'] == 'prefix' else '-'} | {e['steps']} | {e['bleu']:.1f} | {e['attribute_error']:.3f} "
          f"| {e['val_loss']:.3f} |" for e in results]
table = "\n".join(lines)
print(f"\n{table}\n\nbest prefix: {best([e for e in results if e['method'] == 'prefix'])}")
write_text_atomic(out_dir / "sweep.md", table + "\n")
write_text_atomic(out_dir / "sweep.json", json.dumps(results, indent=1))
print(f"wrote {out_dir / 'sweep.md'}")
