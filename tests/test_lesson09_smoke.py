"""Lesson 9 end to end in its --quick form, on a --quick lesson 4 model: it runs and draws its three plots."""
import pytest

from .conftest import run_lesson

pytestmark = pytest.mark.lessons


def test_lesson09_quick(pretrained_ckpt, tmp_path):
    # --e2e-prefix to a missing file: the lesson must train its own small table-to-text prefix and go on.
    stdout = run_lesson("lessons.09_serve_many", "--quick", "--ckpt", pretrained_ckpt, "--out", tmp_path,
                        "--e2e-prefix", tmp_path / "missing.prefix.pt", timeout=900)
    for name in ("sentiment.png", "steering.png", "serving.png"):
        assert (tmp_path / name).stat().st_size > 10_000, name
    for task in ("e2e", "sentiment", "positive-review", "negative-review"):
        assert (tmp_path / "prefixes" / f"{task}.prefix.pt").is_file()
    assert "| majority |" in stdout and "task after task / mixed" in stdout
