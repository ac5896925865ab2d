"""Lesson 9 end to end in its --quick form, on a --quick lesson 4 model: it runs, draws its plots, saves its
prefixes and prints its tables."""
import pytest

from .conftest import assert_pngs, run_lesson

pytestmark = pytest.mark.lessons


def test_lesson09_quick(pretrained_ckpt, tmp_path):
    stdout = run_lesson("lessons.09_sentiment_steering", "--quick", "--ckpt", pretrained_ckpt, "--out", tmp_path,
                        timeout=900)
    assert_pngs(tmp_path, ["sentiment.png", "steering.png"])
    for task in ("sentiment", "positive-review", "negative-review"):
        assert (tmp_path / "prefixes" / f"{task}.prefix.pt").is_file()
    assert "| majority |" in stdout and "confusion of prefix" in stdout
    assert "| positive prefix |" in stdout and "base perplexity" in stdout
    assert "accuracy on the 1,000 held-out reviews" in stdout
