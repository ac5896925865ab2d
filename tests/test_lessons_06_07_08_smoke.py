"""Lessons 6, 7 and 8 run end to end in --quick mode and write what they promise: 6 and 8 on lesson 4's quick model
(--ckpt), 7 on its default, the course base."""
import pytest
import json
import re

import torch

from prefix import load_prefix
from minigpt.checkpoint import load_model

from .conftest import assert_pngs, run_lesson

pytestmark = pytest.mark.lessons


def test_lesson06_proves_the_base_is_untouched(tmp_path, pretrained_ckpt):
    out = run_lesson("lessons.06_freeze", "--quick", "--ckpt", pretrained_ckpt, "--out", tmp_path)
    assert_pngs(tmp_path, ["parameters.png"])
    assert "identical" in out and "0 base tensors have a gradient" in out


def test_lesson07_compares_three_methods(tmp_path):
    stdout = run_lesson("lessons.07_prefix_tune", "--quick", "--out", tmp_path)
    assert "base: the course base" in stdout
    assert_pngs(tmp_path, ["losses.png", "loss_by_word.png"])
    written = json.loads((tmp_path / "results.json").read_text())
    results = written["results"]
    assert set(results) == {"prefix", "prompt", "finetune"}
    # the word-by-word losses: every group has tokens, the same tokens for every model, and the shares add up
    groups = [written["untrained_base"]["loss_by_word_group"]] + [r["loss_by_word_group"] for r in results.values()]
    assert all(set(g) == {"held out", "copied", "sentence"} for g in groups)
    assert all(g[k]["tokens"] == groups[0][k]["tokens"] > 0 for g in groups for k in g)
    shares = [int(x) for x in re.findall(r"held out (-?\d+)%, copied (-?\d+)%, sentence (-?\d+)%", stdout)[0]]
    assert abs(sum(shares) - 100) <= 2  # each share rounded
    # the untrained base is scored on the same test inputs and is the first column of the by-key table
    assert set(written["untrained_base"]["attribute_error_by_key"]) == set(results["prefix"]["attribute_error_by_key"])
    assert "| key | base, untrained | prefix | prompt | finetune |" in stdout
    assert "values the trained prefix states less often than the untrained base:" in stdout
    assert results["prefix"]["stored"] < results["finetune"]["stored"] / 50
    assert all(r["step_s"] > 0 for r in results.values())  # timed side by side after training
    # one saving, said the same way twice: the median of the three races' own ratios
    races = results["prefix"]["step_saving_pct_runs"]
    assert len(races) == 3 and results["prefix"]["step_saving_pct"] == sorted(races)[1]
    races_said = re.findall(r"a prefix step is (-?\d+)% faster than a fine-tuning step", stdout)
    summary_said = re.findall(r"prefix vs fine-tuning: .* step (-?\d+)% faster", stdout)
    assert races_said and races_said == summary_said == [f"{results['prefix']['step_saving_pct']:.0f}"]
    # the saved prefix loads back onto the base it was trained on; the fine-tuned model loads with load_model
    base = load_model()
    assert load_prefix(tmp_path / "e2e.prefix.pt", base).prefix_len == results["prefix"]["prefix_len"]
    assert (tmp_path / "e2e.prefix.pt").stat().st_size < 100 * 1024
    tuned = load_model(tmp_path / "e2e.finetune.pt")
    assert tuned.config.same_model_as(base.config) and not torch.equal(tuned.wte.weight, base.wte.weight)


def test_lesson08_writes_its_findings(tmp_path, pretrained_ckpt):
    stdout = run_lesson("lessons.08_findings", "--quick", "--ckpt", pretrained_ckpt, "--out", tmp_path)
    assert_pngs(tmp_path, ["findings.png"])
    results = json.loads((tmp_path / "results.json").read_text())
    assert {r["study"] for r in results["runs"]} == {"length", "embedding-only", "reparam", "init", "low-data",
                                                    "extrapolation"}
    assert [f["finding"] for f in results["findings"]][:3] == ["prefix length", "embedding-only",
                                                               "MLP reparameterization"]
    assert all(isinstance(f["agree"], bool) for f in results["findings"])
    extrapolation = [r for r in results["runs"] if r["study"] == "extrapolation"]
    assert {r["method"] for r in extrapolation} == {"prefix", "finetune"}
    assert all("unseen_names_bleu" in r and "unseen_pairs_bleu" in r for r in extrapolation)
    # the other verdicts go by the validation loss: the MLP finding agrees when the matrix's loss is the higher
    runs = {r["reparam"]: r["val_loss"] for r in results["runs"] if r["study"] == "reparam"}
    verdict = next(f["agree"] for f in results["findings"] if f["finding"] == "MLP reparameterization")
    assert verdict == (runs["matrix"] > runs["mlp"])
    # the extrapolation verdicts are on the BLEU lost from the control, one row per held-out set
    by_method = {r["method"]: r for r in extrapolation}
    verdicts = {f["finding"]: f["agree"] for f in results["findings"] if f["finding"].startswith("extrapolation")}
    for key, finding in (("unseen_names", "extrapolation: new names"), ("unseen_pairs", "extrapolation: new food x area")):
        lost = {m: r["bleu"] - r[f"{key}_bleu"] for m, r in by_method.items()}
        assert verdicts[finding] == (lost["prefix"] < lost["finetune"])
    table = (tmp_path / "results.md").read_text()
    assert table.startswith("| finding | the paper (GPT-2 medium) | ours: val loss (test BLEU); extrapolation: BLEU "
                            "| agree? |")
    assert "| study | setting | val loss | test BLEU | attribute error |" in table
    assert "prefix length | P=10" in table and "low data | fine-tuning, n=50" in table
    assert "BLEU lost from the control" in stdout
    assert set(results["evidence"]) == {"budget", "collapsed", "noise"} and "why a verdict can disagree" in stdout
    assert all(0 <= r["bleu"] <= 100 and 0 <= r["attribute_error"] <= 1 and r["val_loss"] > 0 for r in results["runs"])


def test_the_recipe_sweep_runs_and_chooses_by_validation_loss(tmp_path):
    """lessons/sweep_prefix_recipe.py (the README's recipe table): each run is recorded with its validation loss,
    and the prefix it names best is the one with the lowest."""
    stdout = run_lesson("lessons.sweep_prefix_recipe", "--quick", "--steps", "2", "--n-score", "2", "--out", tmp_path)
    runs = json.loads((tmp_path / "sweep.json").read_text())
    assert [r["method"] for r in runs] == ["prefix", "finetune"] and all(r["val_loss"] > 0 for r in runs)
    assert (tmp_path / "sweep.md").read_text().count("\n") == 2 + len(runs)  # header, rule, a row per run
    best = min((r for r in runs if r["method"] == "prefix"), key=lambda r: r["val_loss"])
    assert f"best prefix: {best}" in stdout
