"""The course base shipped in data/course_base/: it loads, it is the model its provenance describes, and it copies.

CI never pretrains it (that takes 4-5 hours: python -m data.course_base); these checks take a few seconds."""
import json

import pytest
import torch

from data.course_base import STAGES, copy_checks, val_losses
from minigpt.checkpoint import (COURSE_BASE_PATH, CheckpointError, course_base_provenance, describe_base, load_model)
from minigpt.tokenizer import encoding_fingerprint, load_tokenizer
from prefix.io import fingerprint

PROVENANCE = course_base_provenance()


@pytest.fixture(scope="module")
def base():
    return load_model(COURSE_BASE_PATH)  # verifies the checksum of its tensors


def test_it_is_small_16_bit_and_has_its_provenance():
    assert COURSE_BASE_PATH.stat().st_size < 8 * 2**20
    blob = torch.load(COURSE_BASE_PATH, weights_only=True)
    assert blob["format"] == "minigpt-weights-v1" and {t.dtype for t in blob["model"].values()} == {torch.bfloat16}
    for key in ("command", "commit", "config", "tokenizer_fingerprint", "tokens_seen", "steps", "final_train_loss",
                "final_val_loss", "copy_checks", "curve", "fingerprint", "val_slice_losses"):
        assert key in PROVENANCE, key
    assert PROVENANCE["tokens_seen"] >= 1e7 and PROVENANCE["command"].startswith("python -m data.course_base")
    assert "course base" in describe_base() and PROVENANCE["command"] in describe_base()


def test_it_loads_and_matches_its_recorded_fingerprint(base):
    assert base.config.to_dict() == PROVENANCE["config"]
    assert fingerprint(base) == PROVENANCE["fingerprint"]
    assert encoding_fingerprint(load_tokenizer()) == PROVENANCE["tokenizer_fingerprint"]


def test_its_loss_on_the_fixed_validation_slice_matches_its_provenance(base):
    losses = val_losses(base, load_tokenizer())
    for split, recorded in PROVENANCE["val_slice_losses"].items():
        assert losses[split] == pytest.approx(recorded, abs=2e-3), split


def test_it_copies_restaurant_names_zero_shot_at_about_the_recorded_rate(base):
    checks = copy_checks(base, load_tokenizer(), n=60)
    recorded = PROVENANCE["copy_checks"]
    for key in ("web_records", "restaurants_known_names", "restaurants_new_names"):
        assert abs(checks[key] - recorded[key]) <= 0.07, (key, checks[key], recorded[key])
    # The recorded rate on these 60 inputs is in the provenance (issue 11's target: >= 0.8); one greedy choice that
    # another CPU rounds the other way moves it by 1/60, so the floor here is a little lower than the target.
    assert checks["restaurants_known_names"] >= 0.75
    assert checks["repeat_second"] < checks["repeat_first"] - 0.5  # some general copying: the 2nd copy is easier


def test_a_damaged_course_base_gives_a_clear_error(tmp_path):
    copy = tmp_path / "model.pt"
    blob = torch.load(COURSE_BASE_PATH, weights_only=True)
    blob["model"]["wte.weight"][0, 0] += 1  # one changed number
    torch.save(blob, copy)
    with pytest.raises(CheckpointError, match="do not match the checksum"):
        load_model(copy)
    (tmp_path / "provenance.json").write_text(json.dumps(PROVENANCE))
    copy.write_bytes(COURSE_BASE_PATH.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="damaged or incomplete"):
        load_model(copy)


def _one_step_checkpoint(path):
    """A real training checkpoint that has run 1 step (a nano model: only its step count matters here)."""
    import numpy as np
    from minigpt import GPT, preset
    from minigpt.batching import make_batch_fn
    from minigpt.train import TrainConfig, train
    model = GPT(preset("nano", vocab_size=64))
    tokens = np.arange(500) % 64
    get_batch = make_batch_fn({"train": tokens, "val": tokens}, model.config.block_size, 2, rank=0, world_size=1)
    cfg = TrainConfig(steps=1, batch_size=2, warmup_steps=0, eval_every=1, eval_batches=1)
    train(model, get_batch, cfg, ckpt_path=path, progress=False)


