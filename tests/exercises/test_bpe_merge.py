"""Exercise 3, bpe_merge.py: merge_pair against minigpt.tokenizer's, on hand-picked and random lists."""
import random

from minigpt.tokenizer import merge_pair as library_merge

CASES = [  # (ids, pair, new_id) -> expected, each one a classic mistake
    (([1, 2, 3, 1, 2], (1, 2), 9), [9, 3, 9]),  # every occurrence, not just the first
    (([5, 5, 5], (5, 5), 256), [256, 5]),       # no overlaps: the middle 5 is used once
    (([5, 5, 5, 5], (5, 5), 256), [256, 256]),
    (([1, 1, 2], (1, 2), 9), [1, 9]),           # after a non-match move by one, not two
    (([3, 1], (1, 2), 9), [3, 1]),              # a first half at the very end
    (([1, 2], (2, 1), 9), [1, 2]),              # order matters
    (([7], (7, 7), 9), [7]),
    (([], (1, 2), 9), []),
]


def test_hand_worked_cases(ex):
    for (ids, pair, new_id), want in CASES:
        got = ex.merge_pair(list(ids), pair, new_id)
        assert list(got) == want, f"merge_pair({ids}, {pair}, {new_id}) should be {want}, got {got}"


def test_returns_a_new_list_and_leaves_ids_alone(ex):
    ids = [1, 2, 1, 2]
    got = ex.merge_pair(ids, (1, 2), 9)
    assert isinstance(got, list), f"return a list, got {type(got).__name__}"
    assert ids == [1, 2, 1, 2], "merge_pair changed its input list; build a new one instead"


def test_matches_library_on_random_lists(ex):
    rng = random.Random(0)
    for _ in range(300):
        ids = [rng.randrange(3) for _ in range(rng.randrange(12))]  # 3 symbols: many repeats and overlaps
        pair = (rng.randrange(3), rng.randrange(3))
        got, want = ex.merge_pair(list(ids), pair, 99), library_merge(ids, pair, 99)
        assert list(got) == want, f"merge_pair({ids}, {pair}, 99) should be {want}, got {got}"
