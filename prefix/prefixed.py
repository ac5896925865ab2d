"""A frozen base GPT with prefixes in front: training, generation, and one batch serving many prefixes."""
import functools

import torch
import torch.nn as nn

from minigpt.generate import generate, generate_ragged

from .freeze import freeze


def stack_slots(row_slots):
    """Per-row slots -> one batch: list over rows of [per layer (k, v), each (1, H, P, D)] -> (B, H, P, D).

    This is how one forward pass serves many tasks: row i simply gets its own task's keys/values.
    """
    lengths = {s[0][0].size(2) for s in row_slots}
    if len(lengths) != 1:
        raise ValueError(f"rows use prefixes of different lengths {sorted(lengths)}; a mixed batch needs one prefix "
                         f"length (train the prefixes with the same P).")
    n_layer = len(row_slots[0])
    return [tuple(torch.cat([s[l][i] for s in row_slots], dim=0) for i in range(2)) for l in range(n_layer)]


class PrefixedGPT(nn.Module):
    """Frozen base + one trainable prefix (PrefixTuning or PromptTuning). Only the prefix ever trains.

    forward(idx, targets=None, attention_mask=None) -> GPTOutput, like GPT.forward, so the same training loop
    serves pretraining, full fine-tuning and prefix-tuning.
    """

    def __init__(self, base, prefix):
        super().__init__()
        if not prefix.config.same_model_as(base.config):
            raise ValueError("this prefix was made for a model with another config; build it with the base's config.")
        self.base, self.prefix = base, prefix
        self.config = base.config
        freeze(self.base)

    def train(self, mode=True):
        super().train(mode)
        self.base.eval()  # the frozen base stays in eval mode: no dropout, same function it was measured as
        return self

    def slots(self, batch_size):
        return self.prefix.slots(self.base, batch_size)

    def forward(self, idx, targets=None, attention_mask=None, loss_only=False):
        return self.base(idx, targets, attention_mask, slots=self.slots(idx.size(0)),
                         pos_offset=self.prefix.position_offset(), loss_only=loss_only)

    @torch.no_grad()
    def generate(self, idx, max_new_tokens, **kwargs):
        """minigpt.generate with the prefix as the first entries of the KV cache (the stored prefix is never written)."""
        return generate(self.base, idx, max_new_tokens, slots=self.slots(idx.size(0)),
                        pos_offset=self.prefix.position_offset(), **kwargs)

    @torch.no_grad()
    def generate_ragged(self, prompts, max_new_tokens, **kwargs):
        """minigpt.generate_ragged (prompts of different lengths in one batch) with the prefix in front."""
        return generate_ragged(self.base, prompts, max_new_tokens, slots=self.slots(len(prompts)),
                               pos_offset=self.prefix.position_offset(), **kwargs)


def generate_fn(model, ragged=False):
    """The generate of a tuned model, whichever method made it: PrefixedGPT's (its prefix in front) or minigpt's (a
    fine-tuned copy, or the base). ragged=False: generate(idx, max_new_tokens, **kw), rows of one length;
    ragged=True: generate_ragged(prompts, max_new_tokens, **kw), prompts of any lengths."""
    if isinstance(model, PrefixedGPT):
        return model.generate_ragged if ragged else model.generate
    return functools.partial(generate_ragged if ragged else generate, model)


class MultiPrefixGPT(nn.Module):
    """One frozen base, many named prefixes; each row of a batch picks its own.

        server = MultiPrefixGPT(base, {"e2e": p1, "sentiment": p2})
        server(idx, tasks=["e2e", "sentiment", ...], attention_mask=mask)
    """

    def __init__(self, base, prefixes: dict):
        super().__init__()
        self.base = base
        freeze(self.base)
        self.prefixes = nn.ModuleDict(prefixes)
        offsets = {name: p.position_offset() for name, p in prefixes.items()}
        if len(set(offsets.values())) > 1:
            raise ValueError(f"these prefixes number the real tokens differently ({offsets}: the position of the first "
                             f"real token); one batch needs one rule: train them with the same positions and P.")
        self.pos_offset = next(iter(offsets.values()), 0)

    def slots(self, tasks):
        unknown = sorted(set(tasks) - set(self.prefixes))
        if unknown:
            raise KeyError(f"no prefix named {unknown}; loaded prefixes: {sorted(self.prefixes)}.")
        one_row = {name: self.prefixes[name].slots(self.base, 1) for name in set(tasks)}  # each task computed once
        return stack_slots([one_row[t] for t in tasks])

    def _check(self, idx, tasks):
        if len(tasks) != idx.size(0):
            raise ValueError(f"got {len(tasks)} task names for a batch of {idx.size(0)} rows; give one per row.")

    @torch.no_grad()
    def forward(self, idx, tasks, targets=None, attention_mask=None):
        self._check(idx, tasks)
        return self.base(idx, targets, attention_mask, slots=self.slots(tasks), pos_offset=self.pos_offset)

    @torch.no_grad()
    def generate(self, idx, tasks, max_new_tokens, **kwargs):
        self._check(idx, tasks)
        return generate(self.base, idx, max_new_tokens, slots=self.slots(tasks), pos_offset=self.pos_offset, **kwargs)