def test_an_unfinished_stage_is_continued_only_when_asked(tmp_path, capsys):
    """Running the command again over a stopped stage must not start it over (nor silently continue it)."""
    from data.course_base import main
    _one_step_checkpoint(tmp_path / "model.pt")
    with pytest.raises(SystemExit) as stop:  # 4,096 tokens = 2 steps of 8 x 256: the checkpoint has run 1
        main(["--tokens", *["4096"] * len(STAGES), "--run-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    assert "holds an unfinished run (step 1/2)" in str(stop.value) and "--resume" in str(stop.value)
    with pytest.raises(SystemExit) as stop:  # it ran more steps than asked: another recipe, refused
        main(["--tokens", "100", *["4096"] * (len(STAGES) - 1), "--run-dir", str(tmp_path),
              "--out", str(tmp_path / "out")])
    assert "ran 1 steps, more than the 0 asked for" in str(stop.value)


def test_a_stage_added_to_shipped_weights_must_follow_the_stages_they_list(tmp_path, capsys):
    """--from-weights trains only the stages after the ones its provenance lists, and refuses weights made with other
    stages: their provenance would describe a model that was never made."""
    from data.course_base import main
    weights = tmp_path / "base" / "model.pt"
    weights.parent.mkdir()
    weights.write_bytes(COURSE_BASE_PATH.read_bytes())
    listed = dict(PROVENANCE, stages=PROVENANCE["stages"][:1])  # a base of one stage: stage 1 took 2 steps here
    listed["stages"] = [dict(listed["stages"][0], steps=2)]
    (weights.parent / "provenance.json").write_text(json.dumps(listed))
    args = ["--run-dir", str(tmp_path / "run"), "--out", str(tmp_path / "out"), "--from-weights", str(weights)]
    with pytest.raises(SystemExit):
        main(["--tokens", "8192", *["4096"] * (len(STAGES) - 1)] + args)  # 8,192 tokens = 4 steps, not 2
    assert "was made with [2] steps per stage, not [4]" in capsys.readouterr().err
    listed["stages"] = [dict(listed["stages"][0], steps=2)] * len(STAGES)
    (weights.parent / "provenance.json").write_text(json.dumps(listed))
    with pytest.raises(SystemExit):
        main(["--tokens", *["4096"] * len(STAGES)] + args)
    assert f"already holds all {len(STAGES)} stages" in capsys.readouterr().err
    assert not (tmp_path / "run").exists() and not (tmp_path / "out").exists()  # nothing was trained or written


def test_a_prefix_from_a_real_example_starts_as_that_examples_kv_cache(base):
    """The paper's real-token init, as lessons 7-11 use it: after the MLP's fit, a prefix in front of the frozen base
    gives the logits that the example's own last P tokens, put before the input, give (the init is not approximate)."""
    from data.e2e import load_e2e
    from prefix import PrefixedGPT
    from prefix.methods import build_tuned, init_token_ids

    enc, row = load_tokenizer(), load_e2e("train")[0]
    torch.manual_seed(0)
    model = build_tuned(base, "prefix", prefix_len=10, positions="after_prefix",
                        init_ids=init_token_ids(enc, "example", (row["source"], row["target"])))
    assert isinstance(model, PrefixedGPT)
    text = torch.tensor(init_token_ids(enc, "example", (row["source"], row["target"]))[-10:])
    x = torch.tensor([enc.encode_ordinary(load_e2e("val")[0]["source"])])
    with torch.no_grad():
        via_prefix = model(x).logits.log_softmax(-1)
        via_input = base(torch.cat([text[None], x], dim=1)).logits[:, 10:].log_softmax(-1)
    assert (via_prefix - via_input).abs().max() < 0.05
