"""The one training loop of the course: pretraining, full fine-tuning and prefix-tuning all use train().

    cfg = TrainConfig(steps=2000, batch_size=16, lr=1e-3)
    get_batch = make_batch_fn({"train": train_tokens, "val": val_tokens}, block_size=128, batch_size=16, device=device)
    history = train(model, get_batch, cfg, ckpt_path="runs/mine/model.pt")

What train() relies on:
  * `model(*batch)` returns an object with a `.loss` (GPTOutput does). Only parameters with
    requires_grad are optimized, so a frozen base with a trainable prefix needs nothing special.
  * `get_batch(split, step)` returns a tuple of tensors on the model's device and is a pure function
    of (split, step): the same arguments always give the same batch. That makes the data position of a
    run just a step number, and a resumed run sees exactly the batches an unbroken run would have seen.
    Training asks for ("train", 0), ("train", 1), ...; the loss estimates ask for steps -1, -2, ... -eval_batches,
    which training never uses (the same fixed batches at every estimate, so the curve is not noisier than the model).

The history train() returns (and stores in every checkpoint), a dict of lists:
    step, tokens, loss, lr, grad_norm     one entry per optimizer step: the step number (1, 2, ...), tokens seen
                                          so far (all processes), that step's training loss, lr and gradient norm
    eval_step, eval_tokens,               one entry per estimate (every eval_every steps, and at the end):
    eval_train_loss, eval_val_loss        mean loss over eval_batches fixed batches, in eval mode
"""
import math
import signal
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm.auto import tqdm

from .checkpoint import (FORMAT, CheckpointError, capture_rng, check_model_config, checkpoint_tensors, load_checkpoint,
                         load_trainable_state, model_config_dict, restore_rng, save_checkpoint, tensor_checksum,
                         trainable_state)
from .distributed import any_process, dist_env, init_distributed, is_main_process, mean_over_processes
from .precision import DTYPES, autocast_context, resolve_dtype


@dataclass
class TrainConfig:
    steps: int = 1000             # optimizer steps in the whole run
    batch_size: int = 16          # sequences per step, over all processes together
    lr: float = 1e-3              # peak learning rate, reached at the end of warmup
    min_lr_ratio: float = 0.1     # the cosine ends at lr * min_lr_ratio
    warmup_steps: int = 100       # lr rises linearly from ~0 to lr over these steps
    weight_decay: float = 0.1     # AdamW decay, on matrices only (not biases, LayerNorm, other 1-D tensors)
    betas: tuple = (0.9, 0.95)    # AdamW: averaging of the gradient and of its square
    grad_clip: float = 1.0        # clip the global gradient norm to this; 0 = no clipping
    eval_every: int = 100         # estimate train/val loss every this many steps (and at the end); 0 = never
    eval_batches: int = 20        # batches per estimate
    ckpt_every: int = 0           # also save a checkpoint every this many steps; 0 = only at the end (and on Ctrl-C)
    dtype: str = "fp32"           # "bf16": matmuls in bfloat16 under autocast (weights and AdamW stay fp32);
                                  # "auto": the faster of the two on this device (see pick_dtype)
    seed: int = 1337              # seeds the model's dropout; the data order comes from get_batch
    loss_only: bool = False       # call model(*batch, loss_only=True): logits only where a target is (GPT and
                                  # PrefixedGPT can; worth it when most targets are -100, as in a task's pairs)

    def __post_init__(self):
        self.betas = tuple(self.betas)
        self.validate()

    @property
    def min_lr(self) -> float:
        return self.lr * self.min_lr_ratio

    def validate(self) -> None:
        """All checks in one place; each message says what is wrong and how to fix it."""
        for name in ("steps", "batch_size", "eval_batches"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"TrainConfig.{name}={value!r} must be a positive integer.")
        for name in ("warmup_steps", "eval_every", "ckpt_every"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"TrainConfig.{name}={value!r} must be an integer >= 0.")
        if not (isinstance(self.lr, (int, float)) and self.lr > 0 and math.isfinite(self.lr)):
            raise ValueError(f"lr={self.lr!r} must be a positive number (1e-3 is a good start for small GPTs).")
        if not 0.0 <= self.min_lr_ratio <= 1.0:
            raise ValueError(f"min_lr_ratio={self.min_lr_ratio} must be in [0, 1]: the final lr is lr * min_lr_ratio.")
        if self.warmup_steps >= self.steps:
            raise ValueError(f"warmup_steps={self.warmup_steps} must be smaller than steps={self.steps}, "
                             f"or the lr never leaves warmup; use about 5-10% of the steps.")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay={self.weight_decay} must be >= 0.")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"betas={self.betas} must be two numbers in [0, 1), e.g. (0.9, 0.95).")
        if self.grad_clip < 0:
            raise ValueError(f"grad_clip={self.grad_clip} must be >= 0 (0 turns clipping off).")
        if not isinstance(self.loss_only, bool):
            raise ValueError(f"loss_only={self.loss_only!r} must be True or False.")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype={self.dtype!r} is unknown; use one of {DTYPES} (never fp16 on CPU).")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["betas"] = list(self.betas)
        return d


