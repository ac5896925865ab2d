"""Exercise 4 (lesson 05): top-k filtering, and sampling the next token with it.

Fill in both bodies, then check them:  python -m pytest tests/exercises --exercises lessons/exercises/top_k.py
"""
import torch


def top_k_filter(logits, k):
    """(B, V) logits -> (B, V) copy where, in each row, every value below the row's k-th largest is -inf.

    Values equal to the k-th largest are kept, so ties can leave more than k tokens:
        top_k_filter([[1., 3., 2., 0.]], 2) -> [[-inf, 3., 2., -inf]]
        top_k_filter([[3., 1., 3., 3.]], 2) -> [[3., -inf, 3., 3.]]
    k >= V keeps everything. The input is not changed.
    """
    raise NotImplementedError(
        "top_k_filter: lesson 05 ('What temperature and top-k do to one distribution') shows why. Key "
        "step: find each row's k-th largest value (torch.topk or a sort, keeping a (B, 1) shape so it "
        "broadcasts), then replace whatever is smaller with -inf without touching the input tensor.")


def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    """(B, V) logits of the last position -> (B, 1) long tensor of next token ids.

    temperature 0: the most likely token (greedy). Otherwise divide the logits by temperature
    (< 1 sharpens, > 1 flattens), keep the top_k best (None: all), and draw one token per row
    from the softmax, using `generator` for reproducible draws.
    """
    raise NotImplementedError(
        "sample_next: lesson 05 ('What temperature and top-k do to one distribution'). Key steps, in "
        "order: greedy special case, temperature, your top_k_filter, softmax into probabilities, then one"
        " draw per row (look at torch.multinomial and its generator argument).")
