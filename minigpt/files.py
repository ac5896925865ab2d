"""Writing files so that nothing is lost: a file appears whole under its name, or the old one stays.

    with atomic_write(path, "wb") as f:    # f is a temporary file beside `path`
        torch.save(state, f)
    # here `path` holds the new bytes; had the block raised (or Ctrl-C), `path` would be untouched

How: write to a temporary file in the same folder, flush it to disk, then os.replace() it onto the name.
os.replace is atomic within one file system (hence the same folder), so a reader sees the old file or the new
one, never half of either, and a failure removes the temporary file.
"""
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

# The one place minigpt points into the repository's data/ folder: the two files the course ships for it to load by
# default. Every function that reads them takes a path, so the library also works on files kept elsewhere.
REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED_TOKENIZER = REPO_ROOT / "data" / "tokenizer" / "reviews_bpe_2048.tiktoken"  # made by data/train_tokenizer.py
SHIPPED_COURSE_BASE_DIR = REPO_ROOT / "data" / "course_base"  # made by data/course_base.py


@contextmanager
def atomic_write(path, mode="w", encoding=None):
    """Open a temporary file beside `path` for writing; on leaving the block it replaces `path` (mode "w" or "wb").

    Text mode ("w") writes UTF-8 with "\\n" line ends on every system unless `encoding` says otherwise.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode={mode!r}: atomic_write writes a whole new file, use 'w' (text) or 'wb' (bytes).")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    text = {"encoding": encoding or "utf-8", "newline": "\n"} if mode == "w" else {}
    try:
        with os.fdopen(fd, mode, **text) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())  # the bytes are on disk before the name points at them
        os.chmod(tmp, 0o644)  # mkstemp makes private (0600) files; these are ordinary ones
        os.replace(tmp, path)
    except BaseException:  # also Ctrl-C: never leave a stray temporary file behind
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_text_atomic(path, text: str) -> Path:
    """path.write_text(text), atomically (UTF-8, "\\n" line ends)."""
    with atomic_write(path, "w") as f:
        f.write(text)
    return Path(path)
