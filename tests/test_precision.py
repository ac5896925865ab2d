"""--dtype auto: one disturbed round of the race between fp32 and bf16 must not flip the choice, or the same seed
trains a different model on the same machine (the course base's stage 6 got fp32 from a disturbed race on a machine
where bf16 is faster)."""
import pytest

from minigpt.precision import BF16_MARGIN, faster_dtype, pick_dtype


def test_one_disturbed_round_cannot_flip_the_choice():
    # bf16 at 0.6x of fp32, but its first round slowed 11x by something else on the machine: neither the first round
    # alone nor the mean of the rounds would pick bf16
    assert faster_dtype([1.0, 1.0, 1.0], [6.6, 0.6, 0.6]) == ("bf16", pytest.approx(0.6))
    # emulated bf16 (5x slower): a first fp32 round slowed 20x makes bf16 look fast by the first round or the mean
    assert faster_dtype([20.0, 1.0, 1.0], [5.0, 5.0, 5.0]) == ("fp32", pytest.approx(5.0))


def test_bf16_only_where_it_is_clearly_faster():
    assert faster_dtype([1.0], [0.99])[0] == "fp32"  # a near tie: fp32, the exact one
    assert faster_dtype([1.0], [BF16_MARGIN + 0.01])[0] == "fp32"
    assert faster_dtype([1.0], [BF16_MARGIN - 0.01])[0] == "bf16"


def test_pick_dtype_on_this_cpu_says_what_it_chose_and_why(capsys):
    choice = pick_dtype("cpu", rounds=2)
    printed = capsys.readouterr().out
    assert choice in ("fp32", "bf16") and printed.startswith(f"dtype: {choice} (")
    assert "the best of 2 rounds each" in printed
