"""Shared test settings and fixtures."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from filelock import FileLock

REPO_ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# The tests use tiny tensors: one thread is faster for them than two, and it keeps timings sane when the
# machine is busy (OpenMP threads waiting on a loaded core can make a 1 ms op take 100 ms).
torch.set_num_threads(1)
LESSON_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def pytest_configure(config):
    config.addinivalue_line("markers", "lessons: runs a lesson end to end in a subprocess (slow); "
                                       "`pytest -m 'not lessons'` is the quick inner loop")
    # Under `-n 2` (pytest-xdist) hand the tests out one at a time, so that a core that finishes early takes the next
    # test instead of waiting behind a batch the other core was given in advance. With the slow lesson runs first
    # (below) the two cores finish together: about a minute sooner than batches in file order on 2 cores.
    if getattr(config.option, "maxschedchunk", "absent") is None:  # xdist is installed and --maxschedchunk not given
        config.option.maxschedchunk = 1


def pytest_collection_modifyitems(items):
    """The lesson runs (seconds to a minute each) first, then the unit tests (most under a second) fill the gaps.
    Among the lesson runs, those that start from lesson 4's model come last: while one process makes that model
    (lesson 4's own test comes early, in file order), the other runs the lessons that need none. Otherwise the order
    stays the file order."""
    def group(item):
        if item.get_closest_marker("lessons") is None:
            return 2
        return int("pretrained_ckpt" in getattr(item, "fixturenames", ()) and "test_lesson04" not in item.nodeid)
    items.sort(key=group)


def run_lesson(module, *args, timeout=900):
    """Run `python -m module args...` from the repo root; fail with its output if it exits non-zero."""
    result = subprocess.run([sys.executable, "-m", module, *map(str, args)], cwd=REPO_ROOT, env=LESSON_ENV,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{module} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def assert_pngs(folder, names):
    for name in names:
        png = Path(folder) / name
        assert png.is_file(), f"{png} was not written"
        assert png.read_bytes()[:8] == PNG_MAGIC, f"{png} is not a PNG"


@pytest.fixture(scope="session")
def pretrained_ckpt(tmp_path_factory):
    """Lesson 4's --quick model, for the lessons that start from it: made once per test session, and under `-n 2`
    once for both processes (the second waits for the first one's and reuses it; the tests only read it)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):  # .../pytest-N/popen-gw0: its parent belongs to this session alone
        shared = shared.parent
    made = shared / "lesson04.made"  # holds the folder of a finished run
    with FileLock(str(shared / "lesson04.lock")):  # filelock comes with torch
        if not made.is_file():
            out = tmp_path_factory.mktemp("lesson04")
            stdout = run_lesson("lessons.04_pretrain", "--quick", "--out", out)
            (out / "stdout.txt").write_text(stdout)  # for tests/test_lesson04_smoke.py
            made.write_text(str(out))
    ckpt = Path(made.read_text()) / "model.pt"
    assert ckpt.is_file(), f"lesson 4 ran but wrote no {ckpt}"
    return ckpt
