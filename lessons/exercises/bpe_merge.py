"""Exercise 3 (lesson 01): one BPE merge step.

Fill in the body, then check it:  python -m pytest tests/exercises --exercises lessons/exercises/bpe_merge.py
"""


def merge_pair(ids, pair, new_id):
    """Replace every occurrence of `pair` (two adjacent ids) in `ids` by `new_id`; returns a new list.

    Scan left to right; occurrences never overlap:
        merge_pair([1, 2, 3, 1, 2], (1, 2), 9) -> [9, 3, 9]
        merge_pair([5, 5, 5], (5, 5), 256)     -> [256, 5]
    `ids` itself is not changed.
    """
    raise NotImplementedError(
        "merge_pair: lesson 01, step 3 ('one merge, by hand') shows what one merge does. Key step: build "
        "a new list while walking `ids` with an index you move yourself, so that after a match you can "
        "jump past both of its tokens; that is what keeps [5, 5, 5] from becoming [256, 256]. Watch the "
        "last position.")
