"""prefix: prefix-tuning (Li & Liang 2021) on a frozen minigpt, with prompt-tuning and full fine-tuning baselines.

    from prefix import freeze, PrefixTuning, PrefixedGPT, save_prefix, load_prefix
    report = freeze(base)                                   # no gradients, eval mode; trainable vs total
    model = PrefixedGPT(base, PrefixTuning(base.config, prefix_len=10))
    ... train model with minigpt.train ...
    save_prefix(model.prefix, base, "runs/e2e.prefix.pt")   # folded matrix + base fingerprint
"""
from .freeze import ParamReport, count_params, freeze
from .io import PrefixFileError, WrongBaseError, fingerprint, load_prefix, save_prefix
from .prefix_tuning import PrefixTuning, slots_to_matrix, matrix_to_slots
from .prompt_tuning import PromptTuning
from .prefixed import MultiPrefixGPT, PrefixedGPT, stack_slots

__all__ = [
    "ParamReport", "count_params", "freeze", "fingerprint", "load_prefix", "save_prefix", "PrefixFileError",
    "WrongBaseError",
    "PrefixTuning", "PromptTuning", "PrefixedGPT", "MultiPrefixGPT", "stack_slots", "slots_to_matrix", "matrix_to_slots",
]
