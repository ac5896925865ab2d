"""Lesson 4 end to end in its --quick form: it runs, draws its plot and writes a checkpoint load_model accepts.

The run itself is the shared `pretrained_ckpt` fixture (tests/conftest.py), which the later lessons' tests reuse.
"""
from minigpt.checkpoint import load_checkpoint, load_model


def test_lesson04_quick(pretrained_ckpt):
    out = pretrained_ckpt.parent
    stdout = (out / "stdout.txt").read_text()
    assert (out / "loss.png").stat().st_size > 10_000
    assert "unigram entropy" in stdout and "tokens/s" in stdout
    assert "records:" in stdout and "=>" in stdout  # the records mixed into the text, with an example

    model = load_model(pretrained_ckpt)
    assert model.config.vocab_size == 2049 and not model.training
    ckpt = load_checkpoint(pretrained_ckpt)
    assert ckpt["step"] == ckpt["train_config"]["steps"] and ckpt["meta"]["lesson"] == "04_pretrain"
    assert ckpt["meta"]["data"] == "imdb reviews + 25% records"
    history = ckpt["history"]
    assert history["eval_val_loss"][-1] < history["eval_val_loss"][0] - 0.5  # it learned something
