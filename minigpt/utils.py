"""Small helpers every lesson uses: one place to pick the device, set seeds, name output folders and time code."""
import argparse
import os
import random
import statistics
import time
from pathlib import Path

import numpy as np
import torch

# Every run writes below this folder (git-ignored): checkpoints, plots, token caches.
RUNS_DIR = Path(os.environ.get("MINIGPT_RUNS", "runs"))


def pick_device(prefer: str | None = None, verbose: bool = True) -> torch.device:
    """cuda -> mps -> cpu, unless `prefer` names one. Printed, so a learner sees where work runs."""
    if prefer:
        device = torch.device(prefer)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise SystemExit("--device cuda was asked for, but torch sees no CUDA GPU; leave --device out to use the CPU.")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise SystemExit("--device mps was asked for, but this torch has no MPS support; leave --device out to use the CPU.")
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


def race(fns: dict, steps: int, warmup: int = 1, device="cpu") -> dict:
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


def lesson_parser(doc: str) -> argparse.ArgumentParser:
    """The flags every lesson shares: --quick (a one-minute version), --seed, --device, --out."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help="a tiny version that runs in under a minute")
    parser.add_argument("--seed", type=int, default=1337, help="seed for every random number (default 1337)")
    parser.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best one found)")
    parser.add_argument("--out", default=None, help="folder for plots and checkpoints (default runs/<lesson>)")
    return parser


def parse_lesson_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """parse_args that also works when a lesson runs cell by cell in Jupyter/VS Code (unknown kernel flags ignored)."""
    import sys

    if "ipykernel" in sys.modules:
        args, _ = parser.parse_known_args([])
    else:
        args = parser.parse_args()
    return args
