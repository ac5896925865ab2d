"""Shared test settings and fixtures."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# The tests use tiny tensors: one thread is faster for them than two, and it keeps timings sane when the
# machine is busy (OpenMP threads waiting on a loaded core can make a 1 ms op take 100 ms).
torch.set_num_threads(1)
LESSON_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def pytest_configure(config):
    config.addinivalue_line("markers", "lessons: runs a lesson end to end in a subprocess (slow); "
                                       "`pytest -m 'not lessons'` is the quick inner loop")


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
    """Lesson 4's --quick model, made once per test session, for the lessons that start from it."""
    out = tmp_path_factory.mktemp("lesson04")
    stdout = run_lesson("lessons.04_pretrain", "--quick", "--out", out)
    (out / "stdout.txt").write_text(stdout)  # for tests/test_lesson04_smoke.py
    ckpt = out / "model.pt"
    assert ckpt.is_file(), f"lesson 4 ran but wrote no {ckpt}"
    return ckpt
