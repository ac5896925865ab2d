"""Checkpoints: one file that holds everything needed to continue a run exactly, or to reuse the model.

A checkpoint is a plain dict of tensors and Python containers, so it loads with
torch.load(..., weights_only=True): loading never runs code hidden in a file.

    {
      "format":       "minigpt-checkpoint-v2",
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
      "checksum":     sha256 of the weights and the optimizer's tensors (tensor_checksum); loading verifies it,
    }

A finished model can also be saved as weights only (save_weights: "minigpt-weights-v1", any float dtype, with a
checksum): the course base and lesson 7's fine-tuned model are such files. load_model reads both kinds.

Files are written atomically: to a temporary file in the same folder, then os.replace() onto the real
name. A crash or Ctrl-C while writing leaves the previous checkpoint intact, never half a file.
"""
import hashlib
import os
import pickle
import random
from pathlib import Path

import numpy as np
import torch

from .config import GPTConfig
from .files import SHIPPED_COURSE_BASE_DIR, atomic_write
from .model import GPT
from .utils import RUNS_DIR

FORMAT = "minigpt-checkpoint-v2"  # v2 records a checksum of its tensors ("checksum"), and loading verifies it
LEGACY_FORMATS = ("minigpt-checkpoint-v1",)  # written before checksums: still loaded, without that check
WEIGHTS_FORMAT = "minigpt-weights-v1"  # a finished model: config + weights (+ checksum), nothing to resume
LESSON_04_PATH = RUNS_DIR / "04_pretrain" / "model.pt"
PRETRAIN_COMMAND = "python -m lessons.04_pretrain"
# The course base: pretrained long (data/course_base.py), shipped in the repository, loaded by lessons 05-11.
COURSE_BASE_DIR = SHIPPED_COURSE_BASE_DIR
COURSE_BASE_PATH = COURSE_BASE_DIR / "model.pt"
COURSE_BASE_COMMAND = "python -m data.course_base"
PRETRAINED_PATH = COURSE_BASE_PATH


class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used: damaged, from another format, or made for another model."""


# ----------------------------------------------------------------------------------------------
# Writing and reading files


def save_checkpoint(path, state: dict) -> None:
    """torch.save(state) to `path` atomically: either the whole new file is there, or the old one is."""
    with atomic_write(path, "wb") as f:
        torch.save(state, f)


def read_file(path, what: str = "checkpoint", remedy: str = "Delete it and run the training again (without --resume).",
              map_location="cpu"):
    """torch.load(path, weights_only=True) with clear errors: a file holding Python objects is refused for safety
    (never loaded, whatever it is), and an unreadable file is called damaged, with `remedy`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {what} at {path}.")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "unsupported global" in str(e).lower():  # a class or function: the file holds Python objects
            raise CheckpointError(
                f"{path} was refused for safety: it contains Python objects, which are never loaded (loading them "
                f"could run code). Use a file written by this course (minigpt.train, save_weights, save_prefix).") from None
        raise CheckpointError(f"could not read {what} {path}: the file is damaged or incomplete. {remedy}") from None
    except Exception as e:  # truncated zip, random bytes, ...
        raise CheckpointError(
            f"could not read {what} {path}: the file is damaged or incomplete "
            f"({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}). {remedy}") from None


def checkpoint_tensors(state: dict) -> dict:
    """{name: tensor} of everything a training checkpoint's checksum covers: the weights and AdamW's state."""
    tensors = {f"model.{n}": t for n, t in state["model"].items()}
    for pid, slots in state.get("optimizer", {}).get("state", {}).items():
        for key, t in slots.items():
            if torch.is_tensor(t):
                tensors[f"optimizer.{pid}.{key}"] = t
    return tensors


def load_checkpoint(path, map_location="cpu") -> dict:
    """Read a checkpoint written by save_checkpoint, with clear errors for missing, damaged or changed files."""
    return check_checkpoint(path, read_file(path, map_location=map_location))


def check_checkpoint(path, ckpt) -> dict:
    """The contents of a file, refused unless they are a whole training checkpoint (format, checksum)."""
    if not isinstance(ckpt, dict) or ckpt.get("format") not in (FORMAT, *LEGACY_FORMATS):
        raise CheckpointError(
            f"{path} is not a minigpt training checkpoint (expected format {FORMAT!r}). "
            f"Point to a file written by minigpt.train, or delete it and train again."
        )
    if ckpt["format"] == FORMAT:
        verify_checksum(path, checkpoint_tensors(ckpt), ckpt.get("checksum"), "checkpoint")
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


