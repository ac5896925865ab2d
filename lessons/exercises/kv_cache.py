"""Exercise 5 (lesson 05): one step of cached decoding.

Fill in the body, then check it:  python -m pytest tests/exercises --exercises lessons/exercises/kv_cache.py
"""


def cached_step(model, cache, n_cached, new_ids):
    """Run only the new tokens through `model` (a minigpt GPT), reusing the keys/values already computed.

    model:    a minigpt GPT
    cache:    None, or per layer (k, v), each (B, H, P + n_cached, D): keys/values of everything before new_ids
              (P extra slots such as a learned prefix, then the n_cached real tokens)
    n_cached: how many REAL tokens the cache holds (prefix slots do not count: they have no position)
    new_ids:  (B, T_new) token ids that follow the cached tokens
    Returns (logits, new_cache): logits (B, T_new, V) for the new tokens, and the cache extended by them,
    per layer (k, v) each (B, H, P + n_cached + T_new, D). The result must equal running the whole text at once.
    """
    raise NotImplementedError(
        "cached_step: lesson 05 ('The KV cache: extra key/value slots, again') and the docstring of "
        "GPT.forward in minigpt/model.py. Key steps: the cache goes in where extra key/value slots go, "
        "the new tokens must get the positions they would have in the full text, and the forward pass "
        "already returns the keys/values to keep.")
