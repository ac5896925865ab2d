"""Exercise 4 (lesson 05): top-k filtering, and sampling the next token with it.

Reference solution. Students get lessons/exercises/top_k.py, the same file with a hint instead of the body.
"""
import torch


def top_k_filter(logits, k):
    """(B, V) logits -> (B, V) copy where, in each row, every value below the row's k-th largest is -inf.

    Values equal to the k-th largest are kept, so ties can leave more than k tokens:
        top_k_filter([[1., 3., 2., 0.]], 2) -> [[-inf, 3., 2., -inf]]
        top_k_filter([[3., 1., 3., 3.]], 2) -> [[3., -inf, 3., 3.]]
    k >= V keeps everything. The input is not changed.
    """
    k = min(k, logits.size(-1))
    kth = torch.topk(logits, k, dim=-1).values[:, -1:]  # (B, 1): the k-th largest of each row
    return logits.masked_fill(logits < kth, float("-inf"))  # softmax turns -inf into probability 0


def sample_next(logits, temperature=1.0, top_k=None, generator=None):
    """(B, V) logits of the last position -> (B, 1) long tensor of next token ids.

    temperature 0: the most likely token (greedy). Otherwise divide the logits by temperature
    (< 1 sharpens, > 1 flattens), keep the top_k best (None: all), and draw one token per row
    from the softmax, using `generator` for reproducible draws.
    """
    if temperature == 0:
        return logits.argmax(dim=-1, keepdim=True)
    logits = logits / temperature
    if top_k is not None:
        logits = top_k_filter(logits, top_k)
    probs = torch.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1, generator=generator)