def tensor_checksum(tensors: dict) -> str:
    """sha256 over every tensor's name, dtype, shape and bytes, in name order: a flipped byte changes it."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def verify_checksum(path, tensors: dict, recorded, what: str = "file") -> None:
    """Refuse tensors whose checksum differs from the one recorded when the file was written."""
    if recorded is None:
        raise CheckpointError(f"{path} records no checksum of its tensors, so it cannot prove it is whole; "
                              f"make the {what} again with this version of the course.")
    if tensor_checksum(tensors) != recorded:
        raise CheckpointError(
            f"{path}: the tensors do not match the checksum recorded when the {what} was written, so the file was "
            f"changed or damaged after it was saved. Do not use it: restore it (for a file of the repository: "
            f"`git checkout -- {path}`) or make it again.")


def save_weights(path, config: GPTConfig, weights: dict, meta: dict | None = None) -> None:
    """A finished model, weights only ({name: tensor}, any float dtype), with its config and a checksum."""
    weights = {name: t.detach().to("cpu").contiguous() for name, t in weights.items()}
    save_checkpoint(path, {"format": WEIGHTS_FORMAT, "model_config": config.to_dict(), "model": weights,
                           "checksum": tensor_checksum(weights), "meta": meta or {}})


def course_base_provenance(path=COURSE_BASE_PATH) -> dict | None:
    """The provenance.json beside a course base file (how it was made, its losses and copy checks), or None."""
    import json

    file = Path(path).parent / "provenance.json"
    return json.loads(file.read_text()) if file.is_file() else None


def describe_base(path=None) -> str:
    """One line for the lessons: which base this is and how it was made."""
    path = Path(path or COURSE_BASE_PATH)
    provenance = course_base_provenance(path) if path.resolve() == COURSE_BASE_PATH.resolve() else None
    if provenance:
        shown = os.path.relpath(path) if path.is_absolute() and Path.cwd() in path.parents else path
        stages = ", then ".join(f"{st['tokens_seen'] / 1e6:.0f}M tokens of {st['data']}" for st in provenance["stages"])
        return (f"the course base ({shown}): the tiny preset pretrained on {provenance['tokens_seen'] / 1e6:.0f}M tokens "
                f"in {len(provenance['stages'])} stages ({stages}), shipped with the course; made by "
                f"`{provenance['command']}`")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        tokens = ckpt["history"]["tokens"][-1]
        return f"your own model ({path}): pretrained on {tokens / 1e6:.1f}M tokens by `{PRETRAIN_COMMAND}` or a run like it"
    except Exception:
        return f"the model in {path}"


def _missing_model_message(path: Path) -> str:
    if path.resolve() == COURSE_BASE_PATH.resolve():
        return (f"the course base {path} is missing; it is part of the repository: restore it with "
                f"`git checkout -- {path}`, or make it again with `{COURSE_BASE_COMMAND}` (4-5 hours on 2 CPU cores).")
    return (f"no pretrained model at {path}. Make it first: `{PRETRAIN_COMMAND}` (under 10 minutes on a 2-core CPU, "
            f"writes {LESSON_04_PATH}), or leave --ckpt out to use the course base.")


def load_model(path=PRETRAINED_PATH, device="cpu", attention=None) -> GPT:
    """A whole pretrained GPT in eval mode on `device`: the course base (the default), lesson 04's model, or any file
    written by minigpt.train or save_weights. 16-bit weights are loaded into fp32.

    path None: the course base. attention: "explicit" or "sdpa" runs the same weights with that attention kernel;
    None keeps the saved one.
    """
    path = Path(path or COURSE_BASE_PATH)
    if not path.is_file():
        raise FileNotFoundError(_missing_model_message(path))
    ckpt = read_file(path, "model", remedy=f"Restore it (`git checkout -- {path}`) or make it again.")
    if isinstance(ckpt, dict) and ckpt.get("format") == WEIGHTS_FORMAT:
        verify_checksum(path, ckpt["model"], ckpt.get("checksum"), "model")
    else:
        ckpt = check_checkpoint(path, ckpt)
    if ckpt.get("model_config") is None:
        raise CheckpointError(f"{path} has no model config, so it is not a whole GPT; pass a pretraining checkpoint "
                              f"(`{PRETRAIN_COMMAND}` writes {LESSON_04_PATH}).")
    model = GPT(GPTConfig.from_dict(ckpt["model_config"]).override(attention=attention))
    params = dict(model.named_parameters())
    if set(ckpt["model"]) != set(params):
        raise CheckpointError(
            f"{path} holds {len(ckpt['model'])} trained tensors, not the {len(params)} of a whole GPT "
            f"(was only a prefix trained?). Load it onto its base model instead, or pass a pretraining checkpoint."
        )
    load_trainable_state(model, {n: t.float() for n, t in ckpt["model"].items()}, path)
    return model.to(device).eval()