def schedule(steps: int, warmup_div: int = 15, n_evals: int = 8, n_ckpts: int = 4) -> dict:
    """Warmup (~1/warmup_div of the steps), loss-estimate and checkpoint intervals for a run of `steps` steps.
    Always a valid TrainConfig, even for 1 step (then there is no warmup: nothing to blame on one)."""
    return dict(steps=steps, warmup_steps=min(steps - 1, max(1, steps // warmup_div)),
                eval_every=math.ceil(steps / n_evals), ckpt_every=steps // n_ckpts)


# ----------------------------------------------------------------------------------------------
# Learning rate and optimizer


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warmup over warmup_steps, then a cosine from lr down to min_lr at the last step.

    Warmup: AdamW's second-moment estimate is poor in the first steps, and early updates with a full lr
    can throw a fresh network into a bad region. The cosine: big steps while far from a minimum, small ones at the end.
    """
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - 1 - cfg.warmup_steps)  # 0 -> 1
    return cfg.min_lr + 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0))) * (cfg.lr - cfg.min_lr)


def make_optimizer(model, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW over exactly the trainable parameters. Weight decay pulls weights toward 0; that regularizes
    matrices, but on a bias or a LayerNorm gain it would only fight the scale the layer needs: no decay there."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the model has no parameter with requires_grad=True: there is nothing to train.")
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=cfg.lr, betas=cfg.betas)


# ----------------------------------------------------------------------------------------------
# Ctrl-C: finish the current step, save, stop. A second Ctrl-C stops at once (the last saved checkpoint stays).


class GracefulInterrupt:
    def __init__(self):
        self.requested = False
        self.previous = None

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread: no handler, Ctrl-C simply raises
            self.previous = None
        return self

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        tqdm.write("Ctrl-C: stopping after this step and saving a checkpoint (press again to stop right now).")

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite."""


# ----------------------------------------------------------------------------------------------
# The loop


def new_history() -> dict:
    keys = ("step", "tokens", "loss", "lr", "grad_norm", "eval_step", "eval_tokens", "eval_train_loss", "eval_val_loss")
    return {k: [] for k in keys}


def forward_loss(model, batch, cfg: TrainConfig):
    """model(*batch).loss, asking for the loss alone when cfg.loss_only."""
    return (model(*batch, loss_only=True) if cfg.loss_only else model(*batch)).loss


@torch.no_grad()
def estimate_loss(model, get_batch, cfg: TrainConfig, device) -> dict:
    """Mean loss over cfg.eval_batches fixed batches per split, in eval mode (no dropout).
    One batch is a noisy measurement; the mean over many, on the same batches every time, gives a smooth curve."""
    modes = {m: m.training for m in model.modules()}  # restored per module: a frozen base may stay in eval mode
    model.eval()
    result = {}
    for split in ("train", "val"):
        losses = torch.zeros(cfg.eval_batches, device=device)
        for i in range(cfg.eval_batches):
            with autocast_context(device, cfg.dtype):
                losses[i] = forward_loss(model, get_batch(split, -1 - i), cfg).float()
        result[split] = mean_over_processes(losses.mean()).item()
    for m, mode in modes.items():
        m.training = mode
    return result


def resume_from(ckpt_path, model, optimizer, cfg: TrainConfig):
    """Load weights, optimizer and RNG states from a checkpoint; returns (history, step to continue at)."""
    if ckpt_path is None or not ckpt_path.is_file():
        raise FileNotFoundError(f"resume was asked for, but there is no checkpoint at {ckpt_path}; "
                                f"run without --resume to start training.")
    ckpt = load_checkpoint(ckpt_path, map_location=next(model.parameters()).device)
    check_model_config(ckpt, model, ckpt_path)
    load_trainable_state(model, ckpt["model"], ckpt_path)
    try:
        optimizer.load_state_dict(ckpt["optimizer"])
    except ValueError as e:
        raise CheckpointError(f"the optimizer state in {ckpt_path} does not fit this model ({e}); build the model "
                              f"as in the run that wrote it, or start fresh without --resume.") from None
    restore_rng(ckpt["rng"])
    if is_main_process():
        changed = {k: f"{v} -> {cfg.to_dict().get(k)}" for k, v in ckpt["train_config"].items()
                   if k != "steps" and cfg.to_dict().get(k) != v}
        print(f"resuming {ckpt_path} at step {ckpt['step']}/{cfg.steps}"
              + (f" (settings changed since: {changed})" if changed else ""))
    return ckpt["history"], ckpt["step"]


def train(model, get_batch, cfg: TrainConfig, ckpt_path=None, resume=False, meta=None, progress=True) -> dict:
    """Optimize the trainable parameters of `model` for cfg.steps steps; return the history (see the top of the file).

    ckpt_path: where checkpoints go (every cfg.ckpt_every steps, at the end, on Ctrl-C); None = no files.
    resume:    continue from ckpt_path exactly where it stopped (same losses as an unbroken run).
    meta:      a dict stored in the checkpoint as is (plain Python values), e.g. the tokenizer's name.
    progress:  show the progress bar, the loss estimates and a final tokens/s line (rank 0 only).
    The module's train/eval modes are left as the caller set them (call model.train() for dropout).
    """
    params = [p for p in model.parameters() if p.requires_grad]
    device = params[0].device if params else torch.device("cpu")
    created_group = init_distributed(device)
    try:
        return _train(model, get_batch, resolve_dtype(cfg, device, progress and is_main_process()), device,
                      Path(ckpt_path) if ckpt_path is not None else None, resume, meta, progress)
    finally:
        if created_group:
            dist.destroy_process_group()


def _train(model, get_batch, cfg, device, ckpt_path, resume, meta, progress) -> dict:
    main = is_main_process()
    params = [p for p in model.parameters() if p.requires_grad]
    torch.manual_seed(cfg.seed)  # dropout masks; every process draws the same stream
    optimizer = make_optimizer(model, cfg)
    history, start = resume_from(ckpt_path, model, optimizer, cfg) if resume else (new_history(), 0)
    ddp_model = model
    if dist.is_initialized():
        from torch.nn.parallel import DistributedDataParallel as DDP
        ddp_model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)

    def checkpoint(step):
        if not all(torch.isfinite(p).all() for p in params):  # never save (or report success with) broken weights
            raise TrainingDiverged(f"the weights are not finite after step {step}: nothing was saved. "
                                   f"{diverged_advice()}")
        if main and ckpt_path is not None:
            state = {
                "format": FORMAT,
                "model_config": model_config_dict(model),
                "model": trainable_state(model),
                "optimizer": optimizer.state_dict(),
                "train_config": cfg.to_dict(),
                "step": step,
                "history": history,
                "rng": capture_rng(),
                "data": {"next_step": step},
                "meta": dict(meta or {}),
            }
            state["checksum"] = tensor_checksum(checkpoint_tensors(state))  # loading verifies it
            save_checkpoint(ckpt_path, state)

    def diverged_advice():
        kept = (f"The last good checkpoint {ckpt_path} was kept (not overwritten). "
                if ckpt_path is not None and ckpt_path.is_file() else "")
        clip = "" if cfg.grad_clip else ", or clip the gradient (--grad-clip 1.0; it is off now)"
        return (f"{kept}Try a smaller learning rate (--lr {cfg.lr / 3:.2g}; it is {cfg.lr:g} now) or a longer warmup "
                f"(--warmup-steps {max(2 * cfg.warmup_steps, 10)}; it is {cfg.warmup_steps} now){clip}.")

    def evaluate(step):
        est = estimate_loss(ddp_model, get_batch, cfg, device)
        tokens = history["tokens"][-1] if history["tokens"] else 0
        for key, value in (("eval_step", step), ("eval_tokens", tokens),
                           ("eval_train_loss", est["train"]), ("eval_val_loss", est["val"])):
            history[key].append(value)
        if main and progress:
            tqdm.write(f"step {step:>6}: train loss {est['train']:.4f}, val loss {est['val']:.4f}")

    def eval_due(step):  # every eval_every steps and at the end, once per step (also after a resume)
        return (cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps)
                and (not history["eval_step"] or history["eval_step"][-1] != step))

    t0, tokens_before = time.perf_counter(), (history["tokens"][-1] if history["tokens"] else 0)
    bar = tqdm(total=cfg.steps, initial=start, disable=not (main and progress), unit="step", dynamic_ncols=True)
    with GracefulInterrupt() as interrupt:
        for step in range(start, cfg.steps):
            if eval_due(step):
                evaluate(step)
            lr = lr_at(step, cfg)
            for group in optimizer.param_groups:
                group["lr"] = lr

            batch = get_batch("train", step)
            with autocast_context(device, cfg.dtype):
                loss = forward_loss(ddp_model, batch, cfg)
            if loss is None:
                raise ValueError("model(*batch) returned no loss: get_batch must return the targets too: (x, y).")
            # Each process's loss is the mean over its slice; with equal slices their mean is the global batch's.
            loss_value = mean_over_processes(loss.detach().float()).item()
            if not math.isfinite(loss_value):  # checked before any update: the weights stay the last good ones
                raise TrainingDiverged(f"the loss is {loss_value} at step {step} (lr {lr:.2e}): training diverged, "
                                       f"so it stopped. {diverged_advice()}")
            loss.backward()
            grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip or float("inf"))
            if not math.isfinite(grad_norm.item()):  # a finite loss can still have a NaN gradient: no update then
                raise TrainingDiverged(f"the gradient is {grad_norm.item()} at step {step} (lr {lr:.2e}, loss "
                                       f"{loss_value:.4f}): training stopped before the update, so the weights are the "
                                       f"last good ones. {diverged_advice()}")
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

            tokens = (history["tokens"][-1] if history["tokens"] else 0) + batch[0].numel() * dist_env()[1]
            for key, value in (("step", step + 1), ("tokens", tokens), ("loss", loss_value),
                               ("lr", lr), ("grad_norm", grad_norm.item())):
                history[key].append(value)
            bar.update(1)
            bar.set_postfix(loss=f"{loss_value:.4f}", lr=f"{lr:.2e}", refresh=False)

            if cfg.ckpt_every and (step + 1) % cfg.ckpt_every == 0 and step + 1 < cfg.steps:
                checkpoint(step + 1)
            if any_process(interrupt.requested, device):
                checkpoint(step + 1)
                bar.close()
                if main:
                    where = f"saved {ckpt_path}; continue with --resume" if ckpt_path else "nothing saved"
                    print(f"stopped after step {step + 1}/{cfg.steps}: {where}.")
                raise KeyboardInterrupt
        if eval_due(cfg.steps):
            evaluate(cfg.steps)
        bar.close()
        checkpoint(max(start, cfg.steps))
    if main and progress and cfg.steps > start:
        seconds, tokens = time.perf_counter() - t0, history["tokens"][-1] - tokens_before
        print(f"trained steps {start}->{cfg.steps}: {tokens:,} tokens in {seconds:.0f} s = {tokens / seconds:,.0f} "
              f"tokens/s (loss estimates included)" + (f"; saved {ckpt_path}" if ckpt_path else ""))
    return history
