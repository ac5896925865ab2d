"""Checkpoints: one file that holds everything needed to continue a run exactly, or to reuse the model.

A checkpoint is a plain dict of tensors and Python containers, so it loads with
torch.load(..., weights_only=True): loading never runs code hidden in a file.

    {
      "format":       "minigpt-checkpoint-v1",
      "model_config": GPTConfig.to_dict() of the trained model, or None if it has no .config,
      "model":        {parameter name: tensor} for the TRAINABLE parameters only
                      (all of them when pretraining; just the prefix when the base is frozen),
      "optimizer":    AdamW's state_dict(),
      "train_config": TrainConfig as a dict,
      "step":         optimizer steps done; training resumes at this step,
      "history":      what train() returns (see minigpt/train.py),
      "rng":          {"python", "numpy", "torch", "cuda"} generator states,
      "data":         {"next_step": the step whose batch comes next}; get_batch(split, step) is a pure
                      function of the step, so the step is the whole data position,
      "meta":         the caller's dict (tokenizer name, data settings, ...),
    }

Files are written atomically: to a temporary file in the same folder, then os.replace() onto the real
name. A crash or Ctrl-C while writing leaves the previous checkpoint intact, never half a file.
"""
import os
import random
import tempfile
from pathlib import Path

import numpy as np
import torch

from .config import GPTConfig
from .model import GPT
from .utils import RUNS_DIR

FORMAT = "minigpt-checkpoint-v1"
PRETRAINED_PATH = RUNS_DIR / "04_pretrain" / "model.pt"
PRETRAIN_COMMAND = "python -m lessons.04_pretrain"


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: damaged, from another format, or made for another model."""


# ----------------------------------------------------------------------------------------------
# Writing and reading files


def save_checkpoint(path, state: dict) -> None:
    """torch.save(state) to `path` atomically: either the whole new file is there, or the old one is."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder as the target: os.replace is only atomic within one file system.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.chmod(tmp, 0o644)  # mkstemp makes private files; a checkpoint is an ordinary one
        os.replace(tmp, path)
    except BaseException:  # also Ctrl-C: never leave a stray temporary file behind
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_checkpoint(path, map_location="cpu") -> dict:
    """Read a checkpoint written by save_checkpoint, with clear errors for missing or damaged files."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}.")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # truncated zip, random bytes, a pickle with code in it, ...
        raise CheckpointError(
            f"could not read checkpoint {path}: the file is damaged or incomplete "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}). "
            f"Delete it and run the training again (without --resume)."
        ) from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is not a minigpt training checkpoint (expected format {FORMAT!r}). "
            f"Point to a file written by minigpt.train, or delete it and train again."
        )
    return ckpt


# ----------------------------------------------------------------------------------------------
# The model's part of a checkpoint


def unwrap(model):
    """The module inside DistributedDataParallel (whose parameter names start with 'module.')."""
    return getattr(model, "module", model)


def trainable_state(model) -> dict:
    """{name: tensor} of the parameters with requires_grad. Tied weights appear once (named_parameters dedupes)."""
    return {name: p.detach() for name, p in unwrap(model).named_parameters() if p.requires_grad}


def model_config_dict(model):
    config = getattr(unwrap(model), "config", None)
    return config.to_dict() if hasattr(config, "to_dict") else None


def check_model_config(ckpt: dict, model, path) -> None:
    """Refuse a checkpoint made for a model of another shape, saying which settings differ."""
    saved, ours = ckpt.get("model_config"), model_config_dict(model)
    if saved is not None and ours is not None and saved != ours:
        diffs = ", ".join(f"{k}: checkpoint {saved.get(k)!r} vs this model {ours.get(k)!r}"
                          for k in sorted(set(saved) | set(ours)) if saved.get(k) != ours.get(k))
        raise CheckpointError(
            f"checkpoint {path} was written for a model with another config ({diffs}). "
            f"Run with the same model settings as the run that wrote it (e.g. the same --preset/--n-layer/... flags), "
            f"or start fresh: drop --resume or choose another --out folder."
        )


def load_trainable_state(model, state: dict, path) -> None:
    """Copy saved tensors into the model's trainable parameters; names and shapes must match exactly."""
    params = {name: p for name, p in unwrap(model).named_parameters() if p.requires_grad}
    missing, unexpected = sorted(set(params) - set(state)), sorted(set(state) - set(params))
    wrong_shape = [f"{n}: checkpoint {tuple(state[n].shape)} vs model {tuple(params[n].shape)}"
                   for n in sorted(set(params) & set(state)) if state[n].shape != params[n].shape]
    if missing or unexpected or wrong_shape:
        details = "; ".join(part for part in (
            f"missing {missing[:5]}{' ...' if len(missing) > 5 else ''}" if missing else "",
            f"unexpected {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}" if unexpected else "",
            f"shapes differ: {', '.join(wrong_shape[:5])}" if wrong_shape else "") if part)
        raise CheckpointError(
            f"checkpoint {path} does not fit this model's trainable parameters ({details}). "
            f"Build the model (and freeze the same parameters) as in the run that wrote it, "
            f"or start fresh: drop --resume or choose another --out folder."
        )
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(state[name])


# ----------------------------------------------------------------------------------------------
# Random number generators: saved so that dropout masks after a resume are the ones of an unbroken run


def capture_rng() -> dict:
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    return {
        "python": random.getstate(),  # (version, tuple of 625 ints, gauss_next): plain Python
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def restore_rng(state: dict) -> None:
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state((n["kind"], keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ----------------------------------------------------------------------------------------------
# For the lessons after pretraining


def load_pretrained(path=PRETRAINED_PATH, device="cpu", attention=None) -> GPT:
    """For the lessons: load_model, or stop with its message (what is wrong, the command that fixes it), no traceback."""
    try:
        return load_model(path, device, attention)
    except (FileNotFoundError, CheckpointError) as e:
        raise SystemExit(f"error: {e}") from None


def load_model(path=PRETRAINED_PATH, device="cpu", attention=None) -> GPT:
    """The pretrained GPT of lesson 04, in eval mode on `device`.

    attention: "explicit" or "sdpa" runs the same weights with that attention kernel; None keeps the saved one.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"no pretrained model at {path}. Make it first: `{PRETRAIN_COMMAND}` (about 6 minutes on a 2-core CPU), "
            f"or `{PRETRAIN_COMMAND} --quick` for a one-minute (much weaker) version."
        )
    ckpt = load_checkpoint(path)
    if ckpt.get("model_config") is None:
        raise CheckpointError(f"{path} has no model config, so it is not a whole GPT; pass a pretraining checkpoint "
                              f"(`{PRETRAIN_COMMAND}` writes {PRETRAINED_PATH}).")
    model = GPT(GPTConfig.from_dict(ckpt["model_config"]).override(attention=attention))
    params = dict(model.named_parameters())
    if set(ckpt["model"]) != set(params):
        raise CheckpointError(
            f"{path} holds {len(ckpt['model'])} trained tensors, not the {len(params)} of a whole GPT "
            f"(was only a prefix trained?). Load it onto its base model instead, or pass a pretraining checkpoint."
        )
    load_trainable_state(model, ckpt["model"], path)
    return model.to(device).eval()
