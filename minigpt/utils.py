"""Small helpers every lesson uses: one place to pick the device, set seeds, name output folders and time code."""
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

# Every run writes below this folder (git-ignored): checkpoints, plots, token caches.
RUNS_DIR = Path(os.environ.get("MINIGPT_RUNS", "runs"))


class DeviceError(ValueError):
    """The device asked for is not there (or is not a device)."""


def pick_device(prefer: str | None = None, verbose: bool = True) -> torch.device:
    """cuda -> mps -> cpu, unless `prefer` names one. Printed, so a learner sees where work runs."""
    if prefer:
        try:
            device = torch.device(prefer)
        except RuntimeError:
            raise DeviceError(f"--device {prefer}: not a device; use cpu, cuda or mps "
                              f"(or leave --device out for the best one found).") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise DeviceError("--device cuda was asked for, but torch sees no CUDA GPU; leave --device out to use the CPU.")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise DeviceError("--device mps was asked for, but this torch has no MPS support; leave --device out to use the CPU.")
    elif torch.cuda.is_available():
        device = torch.device("cuda")
    elif torch.backends.mps.is_available():
        device = torch.device("mps")
    else:
        device = torch.device("cpu")
    if verbose:
        extra = f", {torch.get_num_threads()} threads" if device.type == "cpu" else ""
        print(f"device: {device}{extra}")
    return device


def set_seed(seed: int) -> torch.Generator:
    """Seed python, numpy and torch (all devices); returns a CPU generator seeded the same way."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()  # GPU work is asynchronous: wait for it before reading the clock


def timed(fn, device="cpu") -> float:
    """Seconds one call of fn() takes."""
    sync(device)
    t0 = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - t0


def time_in_turns(fns: dict, steps: int, warmup: int = 1, device="cpu") -> dict:
    """{name: fn} -> {name: median seconds per call}. Warm-up calls first (allocations, kernel choice), then the
    fns take turns, call by call: a burst of load from another program slows every fn alike, and the median
    ignores the odd slow call. Use it whenever two ways of doing something are compared by time."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(steps):
        for name, fn in fns.items():
            times[name].append(timed(fn, device))
    return {name: statistics.median(t) for name, t in times.items()}


def run_dir(name: str) -> Path:
    """runs/<name>/, created on demand."""
    path = RUNS_DIR / name
    path.mkdir(parents=True, exist_ok=True)
    return path


class OutputDirError(ValueError):
    """--out cannot be used: it is a file, lies under a file, cannot be written, or holds a finished run."""


def check_output_dir(out, writes=(), resume=False, overwrite=False, can_resume=False) -> Path:
    """Create `out` and make sure the run can write its files there, BEFORE any work is done.

    writes: the files the run will write that later lessons read (a model, prefix files). If one is there already,
    the run is refused unless it resumes it or overwrite=True: a finished model is never replaced silently.
    """
    out = Path(out)
    for folder in (out, *out.parents):
        if folder.exists() and not folder.is_dir():
            where = "is a file" if folder == out else f"lies under {folder}, which is a file"
            raise OutputDirError(f"--out {out} {where}; give a folder (it is created if missing).")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".write-test-"):
            pass
    except OSError as e:
        raise OutputDirError(f"--out {out} cannot be written ({e.strerror or e}); choose a folder you can write to.") from None
    existing = [out / name for name in writes if (out / name).exists()]
    if existing and not (resume or overwrite):
        ways = ("--resume to continue that run, " if can_resume else "") + "--overwrite to start again and replace it"
        raise OutputDirError(f"{existing[0]} holds the result of an earlier run; nothing was changed. Use {ways}, "
                             f"or --out DIR to write somewhere else.")
    return out


