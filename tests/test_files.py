"""One atomic writer (minigpt.files) for every file the course writes: a failure mid-write loses nothing."""
import os
import stat

import numpy as np
import pytest
import torch

from minigpt import files
from minigpt.checkpoint import save_checkpoint
from minigpt.files import atomic_write, write_text_atomic
from minigpt.tokenizer import load_ranks, save_ranks


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_a_failure_mid_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("old\n")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_write(path, "w") as f:
            f.write("half of the new")
            raise RuntimeError("disk on fire")
    assert path.read_text() == "old\n"
    assert leftovers(tmp_path) == []


def test_a_finished_write_replaces_the_file_as_an_ordinary_readable_one(tmp_path):
    path = tmp_path / "sub" / "notes.txt"  # the folder is made
    write_text_atomic(path, "new\nlines\n")
    assert path.read_bytes() == b"new\nlines\n"  # "\n" on every system
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert leftovers(path.parent) == []
    with pytest.raises(ValueError, match="'w' \\(text\\) or 'wb'"):
        with atomic_write(path, "a"):
            pass


def test_a_checkpoint_that_fails_to_pickle_keeps_the_old_checkpoint(tmp_path):
    path = tmp_path / "model.pt"
    save_checkpoint(path, {"w": torch.ones(3)})
    before = path.read_bytes()
    with pytest.raises(Exception):
        save_checkpoint(path, {"w": torch.zeros(3), "oops": lambda: None})  # a lambda cannot be pickled
    assert path.read_bytes() == before
    assert leftovers(tmp_path) == []


def test_ranks_interrupted_before_the_rename_keep_the_old_ranks(tmp_path, monkeypatch):
    path = tmp_path / "ranks.tiktoken"
    old = {bytes([i]): i for i in range(256)}  # a valid byte-level vocabulary
    save_ranks(old, path)

    def ctrl_c(src, dst):  # the new file is complete, the rename never happens
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        save_ranks({**old, b"ab": 256}, path)
    monkeypatch.undo()
    assert load_ranks(path) == old
    assert leftovers(tmp_path) == []


def test_binary_mode_writes_exact_bytes(tmp_path):
    path = tmp_path / "tokens.bin"
    with atomic_write(path, "wb") as f:
        np.arange(5, dtype=np.uint16).tofile(f)
    assert np.array_equal(np.fromfile(path, dtype=np.uint16), np.arange(5))
