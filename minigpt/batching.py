"""Pretraining batches from a token stream: random windows, a pure function of (split, step).

    get_batch = make_batch_fn({"train": train_tokens, "val": val_tokens}, block_size=128, batch_size=16)
    x, y = get_batch("train", 0)   # the same (x, y) for the same arguments, in every run and every process
"""
import zlib

import numpy as np
import torch

from .distributed import dist_env


def batch_seed(seed: int, split: str, step: int) -> int:
    """A generator seed that depends only on (seed, split, step). zlib.crc32, not hash(): Python salts str hashes."""
    return (seed * 1_000_003 + zlib.crc32(split.encode()) * 7_919 + step) % 2**63


def make_batch_fn(streams: dict, block_size: int, batch_size: int, device="cpu", seed: int = 0,
                  rank: int | None = None, world_size: int | None = None):
    """get_batch(split, step) -> (x, y): random windows of block_size + 1 tokens from streams[split].

    streams: {"train": 1-D token array, "val": ...} (numpy arrays or memmaps, e.g. uint16).
    x, y: (batch_size / world_size, block_size) int64; y is x shifted by one: y[i, t] is the token after x[i, t].
    batch_size is the GLOBAL batch: every process draws the same batch_size windows and keeps its own rank's slice,
    so 2 processes x 8 rows see exactly the 16 rows one process would.
    """
    rank, world_size = (dist_env()[:2]) if rank is None else (rank, world_size or 1)
    if batch_size % world_size:
        raise ValueError(f"batch_size={batch_size} must split evenly over {world_size} processes.")
    for split, tokens in streams.items():
        if len(tokens) < block_size + 2:
            raise ValueError(f"the {split!r} stream has {len(tokens)} tokens; windows need at least block_size + 2 "
                             f"= {block_size + 2}. Use more data or a smaller --block-size.")
    per_rank = batch_size // world_size
    device = torch.device(device)

    def get_batch(split, step):
        tokens = streams[split]
        g = torch.Generator().manual_seed(batch_seed(seed, split, step))
        starts = torch.randint(len(tokens) - block_size, (batch_size,), generator=g)  # the global batch
        starts = starts[rank * per_rank:(rank + 1) * per_rank].tolist()               # this process's rows
        rows = np.stack([np.asarray(tokens[s:s + block_size + 1], dtype=np.int64) for s in starts])
        xy = torch.from_numpy(rows)  # (B, block_size + 1)
        if device.type == "cuda":
            xy = xy.pin_memory().to(device, non_blocking=True)  # copy overlaps with the GPU's work
        else:
            xy = xy.to(device)
        return xy[:, :-1], xy[:, 1:]

    return get_batch
