"""Exercise 3 (lesson 01): one BPE merge step.

Reference solution. Students get lessons/exercises/bpe_merge.py, the same file with a hint instead of the body.
"""


def merge_pair(ids, pair, new_id):
    """Replace every occurrence of `pair` (two adjacent ids) in `ids` by `new_id`; returns a new list.

    Scan left to right; occurrences never overlap:
        merge_pair([1, 2, 3, 1, 2], (1, 2), 9) -> [9, 3, 9]
        merge_pair([5, 5, 5], (5, 5), 256)     -> [256, 5]
    `ids` itself is not changed.
    """
    merged = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == tuple(pair):
            merged.append(new_id)
            i += 2  # both halves are used up: this is what makes matches non-overlapping
        else:
            merged.append(ids[i])
            i += 1
    return merged
