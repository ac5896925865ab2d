"""Saving a prefix: only the folded matrix and what it needs to be used again, a few tens of kB.

A prefix is meaningless on any other model, so the file records which base it belongs to: the base's
config and a fingerprint of its weights. Loading onto another base is refused with a clear error.
"""
import hashlib
import os
from pathlib import Path

import torch

from minigpt.checkpoint import CheckpointError, read_file, save_checkpoint, tensor_checksum  # atomic writes
from minigpt.config import GPTConfig

from .prefix_tuning import PrefixTuning
from .prompt_tuning import PromptTuning

FORMAT = "minigpt-prefix-v1"
_KEYS = ("method", "prefix_len", "matrix", "base_config", "base_fingerprint", "meta")


class PrefixFileError(ValueError):
    """The file is not a usable prefix file: damaged, incomplete, or something else (e.g. a model checkpoint)."""


class WrongBaseError(ValueError):
    """A good prefix file, made for another base model: it cannot be used on this one."""


def fingerprint(model) -> str:
    """sha256 of every weight (names, shapes, bytes) of the model, shortened: which base is this?"""
    h = hashlib.sha256()
    for name, t in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def save_prefix(prefix, base, path, meta=None):
    """Fold (if it has an MLP) and save. Returns the file size in bytes."""
    matrix = prefix.folded().compute_matrix().detach().to("cpu", torch.float32).clone()
    save_checkpoint(path, {
        "format": FORMAT,
        "method": prefix.method,
        "prefix_len": prefix.prefix_len,
        "matrix": matrix,
        "base_config": base.config.to_dict(),
        "base_fingerprint": fingerprint(base),
        "meta": dict(meta or {}),
        "positions": prefix.positions,  # where the real tokens are numbered (prefix_tuning.POSITIONS)
        "checksum": tensor_checksum({"matrix": matrix}),  # load_prefix verifies it: a flipped byte is found
    })
    return os.path.getsize(path)


def load_prefix(path, base):
    """-> PrefixTuning (matrix) or PromptTuning, on the base's device, checked against the base.

    Raises FileNotFoundError (no file), PrefixFileError (damaged, or not a prefix file) or WrongBaseError (a
    prefix for another base model); both errors are ValueErrors whose message says what to do.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no prefix file at {path}; train one first (python -m lessons.07_prefix_tune).")
    try:
        blob = read_file(path, "prefix file", remedy="Save it again (train the prefix again).")
    except CheckpointError as e:  # damaged, or holds Python objects (refused for safety)
        raise PrefixFileError(str(e)) from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise PrefixFileError(f"{path} is not a prefix file (expected format {FORMAT!r}); "
                              f"model checkpoints load with minigpt.checkpoint.load_model instead.")
    key = "table" if "matrix" not in blob and "table" in blob else "matrix"  # files from before the rename: "table"
    missing = [k for k in _KEYS if k not in blob and not (k == "matrix" and key in blob)]
    if missing:
        raise PrefixFileError(f"{path} is an incomplete prefix file (no {', '.join(missing)}); save it again.")
    if "checksum" in blob and tensor_checksum({key: blob[key]}) != blob["checksum"]:  # older files have none
        raise PrefixFileError(f"{path}: its matrix does not match the checksum recorded when it was saved, so the file "
                              f"was changed or damaged afterwards. Do not use it: train and save the prefix again.")
    try:
        config = GPTConfig.from_dict(blob["base_config"])
    except (TypeError, ValueError) as e:
        raise PrefixFileError(f"{path} has an unreadable base config ({e}); save it again.") from None
    if not config.same_model_as(base.config) or blob["base_fingerprint"] != fingerprint(base):
        raise WrongBaseError(f"{path} was trained for another base model (fingerprint {blob['base_fingerprint']}, "
                             f"this base is {fingerprint(base)}). A prefix only works on the exact weights it was "
                             f"trained with: load the base checkpoint it was made for, or train a new prefix on this one.")
    positions = blob.get("positions", "from_zero")  # files written before the choice existed: minigpt's rule
    if blob["method"] == "prefix":
        prefix = PrefixTuning(config, blob["prefix_len"], reparam="matrix", positions=positions)
        prefix.matrix.data.copy_(blob[key])
    elif blob["method"] == "prompt":
        prefix = PromptTuning(config, blob["prefix_len"], positions=positions)
        prefix.embeddings.data.copy_(blob[key])
    else:
        raise PrefixFileError(f"{path}: unknown method {blob['method']!r}; expected 'prefix' or 'prompt'.")
    prefix.meta = blob["meta"]
    return prefix.to(next(base.parameters()).device).eval()
