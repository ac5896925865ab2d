"""Lessons 2, 3 and 5 run end to end in --quick mode and write their plots; the benchmark prints its table."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# One torch thread, as in conftest.py: these runs are small, and on a busy shared machine two OpenMP threads
# waiting on each other can make them many times slower.
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def run_module(module, *args, timeout=180):
    result = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO_ROOT, env=ENV,
                            capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{module} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


def assert_pngs(folder, names):
    for name in names:
        png = folder / name
        assert png.is_file(), f"{png} was not written"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{png} is not a PNG"


@pytest.fixture(scope="session")
def pretrained_ckpt(tmp_path_factory):
    """Lesson 4's --quick model, made once for the session."""
    if not (REPO_ROOT / "lessons" / "04_pretrain.py").is_file():
        pytest.skip("lessons/04_pretrain.py does not exist yet: lesson 5 needs the model it pretrains")
    out = tmp_path_factory.mktemp("lesson04")
    run_module("lessons.04_pretrain", "--quick", "--out", str(out), timeout=300)
    ckpt = out / "model.pt"
    assert ckpt.is_file(), f"lesson 4 ran but wrote no {ckpt}"
    return ckpt


def test_lesson02_quick(tmp_path):
    stdout = run_module("lessons.02_attention", "--quick", "--out", str(tmp_path))
    assert_pngs(tmp_path, ["attention_weights.png", "slot_effects.png"])
    assert "by hand vs minigpt" in stdout


def test_lesson03_quick(tmp_path):
    stdout = run_module("lessons.03_model", "--quick", "--out", str(tmp_path))
    assert_pngs(tmp_path, ["param_counts.png", "init_logits.png"])
    assert "loss at init" in stdout


def test_lesson05_quick(tmp_path, pretrained_ckpt):
    stdout = run_module("lessons.05_generate", "--quick", "--out", str(tmp_path), "--ckpt", str(pretrained_ckpt))
    assert_pngs(tmp_path, ["temperature.png", "kv_cache_timing.png"])
    assert "cached == recomputed: True" in stdout


def test_lesson05_missing_checkpoint_says_how_to_make_it(tmp_path):
    result = subprocess.run([sys.executable, "-m", "lessons.05_generate", "--quick", "--out", str(tmp_path),
                             "--ckpt", str(tmp_path / "nothing.pt")],
                            cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "python -m lessons.04_pretrain" in result.stderr


def test_bench_prints_table():
    # The smallest run: one timed step per row, a short generation. Figures are meaningless, the table is not.
    stdout = run_module("minigpt.bench", "--quick", "--steps", "1", "--warmup", "0", "--gen-tokens", "8", "--threads", "1")
    assert "| model | batch x block | attention | dtype | tokens/s |" in stdout
    assert "| setup | new tokens | cached tokens/s |" in stdout
    assert "| tiny " in stdout
    for row in ("4x128, V=2049", "4x128, V=96"):
        assert f"| {row} |" in stdout
