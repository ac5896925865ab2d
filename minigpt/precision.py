"""Training precision: fp32, or bf16 autocast where the hardware computes bf16 fast.

    cfg = resolve_dtype(cfg, device, verbose=True)    # "auto" -> "fp32" or "bf16", the same in every process
    with autocast_context(device, cfg.dtype):         # matmuls in bf16, weights and reductions stay fp32
        loss = model(x, y).loss
"""
import time
from contextlib import nullcontext
from dataclasses import replace

import torch
import torch.distributed as dist

from .distributed import is_main_process

DTYPES = ("fp32", "bf16", "auto")


def bf16_is_native(device) -> bool:
    """Does this device compute bf16 in hardware? (On a CPU without AVX512-BF16/AMX it is emulated, and slow.)"""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type == "cpu":
        try:
            return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            return False
    return False


def autocast_context(device, dtype: str):
    """bf16 autocast on cuda/cpu (matmuls in bf16, reductions like softmax and the loss stay fp32). No fp16:
    its narrow range needs loss scaling, and CPUs do not compute it fast anyway."""
    device = torch.device(device)
    if dtype == "fp32":
        return nullcontext()
    if dtype == "auto":
        raise ValueError("dtype 'auto' must be resolved first: pick_dtype(device) returns fp32 or bf16.")
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ValueError("this GPU cannot compute in bf16 (it needs an Ampere or newer card); use --dtype fp32.")
    if device.type not in ("cpu", "cuda"):
        raise ValueError(f"bf16 autocast is not supported on {device.type} by this course; use --dtype fp32.")
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


BF16_MARGIN = 0.9  # bf16 is kept only where it is clearly faster: near a tie, fp32 is the exact one


def matmul_round_seconds(dtype, size=384, repeats=4) -> float:
    """Seconds for `repeats` (size x size) matmuls in `dtype` on the CPU, after one to warm up (the first call of a
    kernel can include compiling it)."""
    a, b = torch.randn(size, size).to(dtype), torch.randn(size, size).to(dtype)
    a @ b
    t0 = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return time.perf_counter() - t0


def faster_dtype(fp32_rounds, bf16_rounds, margin=BF16_MARGIN):
    """The race's verdict -> ("fp32" or "bf16", bf16's time as a fraction of fp32's). Each dtype's best round
    counts: whatever else the machine does (another program, a thread waking up) can only make a round slower, so
    the fastest round is the one nearest the hardware's speed, and one disturbed round cannot flip the choice."""
    ratio = min(bf16_rounds) / min(fp32_rounds)
    return ("bf16" if ratio < margin else "fp32"), ratio


def pick_dtype(device, verbose=True, rounds=5) -> str:
    """The faster of fp32 and bf16 here: bf16 on a GPU that has it; on a CPU, bf16 only where it wins a matmul race
    clearly (faster_dtype). Many CPUs emulate bf16 (then it is several times SLOWER); those with AVX512-BF16 or AMX
    run it faster. The race takes a fraction of a second: `rounds` rounds, the two dtypes taking turns."""
    device = torch.device(device)
    if device.type == "cuda":
        native = torch.cuda.is_bf16_supported()
        choice, why = ("bf16", "the GPU supports it") if native else ("fp32", "no bf16 on this GPU")
    elif device.type != "cpu":
        choice, why = "fp32", f"bf16 autocast is not used on {device.type}"
    else:
        timings = {torch.float32: [], torch.bfloat16: []}
        for _ in range(rounds):  # turns, so a busy moment of the machine falls on both
            for dtype, seconds in timings.items():
                seconds.append(matmul_round_seconds(dtype))
        choice, ratio = faster_dtype(timings[torch.float32], timings[torch.bfloat16])
        why = f"on this CPU a bf16 matmul takes {ratio:.2g}x the time of an fp32 one, the best of {rounds} rounds each"
        if choice == "fp32" and ratio < 1:
            why += f"; bf16 is kept only below {BF16_MARGIN}x"
    if verbose:
        print(f"dtype: {choice} ({why})")
    return choice


def resolve_dtype(cfg, device, verbose: bool):
    """A TrainConfig with "auto" turned into fp32/bf16, agree on it across processes, and fail (or warn) early about bf16."""
    if cfg.dtype == "auto":
        cfg = replace(cfg, dtype=pick_dtype(device, verbose=verbose))
    if dist.is_initialized():  # a timing race can end differently in each process: rank 0 decides for all
        choice = [cfg.dtype]
        dist.broadcast_object_list(choice, src=0)
        cfg = replace(cfg, dtype=choice[0])
    autocast_context(device, cfg.dtype)  # an unsupported dtype fails now, not after the first loss estimate
    if cfg.dtype == "bf16" and device.type == "cpu" and not bf16_is_native(device) and is_main_process():
        print("warning: this CPU has no bf16 instructions (AVX512-BF16/AMX): torch emulates bf16 here, which is "
              "several times SLOWER than fp32. Use --dtype fp32 (or --dtype auto).")
    return cfg
