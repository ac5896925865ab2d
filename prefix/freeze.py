"""Freezing a pretrained model: no gradients, no updates, no dropout."""
from dataclasses import dataclass

import torch.nn as nn


@dataclass
class ParamReport:
    trainable: int
    total: int

    @property
    def percent(self) -> float:
        return 100.0 * self.trainable / max(self.total, 1)

    def __str__(self) -> str:
        return f"trainable {self.trainable:,} / total {self.total:,} parameters ({self.percent:.3f}%)"


def count_params(module: nn.Module) -> ParamReport:
    """Trainable vs total parameters (shared tensors, such as the tied embedding, counted once)."""
    unique = {id(p): p for p in module.parameters()}.values()
    return ParamReport(sum(p.numel() for p in unique if p.requires_grad), sum(p.numel() for p in unique))


def freeze(model: nn.Module) -> ParamReport:
    """Turn every gradient off and switch to eval mode, in one call.

    Eval mode on purpose: dropout in a frozen network only adds noise the prefix would have to learn around,
    and the frozen model then computes exactly what it computed when we measured it.
    """
    for p in model.parameters():
        p.requires_grad_(False)
    model.eval()
    return count_params(model)
