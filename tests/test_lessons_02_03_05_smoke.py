"""Lessons 2, 3 and 5 run end to end in --quick mode and write their plots; lessons 5-9 stop with a clear message
without a model; the benchmark prints its table."""
import subprocess
import sys

import pytest

from .conftest import REPO_ROOT, LESSON_ENV as ENV, assert_pngs, run_lesson

pytestmark = pytest.mark.lessons


def test_lesson02_quick(tmp_path):
    stdout = run_lesson("lessons.02_attention", "--quick", "--out", str(tmp_path))
    assert_pngs(tmp_path, ["attention_weights.png", "slot_effects.png"])
    assert "by hand vs minigpt" in stdout


def test_lesson03_quick(tmp_path):
    stdout = run_lesson("lessons.03_model", "--quick", "--out", str(tmp_path))
    assert_pngs(tmp_path, ["param_counts.png", "init_logits.png"])
    assert "loss at init" in stdout


def test_lesson05_quick(tmp_path, pretrained_ckpt):
    stdout = run_lesson("lessons.05_generate", "--quick", "--out", str(tmp_path), "--ckpt", str(pretrained_ckpt))
    assert_pngs(tmp_path, ["temperature.png", "kv_cache_timing.png"])
    assert "cached == recomputed: True" in stdout


# Every lesson from 05 on loads its base through lessons.flags.load_pretrained; three of them stand for all
# (the first, the one most run, the last that trains), each a fresh process that imports torch (~3 s).
@pytest.mark.parametrize("lesson", ["05_generate", "07_prefix_tune", "10_serve_many"])
def test_missing_checkpoint_says_how_to_make_it(tmp_path, lesson):
    result = subprocess.run([sys.executable, "-m", f"lessons.{lesson}", "--quick", "--out", str(tmp_path),
                             "--ckpt", str(tmp_path / "nothing.pt")],
                            cwd=REPO_ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert "python -m lessons.04_pretrain" in result.stderr and "leave --ckpt out" in result.stderr
    assert "Traceback" not in result.stderr  # a message, not a stack trace


def test_bench_prints_table():
    # The smallest run: one timed step per row, a short generation. Figures are meaningless, the table is not.
    stdout = run_lesson("minigpt.bench", "--quick", "--steps", "1", "--warmup", "0", "--gen-tokens", "8", "--threads", "1")
    assert "| model | batch x block | attention | dtype | tokens/s |" in stdout
    assert "| setup | new tokens | cached tokens/s |" in stdout
    assert "| tiny " in stdout
    for row in ("4x128, V=2049", "4x128, V=96"):
        assert f"| {row} |" in stdout
