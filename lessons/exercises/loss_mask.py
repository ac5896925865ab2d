"""Exercise 7 (lesson 07): one prefix-tuning training example, scored on the target only.

Fill in the body, then check it:  python -m pytest tests/exercises --exercises lessons/exercises/loss_mask.py
"""


def encode_pair_ids(src_ids, tgt_ids, eot_id):
    """Token ids of a source (>= 1 token) and its target -> (x, y), two lists of equal length.

    The example is src + tgt + [eot]. x is what the model reads, y[t] is the token it must predict after
    x[0..t], and -100 (no loss) wherever that next token is still part of the source:
        encode_pair_ids([10, 11, 12], [20, 21], 99) -> x = [10, 11, 12, 20, 21]
                                                       y = [-100, -100, 20, 21, 99]
    """
    raise NotImplementedError(
        "encode_pair_ids: lesson 07 ('The data' prints one example's mask) and the module docstring of "
        "prefix/pairs.py draw the layout. Key steps: x and y are the same sequence shifted by one token; "
        "then count how many of the first y positions predict a source token (try a 1-token source by "
        "hand) and set those to -100.")
