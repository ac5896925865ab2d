"""Distributed data parallel (torchrun): the only module that knows about several processes.

Every process holds the whole model and computes on its slice of the batch; DDP averages the gradients,
so all copies take the same step. A plain `python` run is one process, and every function here is then trivial.
"""
import os

import torch
import torch.distributed as dist


def dist_env() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) for a plain `python` run."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))


def is_main_process() -> bool:
    """Only rank 0 prints, plots and writes files."""
    return dist_env()[0] == 0


def distributed_device(device) -> torch.device:
    """Under torchrun each process gets its own GPU (cuda:LOCAL_RANK); on a CPU they all share 'cpu'."""
    device = torch.device(device)
    if device.type == "cuda" and dist_env()[1] > 1:
        device = torch.device("cuda", dist_env()[2])
        torch.cuda.set_device(device)
    return device


def init_distributed(device) -> bool:
    """Join the process group if torchrun started us. Returns True if this call created it (and must destroy it)."""
    if dist_env()[1] == 1 or dist.is_initialized():
        return False
    dist.init_process_group(backend="nccl" if torch.device(device).type == "cuda" else "gloo")
    return True


def mean_over_processes(values: torch.Tensor) -> torch.Tensor:
    """Average a tensor over all processes (the loss each one measured on its slice)."""
    if dist.is_initialized():
        values = values.clone()
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        values /= dist.get_world_size()
    return values


def any_process(flag: bool, device) -> bool:
    """True on every process if it is True on one: they must all stop at the same step."""
    if not dist.is_initialized():
        return flag
    t = torch.tensor([float(flag)], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())
