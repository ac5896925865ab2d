"""Lesson 4 end to end in its --quick form: it runs, draws its plot and writes a checkpoint load_model accepts.

The run itself is the shared `pretrained_ckpt` fixture (tests/conftest.py), which the later lessons' tests reuse.
"""
import pytest

from minigpt.checkpoint import load_checkpoint, load_model

pytestmark = pytest.mark.lessons


def test_lesson04_quick(pretrained_ckpt):
    out = pretrained_ckpt.parent
    stdout = (out / "stdout.txt").read_text()
    assert (out / "loss.png").stat().st_size > 10_000
    assert "unigram entropy" in stdout and "tokens/s" in stdout
    assert "web:" in stdout and "=>" in stdout  # the generated web mixed into the text, with an example
    # it ends beside the course base: the plot, the copy checks of both models, a sample of each
    assert (out / "vs_course_base.png").stat().st_size > 10_000
    assert "restaurant names (lesson 7's task)" in stdout and "sample, course base:" in stdout

    model = load_model(pretrained_ckpt)
    assert model.config.vocab_size == 2049 and not model.training
    ckpt = load_checkpoint(pretrained_ckpt)
    assert ckpt["step"] == ckpt["train_config"]["steps"] and ckpt["meta"]["lesson"] == "04_pretrain"
    assert ckpt["meta"]["data"] == "imdb reviews + 50% data/web.py"
    history = ckpt["history"]
    assert history["eval_val_loss"][-1] < history["eval_val_loss"][0] - 0.5  # it learned something
