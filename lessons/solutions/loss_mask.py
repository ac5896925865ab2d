"""Exercise 7 (lesson 07): one prefix-tuning training example, scored on the target only.

Reference solution. Students get lessons/exercises/loss_mask.py, the same file with a hint instead of the body.
"""


def encode_pair_ids(src_ids, tgt_ids, eot_id):
    """Token ids of a source (>= 1 token) and its target -> (x, y), two lists of equal length.

    The example is src + tgt + [eot]. x is what the model reads, y[t] is the token it must predict after
    x[0..t], and -100 (no loss) wherever that next token is still part of the source:
        encode_pair_ids([10, 11, 12], [20, 21], 99) -> x = [10, 11, 12, 20, 21]
                                                       y = [-100, -100, 20, 21, 99]
    """
    ids = list(src_ids) + list(tgt_ids) + [eot_id]
    x, y = ids[:-1], ids[1:]
    n_masked = len(src_ids) - 1  # y[t] is ids[t+1]: source tokens 1..len(src)-1 are predicted at t < len(src)-1
    return x, [-100] * n_masked + y[n_masked:]
