"""Shared test settings."""
import torch

# The tests use tiny tensors: one thread is faster for them than two, and it keeps timings sane when the
# machine is busy (OpenMP threads waiting on a loaded core can make a 1 ms op take 100 ms).
torch.set_num_threads(1)
