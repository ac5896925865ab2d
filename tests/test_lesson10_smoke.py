"""Lesson 10 end to end in its --quick form, on a --quick lesson 4 model: it trains the QA and dialogue prefixes,
serves them (lesson 7's and 9's prefixes are missing here: it must say so and go on), and draws its plots."""
import json

import pytest

from .conftest import assert_pngs, run_lesson

pytestmark = pytest.mark.lessons


def test_lesson10_quick(pretrained_ckpt, tmp_path):
    out = tmp_path / "out"
    stdout = run_lesson("lessons.10_serve_many", "--quick", "--ckpt", pretrained_ckpt, "--out", out,
                        "--e2e-prefix", tmp_path / "missing.prefix.pt", "--lesson09-prefixes", tmp_path / "none",
                        timeout=900)
    assert_pngs(out, ["qa.png", "serving.png"])
    for task in ("table-qa", "dialogue"):
        assert (out / "prefixes" / f"{task}.prefix.pt").is_file()
    results = json.loads((out / "results.json").read_text())
    assert results["served"] == ["table-qa", "dialogue"]
    assert set(results["left_out"]) == {"e2e", "sentiment", "positive-review", "negative-review"}
    assert results["serving"]["max_abs_diff"] < 1e-4
    assert "| prefix |" in stdout and "task after task / mixed" in stdout and "left out e2e" in stdout
