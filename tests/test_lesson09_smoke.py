"""Lesson 9 end to end in its --quick form, on a --quick lesson 4 model: it runs, draws its plots, saves its
prefixes, prints its tables, and what it records is within sane bounds."""
import json
import math

import pytest

from .conftest import assert_pngs, run_lesson

pytestmark = pytest.mark.lessons


def test_lesson09_quick(pretrained_ckpt, tmp_path):
    stdout = run_lesson("lessons.09_sentiment_steering", "--quick", "--ckpt", pretrained_ckpt, "--out", tmp_path,
                        timeout=900)
    assert_pngs(tmp_path, ["sentiment.png", "steering.png"])
    for task in ("sentiment", "positive-review", "negative-review"):
        assert (tmp_path / "prefixes" / f"{task}.prefix.pt").is_file()
    assert "| majority |" in stdout and "confusion of prefix" in stdout and "the linear probe on" in stdout
    assert "| positive prefix |" in stdout and "base perplexity" in stdout
    assert "accuracy on the 1,000 held-out reviews" in stdout

    results = json.loads((tmp_path / "results.json").read_text())
    sentiment = results["sentiment"]
    assert {"majority", "base, no tuning", "linear probe, frozen base", "prefix", "finetune"} <= set(sentiment)
    assert all(0 <= s["accuracy"] <= 1 and 0 <= s["predicted_positive"] <= 1 for s in sentiment.values())
    (tn, fp), (fn, tp) = sentiment["prefix"]["confusion"]
    assert sentiment["prefix"]["accuracy"] == pytest.approx((tn + tp) / (tn + fp + fn + tp))
    assert sentiment["prefix"]["predicted_positive"] == pytest.approx((fp + tp) / (tn + fp + fn + tp))
    assert 0.55 < results["judge_accuracy"] <= 1  # the judge is fitted on real labels even in --quick
    steering = results["steering"]
    assert {"no prefix (base)", "positive prefix", "negative prefix", "positive prefix, contrasted",
            "negative prefix, contrasted"} <= set(steering)
    assert "| negative prefix, contrasted |" in stdout and "on the validation openings" in stdout
    contrast = results["contrast"]  # alpha chosen on the validation openings, from the grid the lesson measured
    assert contrast["chosen_on_validation"] and str(contrast["alpha"]) in contrast["curve"]
    assert set(contrast["curve"]) == {"0", "2", "4", "8"}
    for sides in contrast["curve"].values():
        assert all(0 <= sides[side]["judged_positive"] <= 1 for side in ("positive", "negative"))
    for name, r in steering.items():
        assert 0 <= r["judged_positive"] <= 1, name
        assert 1 < r["perplexity"] < 1e5 and math.isfinite(r["perplexity"]), name
    scores = results["review_scores"]  # the pair's own measures, printed under the review prefixes' training
    assert 0 <= scores["label_accuracy"] <= 1 and 0 < scores["lm"] < 20 and 0 < scores["base_lm"] < 20
    assert "the pair tells a review's label" in stdout
    sizes = {len(texts) for texts in results["samples"].values()}
    assert len(sizes) == 1 and sizes.pop() > 0, "every condition draws the same number of samples"
