"""The training loop: optimization, schedule, checkpoints, exact resume, Ctrl-C, NaN, and two processes."""
import os
import signal
import socket
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn as nn

from minigpt import GPT, preset
from minigpt.batching import make_batch_fn
from minigpt.checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from minigpt.precision import autocast_context
from minigpt.train import TrainConfig, TrainingDiverged, lr_at, make_optimizer, train

VOCAB = 64


def learnable_stream(n=4000, seed=0):
    """Tokens with structure a small model picks up fast: a repeating 16-token cycle, 10% replaced by noise."""
    rng = np.random.default_rng(seed)
    tokens = np.tile(np.arange(16), n // 16 + 1)[:n]
    noise = rng.random(n) < 0.1
    tokens[noise] = rng.integers(0, VOCAB, noise.sum())
    return tokens.astype(np.uint16)


STREAMS = {"train": learnable_stream(4000, 0), "val": learnable_stream(1000, 1)}


def nano(dropout=0.0, seed=0, **overrides):
    torch.manual_seed(seed)
    return GPT(preset("nano", vocab_size=VOCAB, dropout=dropout, **overrides))


def config(**overrides):
    base = dict(steps=8, batch_size=4, lr=3e-3, warmup_steps=2, eval_every=4, eval_batches=2, seed=0)
    return TrainConfig(**{**base, **overrides})


def batches(model, batch_size=4, seed=0):
    return make_batch_fn(STREAMS, model.config.block_size, batch_size, seed=seed, rank=0, world_size=1)


def test_loss_decreases():
    model = nano()
    history = train(model, batches(model, 8), config(steps=30, batch_size=8, lr=1e-2, warmup_steps=3, eval_every=15),
                    progress=False)
    assert len(history["loss"]) == 30 and history["step"] == list(range(1, 31))
    assert history["tokens"][-1] == 30 * 8 * model.config.block_size
    assert history["eval_step"] == [0, 15, 30]
    first, last = history["eval_val_loss"][0], history["eval_val_loss"][-1]
    assert first > np.log(VOCAB) - 0.3  # a fresh model guesses nearly uniformly
    assert last < first - 1.5, (first, last)


def test_loss_only_trains_exactly_as_the_full_logits_do():
    """cfg.loss_only asks the model for the loss alone (no logits where the target is -100): the same run."""
    stream_batches = batches(nano())

    def half_masked(split, step):  # the first half of every row has no target, like a task's source
        x, y = stream_batches(split, step)
        y = y.clone()
        y[:, :y.size(1) // 2] = -100
        return x, y

    runs = [train(nano(), half_masked, config(loss_only=flag), progress=False) for flag in (False, True)]
    for key in ("loss", "eval_val_loss"):
        assert np.allclose(runs[0][key], runs[1][key], atol=1e-5), key
    with pytest.raises(ValueError, match="loss_only"):
        TrainConfig(loss_only="yes")


def test_only_trainable_params_change():
    model = nano()
    frozen = [p for name, p in model.named_parameters() if name.startswith(("wte", "wpe", "blocks.0"))]
    for p in frozen:
        p.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    optimizer = make_optimizer(model, config())
    assert {id(p) for g in optimizer.param_groups for p in g["params"]} == {id(p) for p in trainable}

    train(model, batches(model), config(steps=3, warmup_steps=0), progress=False)
    for name, p in model.named_parameters():
        if p.requires_grad:
            assert not torch.equal(p, before[name]), f"{name} is trainable but did not change"
        else:
            assert torch.equal(p, before[name]), f"{name} is frozen but changed"


class ZeroLoss(nn.Module):
    """A loss that does not depend on the weights: every gradient is 0, so AdamW only applies weight decay."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)

    def forward(self, x):
        return SimpleNamespace(loss=sum((p * 0).sum() for p in self.parameters()) + x.sum() * 0)


def test_weight_decay_on_matrices_only():
    torch.manual_seed(0)
    model = ZeroLoss()
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    cfg = TrainConfig(steps=2, lr=0.1, min_lr_ratio=1.0, warmup_steps=0, weight_decay=0.5, eval_every=0)
    train(model, lambda split, step: (torch.ones(1),), cfg, progress=False)
    for name, p in model.named_parameters():
        if p.dim() >= 2:  # decoupled decay: p <- p * (1 - lr * wd) per step
            torch.testing.assert_close(p, before[name] * (1 - 0.1 * 0.5) ** 2)
        else:
            assert torch.equal(p, before[name]), f"{name} is 1-D but was decayed"
    groups = make_optimizer(model, cfg).param_groups
    assert all(p.dim() < 2 for g in groups if g["weight_decay"] == 0 for p in g["params"])


def test_lr_schedule_warmup_then_cosine():
    cfg = TrainConfig(steps=100, lr=1e-3, min_lr_ratio=0.1, warmup_steps=10)
    lrs = [lr_at(s, cfg) for s in range(cfg.steps)]
    warmup, decay = lrs[:10], lrs[9:]
    assert warmup[0] == pytest.approx(1e-4) and lrs[9] == pytest.approx(1e-3)  # linear up to the peak
    assert np.allclose(np.diff(warmup), 1e-4)
    assert all(a >= b for a, b in zip(decay, decay[1:]))  # then only down
    assert lrs[-1] == pytest.approx(1e-4) and min(lrs[10:]) >= 1e-4 - 1e-12  # ends at min_lr, never below
    steps = np.array([22, 44, 66])  # a quarter, half, three quarters of the 89-step decay: a cosine, not a line
    expected = 1e-4 + 0.5 * (1 + np.cos(np.pi * steps / 89)) * (1e-3 - 1e-4)
    np.testing.assert_allclose([lr_at(10 + s, cfg) for s in steps], expected, rtol=1e-6)


def test_train_config_errors_are_clear():
    with pytest.raises(ValueError, match="warmup_steps=50 must be smaller than steps=10"):
        TrainConfig(steps=10, warmup_steps=50)
    with pytest.raises(ValueError, match="dtype='fp16'"):
        TrainConfig(dtype="fp16")


def test_make_batch_fn_is_deterministic_and_ranks_split_the_global_batch():
    get = make_batch_fn(STREAMS, 16, 6, seed=3, rank=0, world_size=1)
    x, y = get("train", 5)
    assert x.shape == (6, 16) and x.dtype == torch.long
    assert torch.equal(x[:, 1:], y[:, :-1])  # y is x shifted by one token
    assert torch.equal(get("train", 5)[0], x) and not torch.equal(get("train", 6)[0], x)
    halves = [make_batch_fn(STREAMS, 16, 6, seed=3, rank=r, world_size=2)("train", 5)[0] for r in (0, 1)]
    assert torch.equal(torch.cat(halves), x)


def interrupt_at(get_batch, stop_step):
    """A get_batch that presses Ctrl-C (a real SIGINT) while fetching the batch of `stop_step`."""
    def get(split, step):
        if split == "train" and step == stop_step:
            os.kill(os.getpid(), signal.SIGINT)
        return get_batch(split, step)
    return get


def test_exact_resume_after_ctrl_c(tmp_path):
    cfg = config(steps=8, eval_every=3)
    straight = nano(dropout=0.2)
    expected = train(straight, batches(straight), cfg, progress=False)

    path = tmp_path / "run.pt"
    first = nano(dropout=0.2)
    with pytest.raises(KeyboardInterrupt):
        train(first, interrupt_at(batches(first), 3), cfg, ckpt_path=path, progress=False)
    assert load_checkpoint(path)["step"] == 4  # Ctrl-C during step 3: it finishes that step, then saves

    resumed = nano(dropout=0.2, seed=123)  # other initial weights: the checkpoint must replace them
    history = train(resumed, batches(resumed), cfg, ckpt_path=path, resume=True, progress=False)
    assert history == expected  # every loss, lr, grad norm and estimate, bit for bit
    for (name, a), b in zip(straight.named_parameters(), resumed.parameters()):
        assert torch.equal(a, b), name


def test_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "model.pt"
    save_checkpoint(path, {"format": "x", "weights": torch.ones(3)})
    good = path.read_bytes()

    def broken_save(obj, f):
        f.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"format": "x", "weights": torch.zeros(3)})
    assert path.read_bytes() == good  # the old checkpoint is untouched
    assert os.listdir(tmp_path) == ["model.pt"]  # and no temporary file is left behind
    with pytest.raises(OSError):
        save_checkpoint(tmp_path / "new.pt", {})
    assert os.listdir(tmp_path) == ["model.pt"]


def trained_checkpoint(tmp_path, **overrides):
    model = nano(**overrides)
    path = tmp_path / "run.pt"
    train(model, batches(model), config(steps=2, warmup_steps=0, eval_every=0), ckpt_path=path, progress=False)
    return path


def test_corrupt_checkpoint_gives_clear_error(tmp_path):
    path = trained_checkpoint(tmp_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # truncated, as by a full disk
    with pytest.raises(CheckpointError, match="damaged or incomplete.*Delete it"):
        load_checkpoint(path)
    model = nano()
    with pytest.raises(CheckpointError, match="damaged or incomplete"):
        train(model, batches(model), config(), ckpt_path=path, resume=True, progress=False)
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="damaged or incomplete"):
        load_model(path)


def test_checkpoint_of_another_config_gives_clear_error(tmp_path):
    path = trained_checkpoint(tmp_path, n_layer=1)
    model = nano()  # 2 layers
    with pytest.raises(CheckpointError, match=r"n_layer: checkpoint 1 vs this model 2.*same model settings.*--resume"):
        train(model, batches(model), config(), ckpt_path=path, resume=True, progress=False)


def test_load_model(tmp_path):
    path = trained_checkpoint(tmp_path)
    model = load_model(path)
    assert not model.training and model.config.n_layer == 2
    saved = load_checkpoint(path)["model"]
    assert all(torch.equal(p, saved[name]) for name, p in model.named_parameters())
    fused = load_model(path, attention="sdpa")  # the same weights with the other kernel
    assert fused.config.attention == "sdpa" and all(block.attn.impl == "sdpa" for block in fused.blocks)
    assert all(torch.equal(p, saved[name]) for name, p in fused.named_parameters())
    with pytest.raises(FileNotFoundError, match=r"python -m lessons.04_pretrain.*leave --ckpt out to use the course base"):
        load_model(tmp_path / "missing.pt")


class ScaledLoss(nn.Module):
    """GPT whose loss is multiplied by a number the batch carries: NaN from a chosen step on."""

    def __init__(self, gpt):
        super().__init__()
        self.gpt = gpt
        self.config = gpt.config

    def forward(self, x, y, scale):
        out = self.gpt(x, y)
        return out._replace(loss=out.loss * scale)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    model = ScaledLoss(nano())
    get_batch = batches(model.gpt)

    def poisoned(split, step):
        return (*get_batch(split, step), torch.tensor(float("nan") if split == "train" and step >= 5 else 1.0))

    path = tmp_path / "run.pt"
    with pytest.raises(TrainingDiverged, match=r"loss is nan at step 5.*diverged.*last good checkpoint .* kept"):
        train(model, poisoned, config(steps=8, ckpt_every=2), ckpt_path=path, progress=False)
    ckpt = load_checkpoint(path)
    assert ckpt["step"] == 4 and len(ckpt["history"]["loss"]) == 4
    assert all(torch.isfinite(t).all() for t in ckpt["model"].values())


# -- two processes (DistributedDataParallel, gloo) vs one process with the same global batch ---------------


def ddp_worker(rank, world_size, port, path):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world_size),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    model = nano()
    get_batch = make_batch_fn(STREAMS, model.config.block_size, 8, seed=0)  # rank and world size from the env
    train(model, get_batch, config(steps=5, batch_size=8, eval_every=5), ckpt_path=path, progress=False)
    assert not torch.distributed.is_initialized()  # train() joined the group and left it


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_match_one(tmp_path):
    path = tmp_path / "ddp.pt"
    # fork on Linux: the children start with torch already imported (spawn re-imports it: ~10 s more here)
    method = "fork" if sys.platform == "linux" else "spawn"
    torch.multiprocessing.start_processes(ddp_worker, args=(2, free_port(), path), nprocs=2, start_method=method)
    distributed = load_checkpoint(path)

    model = nano()
    single = train(model, batches(model, 8), config(steps=5, batch_size=8, eval_every=5), progress=False)
    assert distributed["history"]["step"] == single["step"] and distributed["history"]["tokens"] == single["tokens"]
    for key in ("loss", "grad_norm", "eval_train_loss", "eval_val_loss"):
        np.testing.assert_allclose(distributed["history"][key], single[key], rtol=1e-4, err_msg=key)
    for name, p in model.named_parameters():
        torch.testing.assert_close(distributed["model"][name], p.detach(), rtol=1e-4, atol=1e-5)


def test_bf16_autocast_trains():
    model = nano()
    history = train(model, batches(model), config(steps=3, warmup_steps=0, eval_every=3, dtype="bf16"), progress=False)
    assert all(np.isfinite(history["loss"])) and len(history["eval_val_loss"]) == 2
    with autocast_context("cpu", "bf16"):
        assert model(*batches(model)("val", 0)).logits.dtype == torch.bfloat16  # autocast was really on
