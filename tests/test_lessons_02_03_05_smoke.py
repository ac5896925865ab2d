"""Lessons 2, 3 and 5 run end to end in --quick mode and write their plots; the benchmark prints its table."""
import subprocess
import sys

from .conftest import REPO_ROOT, LESSON_ENV as ENV, assert_pngs, run_lesson


def run_module(module, *args, timeout=900):
    return run_lesson(module, *args, timeout=timeout)


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
